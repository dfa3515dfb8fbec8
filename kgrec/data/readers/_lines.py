"""Shared helpers for line-based text formats (tab / whitespace separated), with precise errors.

Every reader of a text format goes through :func:`read_table` (one row per line, fixed columns)
or :func:`read_ragged_ints` (KGAT-style ``user item item ...`` lines). Both

* report a malformed line as :class:`~kgrec.exceptions.DataFormatError` naming the file, the
  1-based line number and the field, and saying what was expected and what was found;
* support an explicit opt-in ``on_error="skip"``: bad rows are dropped and counted by kind
  (``wrong_column_count``, ``missing_value``, ``non_integer``, ``non_numeric``, ``non_finite``,
  plus the kinds the readers add, e.g. ``unknown_id``); :class:`SkipLog` merges the counts of
  several files into the dataset ``report`` and emits one :class:`~kgrec.exceptions.DataWarning`;
* keep the source line numbers in a ``_line`` column, so ``RecDataset.from_frames`` can name
  the line of the errors it finds itself.

Detection is vectorised (one ``str.split`` per line, then numpy / pandas per column); only the
first bad row is re-examined in Python to write its message.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from kgrec.data.dataset import LINE_COLUMN, RecDataset
from kgrec.exceptions import DataFormatError, DataWarning

OnError = Literal["raise", "skip"]
ColumnKind = Literal["int", "float", "str"]

_KIND_WORDS = {"int": "an integer", "float": "a number", "str": "a value"}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Column:
    """One column of a line-based table.

    Attributes:
        name: the column name (also the ``field`` of errors).
        kind: ``int`` (int64), ``float`` (float64, must be finite) or ``str`` (kept as text).
        required: ``False`` for trailing columns a line may leave out (e.g. KGAT's optional
            ``freebase_id``); a left-out cell reads ``""`` (str), NaN (float) or 0 (int).
        allow_empty: accept an empty cell (``""`` between two tabs); only for ``str`` columns.
        choices: the only values allowed after parsing (e.g. labels ``(0, 1)``); another
            value is an ``unexpected_value`` problem.
    """

    name: str
    kind: ColumnKind = "str"
    required: bool = True
    allow_empty: bool = False
    choices: tuple[int | float | str, ...] | None = None


@dataclass
class Table:
    """What :func:`read_table` returns: the parsed rows, the header tokens and skip counts."""

    frame: pd.DataFrame
    header: list[str] | None
    header_line: int | None
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass
class Ragged:
    """What :func:`read_ragged_ints` returns for lines ``head value value ...``.

    ``heads[k]`` is the first integer of the k-th kept line, ``lines[k]`` its 1-based line
    number, ``lengths[k]`` how many values follow; ``values`` holds all of them, line by line.
    """

    heads: np.ndarray
    lines: np.ndarray
    lengths: np.ndarray
    values: np.ndarray
    skipped: dict[str, int] = field(default_factory=dict)

    def pairs(self, head: str, value: str) -> pd.DataFrame:
        """One row per (head, value) pair, with the source line in ``_line``."""
        return pd.DataFrame(
            {
                head: np.repeat(self.heads, self.lengths),
                value: self.values,
                LINE_COLUMN: np.repeat(self.lines, self.lengths),
            }
        )


# ---------------------------------------------------------------------- options and skip log
def check_on_error(on_error: str) -> OnError:
    """Validate the ``on_error`` option (a typo must not silently mean "raise")."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip' (got {on_error!r})")
    return on_error  # type: ignore[return-value]


@dataclass
class SkipLog:
    """Counts of skipped rows per (file, kind) across one reader call.

    ``report()`` gives the ``skipped_<kind>`` totals for ``RecDataset.report``; ``warn()``
    emits one DataWarning listing them per file (nothing when no row was skipped).
    """

    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, file: str | Path, counts: dict[str, int]) -> None:
        name = Path(file).name
        for kind, n in counts.items():
            if n:
                self.counts[(name, kind)] = self.counts.get((name, kind), 0) + int(n)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def report(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (_, kind), n in self.counts.items():
            out[f"skipped_{kind}"] = out.get(f"skipped_{kind}", 0) + n
        return out

    def warn(self, source: str | Path, *, stacklevel: int = 3) -> None:
        if not self.total:
            return
        parts = ", ".join(f"{file}: {n} {kind}" for (file, kind), n in self.counts.items())
        warnings.warn(
            f"{source}: skipped {self.total} bad row(s) because on_error='skip' ({parts})",
            DataWarning,
            stacklevel=stacklevel,
        )


# ---------------------------------------------------------------------- reading lines
def read_lines(path: str | Path, *, allow_empty: bool = False) -> tuple[list[str], np.ndarray]:
    """The non-blank lines of a text file (``\\r`` stripped) and their 1-based line numbers.

    Blank lines (empty or whitespace only) are ignored, so a trailing newline or a blank
    separator line is not an error. Only ``\\n`` ends a line: other Unicode line breaks inside a
    field must not shift the line numbers the errors report.

    Raises:
        FileNotFoundError: the file does not exist.
        DataFormatError: the file is not UTF-8 (names the line), or holds no non-blank line
            while ``allow_empty`` is False.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataFormatError(
            f"expected UTF-8 text, got the byte {data[exc.start:exc.start + 1]!r} "
            f"at byte offset {exc.start}",
            file=path,
            line=line,
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark written by some editors
    raw = text.split("\n")
    keep = [i for i, ln in enumerate(raw) if ln and not ln.isspace()]
    lines = [raw[i].rstrip("\r") for i in keep]
    numbers = np.asarray(keep, dtype=np.int64) + 1
    if not lines and not allow_empty:
        raise DataFormatError("the file is empty (expected at least one data line)", file=path)
    return lines, numbers


def _split(lines: Sequence[str], sep: str | None, rsplit: int | None = None) -> list[list[str]]:
    if rsplit is not None:  # the first column may hold the separator: split from the right
        return [ln.rstrip().rsplit(sep, rsplit) for ln in lines]
    if sep is None:
        return [ln.split() for ln in lines]
    return [ln.split(sep) for ln in lines]


def _sep_words(sep: str | None) -> str:
    return {None: "whitespace", "\t": "tabs", " ": "spaces"}.get(sep, repr(sep))


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------- value checks
def _parse_int(value: str) -> int | None:
    try:
        number = int(value)
    except ValueError:
        return None
    return number if _INT64_MIN <= number <= _INT64_MAX else None


def _value_problem(value: str, column: Column) -> tuple[str, str] | None:
    """(kind, message) of one cell, or None when it is fine: the authority for messages."""
    if value == "":
        if column.allow_empty:
            return None
        return "missing_value", f"missing value (empty field); expected {_KIND_WORDS[column.kind]}"
    if column.kind == "int" and _parse_int(value) is None:
        return "non_integer", f"expected an integer, got {value!r}"
    if column.kind == "float":
        try:
            number = float(value)
        except ValueError:
            return "non_numeric", f"expected a number, got {value!r}"
        if not math.isfinite(number):
            return "non_finite", f"expected a finite number, got {value!r}"
    if column.choices is not None:
        parsed = int(value) if column.kind == "int" else float(value) if column.kind == "float" else value
        if parsed not in column.choices:
            allowed = " or ".join(map(str, column.choices))
            return "unexpected_value", f"expected {allowed}, got {value!r}"
    return None


def _int_cells(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse an object array of strings as int64: (parsed, bad mask). Fast path first."""
    try:
        return values.astype(np.int64), np.zeros(len(values), dtype=bool)
    except (ValueError, OverflowError, TypeError):
        pass
    parsed = [_parse_int(v) for v in values]
    bad = np.fromiter((p is None for p in parsed), dtype=bool, count=len(parsed))
    out = np.fromiter((0 if p is None else p for p in parsed), dtype=np.int64, count=len(parsed))
    return out, bad


def _float_cells(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse an object array of strings as float64: (parsed, bad mask: non-numeric or non-finite)."""
    parsed = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    return parsed, ~np.isfinite(parsed)


def _cell_kinds(values: np.ndarray, column: Column) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised check of one column: (parsed values, bad mask)."""
    empty = values == ""
    if column.kind == "int":
        parsed, bad = _int_cells(np.where(empty, "0", values))
    elif column.kind == "float":
        parsed, bad = _float_cells(np.where(empty, "0", values))
    else:
        parsed, bad = values, np.zeros(len(values), dtype=bool)
    if not column.allow_empty:
        bad = bad | empty
    if column.choices is not None:
        bad = bad | ~np.isin(parsed, np.asarray(column.choices, dtype=object if column.kind == "str" else None))
    return parsed, bad


# ---------------------------------------------------------------------- fixed-column tables
def read_table(
    path: str | Path,
    columns: Sequence[Column],
    *,
    sep: str | None = "\t",
    header: bool | Literal["auto"] = False,
    on_error: OnError = "raise",
    allow_empty: bool = False,
    rsplit: bool = False,
) -> Table:
    """Read a text table: one row per line, ``columns`` in order, ``sep`` between cells.

    Args:
        path: the file.
        columns: the expected columns; trailing ones with ``required=False`` may be left out.
        sep: the cell separator; ``None`` splits on runs of whitespace (no empty cells then).
        header: ``True`` when the first non-blank line is a header (returned, not parsed),
            ``"auto"`` to treat it as a header only when it does not parse as a data row.
        on_error: ``"raise"`` a DataFormatError at the first bad line, or ``"skip"`` bad lines
            and count them by kind in ``Table.skipped``.
        allow_empty: accept a file without data lines (an empty frame is returned).
        rsplit: split each line from the right into at most ``len(columns)`` cells, so the
            first column may itself hold ``sep`` (KGAT's ``entity_list.txt`` has names with
            spaces); trailing whitespace is ignored then.

    Returns:
        A :class:`Table` whose ``frame`` has one column per spec column (int64, float64 or
        object dtype) plus ``_line`` (int64, 1-based line numbers).
    """
    check_on_error(on_error)
    path = Path(path)
    lines, numbers = read_lines(path, allow_empty=allow_empty)
    n_req = sum(1 for c in columns if c.required)
    n_max = len(columns)
    maxsplit = n_max - 1 if rsplit else None
    header_tokens: list[str] | None = None
    header_line: int | None = None
    if lines and header:
        first = _split(lines[:1], sep, maxsplit)[0]
        is_header = header is True or _row_problem(first, columns, n_req, sep, lines[0]) is not None
        if is_header:
            header_tokens, header_line = first, int(numbers[0])
            lines, numbers = lines[1:], numbers[1:]
            if not lines and not allow_empty:
                raise DataFormatError(
                    f"no data lines after the header (line {header_line})", file=path
                )

    n = len(lines)
    if sep is not None and maxsplit is None:
        # An explicit separator: count it per line (no per-line lists), then split each group
        # of equally wide lines in one call on their joined text.
        rows = None
        n_cells = np.fromiter(map(str.count, lines, repeat(sep, n)), dtype=np.int64, count=n) + 1
    else:
        rows = _split(lines, sep, maxsplit)
        n_cells = np.fromiter(map(len, rows), dtype=np.int64, count=n)
    bad = (n_cells < n_req) | (n_cells > n_max)
    if rows is None and n and not bad.any() and bool((n_cells == n_max).all()):
        fast = _clean_table_fast(lines, columns, sep)  # type: ignore[arg-type]
        if fast is not None:
            fast[LINE_COLUMN] = numbers
            return Table(frame=fast, header=header_tokens, header_line=header_line)
    kinds = np.where(bad, "wrong_column_count", "").astype(object)
    parsed = {col.name: _empty_column(col, n) for col in columns}
    for width in np.unique(n_cells[~bad]).tolist() if n else []:
        where = np.flatnonzero((n_cells == width) & ~bad)
        if rows is None:
            flat = sep.join([lines[i] for i in where]).split(sep)  # type: ignore[union-attr]
        else:
            flat = list(chain.from_iterable(rows[i] for i in where))
        cells = np.array(flat, dtype=object).reshape(len(where), width)
        for j, col in enumerate(columns[:width]):
            values, col_bad = _cell_kinds(cells[:, j], col)
            fresh = col_bad & (kinds[where] == "")
            if fresh.any() and not values.flags.writeable:  # pandas may hand back a read-only view
                values = values.copy()
            # The vectorised check only flags; the scalar check decides and names the kind.
            for k in np.flatnonzero(fresh):
                cell = cells[k, j]
                found = _value_problem(cell, col)
                if found is None:  # e.g. "1_000": numpy/pandas refuse what Python accepts
                    values[k] = int(cell) if col.kind == "int" else float(cell)
                else:
                    kinds[where[k]] = found[0]
            parsed[col.name][where] = values

    problem = kinds != ""
    skipped: dict[str, int] = {}
    if problem.any():
        if on_error == "raise":
            pos = int(np.flatnonzero(problem)[0])
            found = _row_problem(_split([lines[pos]], sep, maxsplit)[0], columns, n_req, sep, lines[pos])
            kind, fld, message = found or ("unknown", None, "malformed line")
            raise DataFormatError(message, file=path, line=int(numbers[pos]), field=fld)
        skipped = dict(pd.Series(kinds[problem]).value_counts().sort_index().astype(int))
    keep = ~problem
    frame = pd.DataFrame({c.name: parsed[c.name][keep] for c in columns})
    frame[LINE_COLUMN] = numbers[keep]
    return Table(frame=frame, header=header_tokens, header_line=header_line, skipped=skipped)


def _clean_table_fast(lines: list[str], columns: Sequence[Column], sep: str) -> pd.DataFrame | None:
    """The table split by pandas' C reader when every cell passes :func:`_cell_kinds`, else None.

    Splitting is the costly part of a clean file; the C reader does it in one call. Cells are
    then checked and parsed by the same vectorised code as the checked path, so a value means
    the same on both paths; anything unusual (a bad cell, a quote character the reader would
    treat specially, a stray ``\\r`` that splits a line) returns None and :func:`read_table`'s
    checked path decides, with its exact messages. Every line has ``len(columns)`` cells here.
    """
    import csv
    import io

    if len(sep) != 1:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = pd.read_csv(
                io.StringIO("\n".join(lines)),
                sep=sep,
                header=None,
                names=[c.name for c in columns],
                dtype=object,
                na_filter=False,
                quoting=csv.QUOTE_NONE,
                skip_blank_lines=False,
                index_col=False,
                engine="c",
            )
    except (ValueError, pd.errors.ParserError):
        return None
    if len(frame) != len(lines):
        return None
    out = {}
    for col in columns:
        parsed, bad = _cell_kinds(frame[col.name].to_numpy(), col)
        if bad.any():
            return None
        out[col.name] = parsed
    return pd.DataFrame(out)


def _empty_column(column: Column, n: int) -> np.ndarray:
    if column.kind == "int":
        return np.zeros(n, dtype=np.int64)
    if column.kind == "float":
        return np.full(n, np.nan, dtype=np.float64)
    return np.full(n, "", dtype=object)


def _row_problem(
    cells: list[str], columns: Sequence[Column], n_req: int, sep: str | None, line: str
) -> tuple[str, str | None, str] | None:
    """(kind, field, message) of the first problem of one row, or None when it is fine."""
    if not n_req <= len(cells) <= len(columns):
        names = ", ".join(c.name for c in columns)
        want = str(n_req) if n_req == len(columns) else f"{n_req} to {len(columns)}"
        fld = columns[len(cells)].name if len(cells) < n_req else None
        return (
            "wrong_column_count",
            fld,
            f"expected {want} columns ({names}) separated by {_sep_words(sep)}, "
            f"got {len(cells)}: {_shorten(line)!r}",
        )
    for value, col in zip(cells, columns, strict=False):
        found = _value_problem(value, col)
        if found is not None:
            return found[0], col.name, found[1]
    return None


# ---------------------------------------------------------------------- ragged integer lines
def read_ragged_ints(
    path: str | Path,
    *,
    head_field: str,
    value_field: str,
    on_error: OnError = "raise",
    allow_empty: bool = False,
) -> Ragged:
    """Read lines of whitespace-separated integers ``head value value ...`` (KGAT's train.txt).

    A line with only its head is kept (``lengths`` 0 there). A line holding a token that is not
    an integer is a ``non_integer`` problem: raised, or skipped as a whole with ``on_error="skip"``.
    """
    check_on_error(on_error)
    path = Path(path)
    lines, numbers = read_lines(path, allow_empty=allow_empty)
    rows = [ln.split() for ln in lines]
    n_tok = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    flat = np.array(list(chain.from_iterable(rows)), dtype=object)
    ints, bad_tok = _int_cells(flat)
    skipped: dict[str, int] = {}
    if bad_tok.any():
        owner = np.repeat(np.arange(len(rows)), n_tok)
        bad_line = np.zeros(len(rows), dtype=bool)
        bad_line[owner[bad_tok]] = True
        if on_error == "raise":
            pos = int(np.flatnonzero(bad_line)[0])
            k = next(k for k, tok in enumerate(rows[pos]) if _parse_int(tok) is None)
            raise DataFormatError(
                f"expected an integer, got {rows[pos][k]!r} (token {k + 1} of the line)",
                file=path,
                line=int(numbers[pos]),
                field=head_field if k == 0 else value_field,
            )
        skipped = {"non_integer": int(bad_line.sum())}
        keep_tok = ~bad_line[owner]
        ints = ints[keep_tok]
        n_tok, numbers = n_tok[~bad_line], numbers[~bad_line]
    if len(n_tok) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Ragged(heads=empty, lines=empty, lengths=empty, values=empty, skipped=skipped)
    starts = np.concatenate([[0], np.cumsum(n_tok)[:-1]]).astype(np.int64)
    is_value = np.ones(len(ints), dtype=bool)
    is_value[starts] = False
    return Ragged(
        heads=ints[starts],
        lines=numbers,
        lengths=n_tok - 1,
        values=ints[is_value],
        skipped=skipped,
    )


# ---------------------------------------------------------------------- checks readers share
def drop_or_raise(
    frame: pd.DataFrame,
    bad: np.ndarray,
    *,
    kind: str,
    field: str,
    message: Callable[[int], str],
    file: str | Path,
    on_error: OnError,
    log: SkipLog,
) -> pd.DataFrame:
    """Reject the rows of ``frame`` flagged in ``bad``: raise at the first or drop and count them.

    ``message(pos)`` writes the error for the row at position ``pos``; the line number comes
    from the frame's ``_line`` column.
    """
    bad = np.asarray(bad, dtype=bool)
    if not bad.any():
        return frame
    pos = int(np.flatnonzero(bad)[0])
    if on_error == "raise":
        line = int(frame[LINE_COLUMN].iloc[pos]) if LINE_COLUMN in frame else pos + 1
        raise DataFormatError(message(pos), file=file, line=line, field=field)
    log.add(file, {kind: int(bad.sum())})
    return frame[~bad].reset_index(drop=True)


def rows_by_part(
    dataset: RecDataset, frame: pd.DataFrame, codes: np.ndarray, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """The dataset's interaction rows (int64) per source part, e.g. ``train`` / ``test`` files.

    ``frame`` holds the raw ``user`` / ``item`` columns given to ``from_frames`` and ``codes``
    the part index of each of its rows. Rows are matched by (user, item) pair, so the answer does
    not depend on how ``from_frames`` orders or merges rows; a repeated pair belongs to the part
    of its first occurrence. Pairs dropped by ``from_frames`` (rating threshold) are in no part.
    """
    n_items = max(dataset.num_items, 1)
    users = dataset.users.lookup(frame["user"].to_numpy())
    items = dataset.items.lookup(frame["item"].to_numpy())
    key_in = users * n_items + items
    first = ~pd.Series(key_in).duplicated().to_numpy() & (users >= 0) & (items >= 0)
    part_of = pd.Series(np.asarray(codes)[first], index=key_in[first])
    key_out = dataset.interactions["user"].to_numpy() * n_items + dataset.interactions["item"].to_numpy()
    found = part_of.reindex(key_out).to_numpy()
    return {name: np.flatnonzero(found == code).astype(np.int64) for code, name in enumerate(names)}


def maybe_int(*arrays: np.ndarray) -> list[np.ndarray]:
    """Convert string id arrays that share one id space to int64 iff every value is a canonical int.

    "Canonical" means ``str(int(v)) == v``: ``"0012"`` or ``"+3"`` keep all arrays as strings, so
    ids such as ISBNs never lose their leading zeros.
    """
    if not arrays:
        return []
    joined = np.concatenate([np.asarray(a, dtype=object) for a in arrays])
    if len(joined) == 0:
        return [np.asarray(a, dtype=object) for a in arrays]
    text = joined.astype(str)
    ints, bad = _int_cells(text.astype(object))
    if bad.any() or not (ints.astype(str) == text).all():
        return [np.asarray(a, dtype=object) for a in arrays]
    out, start = [], 0
    for a in arrays:
        out.append(ints[start : start + len(a)])
        start += len(a)
    return out


# ---------------------------------------------------------------------- writing
def check_ids_writable(values: Iterable[object], *, what: str, forbidden: str) -> np.ndarray:
    """Raw ids as strings, refusing any that holds a separator of the target format."""
    text = np.asarray([str(v) for v in values], dtype=object)
    if len(text) == 0:
        return text
    pattern = "[" + "".join({"\t": r"\t", "\n": r"\n", "\r": r"\r", " ": " "}.get(ch, ch) for ch in forbidden) + "]"
    bad = pd.Series(text, dtype=object).str.contains(pattern, regex=True).to_numpy(dtype=bool)
    bad = bad | (text == "")
    if bad.any():
        example = text[np.flatnonzero(bad)[0]]
        raise ValueError(
            f"cannot write {what} id {example!r}: ids in this format may not be empty or hold "
            f"{forbidden!r} ({int(bad.sum())} such id(s))"
        )
    return text


def format_number(values: np.ndarray) -> np.ndarray:
    """float64 values as text: integral values without a decimal point, others as repr."""
    values = np.asarray(values, dtype=np.float64)
    out = values.astype(str).astype(object)
    integral = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2**53)
    out[integral] = values[integral].astype(np.int64).astype(str)
    return out


def write_rows(path: str | Path, columns: Sequence[np.ndarray], *, sep: str, header: str | None = None) -> None:
    """Write equally long string columns as lines joined by ``sep`` (vectorised with pandas)."""
    path = Path(path)
    if columns and len(columns[0]):
        body = pd.Series(columns[0], dtype=object).astype(str)
        for col in columns[1:]:
            body = body.str.cat(pd.Series(col, dtype=object).astype(str), sep=sep)
        text = "\n".join(body.tolist()) + "\n"
    else:
        text = ""
    if header is not None:
        text = header + "\n" + text
    path.write_text(text, encoding="utf-8")
