"""Generic CSV / TSV reader: the user maps file columns to user, item, rating, ... by name.

The table helpers here (``_read_table``, ``_parse_numbers``, ``_parse_ids``) are shared with the
MovieLens reader: every value is read as text first, so a bad cell is reported with its file,
1-based line number and column instead of failing somewhere inside pandas.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from kgrec.data.dataset import LINE_COLUMN, DuplicatePolicy, RecDataset
from kgrec.exceptions import DataFormatError

Column = str | int
IdType = Literal["auto", "int", "str"]

_INT_TEXT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")  # ints without leading zeros, int64-safe
_PARSER_LINE = re.compile(r"line (\d+)")
_UNIT_SEP = "\x1f"
_COMPRESSED = {".gz", ".bz2", ".zip", ".xz", ".zst", ".tar"}


# ---------------------------------------------------------------------- shared table helpers
def _default_sep(path: Path) -> str:
    """Tab for ``.tsv`` / ``.tab`` files (also compressed), comma otherwise."""
    suffixes = [s.lower() for s in path.suffixes]
    return "\t" if any(s in (".tsv", ".tab") for s in suffixes) else ","


def _read_table(
    path: Path,
    *,
    sep: str,
    header: bool,
    encoding: str = "utf-8",
    quoting: int = csv.QUOTE_MINIMAL,
    expected_fields: int | None = None,
) -> pd.DataFrame:
    """Every cell of a delimited file as stripped text, plus its 1-based source line.

    Blank lines are skipped but keep their place in the numbering. A row with too many fields
    raises :class:`DataFormatError` naming the line; a row with too few gets empty cells, which
    the caller's checks then report. ``expected_fields`` (headerless files) checks the width.
    """
    if not path.is_file():
        raise DataFormatError(
            f"expected a file, got {'a folder' if path.is_dir() else 'nothing'}", file=path
        )
    source: Path | io.BytesIO = path
    engine, shown_sep = "c", sep
    if len(sep) > 1:  # the C engine takes one-character separators only: swap in a unit separator
        raw = path.read_bytes() if path.suffix.lower() not in _COMPRESSED else b""
        if raw and _UNIT_SEP.encode() not in raw:
            source, sep = (
                io.BytesIO(raw.replace(sep.encode(encoding), _UNIT_SEP.encode())),
                _UNIT_SEP,
            )
        else:
            engine, sep = "python", re.escape(sep)
    try:
        frame = pd.read_csv(
            source,
            sep=sep,
            header=0 if header else None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            encoding=encoding,
            engine=engine,
            quoting=quoting,
        )
    except pd.errors.EmptyDataError as exc:
        raise DataFormatError("the file is empty", file=path) from exc
    except pd.errors.ParserError as exc:
        found = _PARSER_LINE.search(str(exc))
        raise DataFormatError(
            f"wrong number of fields ({exc})",
            file=path,
            line=int(found.group(1)) if found else None,
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataFormatError(
            f"expected {encoding} text, got byte(s) {exc.object[exc.start : exc.end]!r} that do not "
            "decode; pass the right encoding=",
            file=path,
        ) from exc
    if header:
        frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.apply(lambda col: col.str.strip())
    frame[LINE_COLUMN] = np.arange(len(frame), dtype=np.int64) + (2 if header else 1)
    blank = (frame.drop(columns=[LINE_COLUMN]) == "").all(axis=1).to_numpy()
    frame = frame[~blank].reset_index(drop=True)
    if expected_fields is not None and len(frame):
        width = frame.shape[1] - 1
        if width > expected_fields:
            extra = (frame.iloc[:, expected_fields:width] != "").any(axis=1).to_numpy()
            line = int(frame[LINE_COLUMN].iloc[int(np.flatnonzero(extra)[0])])
            raise DataFormatError(
                f"expected {expected_fields} fields separated by {shown_sep!r}, got more",
                file=path,
                line=line,
            )
        if width < expected_fields:
            raise DataFormatError(
                f"expected {expected_fields} fields separated by {shown_sep!r}, got {width}",
                file=path,
                line=int(frame[LINE_COLUMN].iloc[0]),
            )
    return frame


def _require(
    frame: pd.DataFrame, columns: Sequence[Column | None], *, file: Path, what: str
) -> None:
    """Raise naming the first mapped column the file lacks, listing the ones it has."""
    have = [c for c in frame.columns if c != LINE_COLUMN]
    for col in columns:
        if col is not None and col not in frame.columns:
            raise DataFormatError(
                f"the {what} column {col!r} is not in the file; it has columns {have}",
                file=file,
                field=str(col),
            )


def _first_bad(bad: np.ndarray, values: pd.Series, lines: pd.Series) -> tuple[str, int]:
    pos = int(np.flatnonzero(bad)[0])
    return str(values.iloc[pos]), int(lines.iloc[pos])


def _parse_numbers(
    values: pd.Series, *, lines: pd.Series, file: Path, field: str, integer: bool = False
) -> np.ndarray:
    """Text -> float64 (or int64 with ``integer``); the first bad cell raises with its line."""
    nums = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(nums)
    if integer:
        bad |= np.isfinite(nums) & (nums != np.floor(nums))
    if bad.any():
        got, line = _first_bad(bad, values, lines)
        kind = "an integer" if integer else "a finite number"
        raise DataFormatError(
            f"expected {kind}, got {got!r} ({int(bad.sum())} such row(s))",
            file=file,
            line=line,
            field=field,
        )
    return nums.astype(np.int64) if integer else nums


def _check_ids(values: pd.Series, *, lines: pd.Series, file: Path, field: str) -> None:
    bad = (values == "").to_numpy()
    if bad.any():
        _, line = _first_bad(bad, values, lines)
        raise DataFormatError(
            f"expected an id, got an empty cell ({int(bad.sum())} such row(s))",
            file=file,
            line=line,
            field=field,
        )


def _ids_look_int(*columns: pd.Series) -> bool:
    """True when every id in every column is an integer written without leading zeros."""
    return all(bool(col.str.fullmatch(_INT_TEXT).all()) for col in columns)


def _as_ids(values: pd.Series, as_int: bool) -> np.ndarray:
    return values.to_numpy(dtype=np.int64) if as_int else values.to_numpy(dtype=object)


def _resolve_id_type(id_type: IdType, *columns: pd.Series) -> bool:
    """Whether ids become int64 (``"auto"``: when they all look like integers)."""
    if id_type == "auto":
        return _ids_look_int(*columns)
    if id_type == "int":
        for col in columns:
            if not bool(col.str.fullmatch(_INT_TEXT).all()):
                bad = col[~col.str.fullmatch(_INT_TEXT)].iloc[0]
                raise ValueError(f"id_type='int' but an id is not an integer: {bad!r}")
        return True
    if id_type == "str":
        return False
    raise ValueError(f"id_type must be 'auto', 'int' or 'str' (got {id_type!r})")


def _feature_frame(
    table: pd.DataFrame,
    *,
    id_col: Column,
    owner: str,
    feature_cols: Sequence[Column] | Mapping[Column, str] | None,
    feature_sep: str | None,
    as_int: bool,
    file: Path,
) -> pd.DataFrame:
    """Attribute frame for ``from_frames``: the owner id plus one column per feature.

    Empty cells carry no attribute; with ``feature_sep`` a cell holds several values.
    """
    if feature_cols is None:
        names = {c: str(c) for c in table.columns if c not in (id_col, LINE_COLUMN)}
    elif isinstance(feature_cols, Mapping):
        names = {c: str(n) for c, n in feature_cols.items()}
    else:
        names = {c: str(c) for c in feature_cols}
    _require(table, [id_col, *names], file=file, what=f"{owner} feature")
    lines = table[LINE_COLUMN]
    _check_ids(table[id_col], lines=lines, file=file, field=str(id_col))
    out = pd.DataFrame({owner: _as_ids(table[id_col], as_int)})
    for col, attr in names.items():
        cell = table[col].astype(object).where(table[col] != "", None)
        if feature_sep is not None:
            cell = cell.str.split(feature_sep).map(
                lambda parts: (
                    [p.strip() for p in parts if p.strip()] if isinstance(parts, list) else parts
                )
            )
        out[attr] = cell.to_numpy(dtype=object)
    return out


# ---------------------------------------------------------------------- the reader
def read_csv(
    path: str | Path | Sequence[str | Path],
    *,
    user_col: Column,
    item_col: Column,
    rating_col: Column | None = None,
    timestamp_col: Column | None = None,
    weight_col: Column | None = None,
    sep: str | None = None,
    header: bool = True,
    encoding: str = "utf-8",
    id_type: IdType = "auto",
    item_features_path: str | Path | None = None,
    item_id_col: Column | None = None,
    item_feature_cols: Sequence[Column] | Mapping[Column, str] | None = None,
    user_features_path: str | Path | None = None,
    user_id_col: Column | None = None,
    user_feature_cols: Sequence[Column] | Mapping[Column, str] | None = None,
    feature_sep: str | None = None,
    kg_path: str | Path | None = None,
    kg_cols: tuple[Column, Column, Column] = ("head", "relation", "tail"),
    item_entity_path: str | Path | None = None,
    item_entity_cols: tuple[Column, Column] = ("item", "entity"),
    rating_threshold: float | None = None,
    duplicates: DuplicatePolicy = "first",
    name: str | None = None,
) -> RecDataset:
    """Read interactions (and optional item / user features and a KG) from delimited files.

    Args:
        path: the interactions file, or several with the same columns (e.g. a train and a test
            file), read as one; each ``*_col`` names a column (an int position when
            ``header=False``).
        sep: field separator for every file; ``None`` picks tab for ``.tsv`` / ``.tab`` files
            and comma otherwise (per file). ``header`` and ``encoding`` apply to every file too.
        id_type: ``"auto"`` makes ids int64 when all of them (users; items across files) are
            integers without leading zeros, strings otherwise; ``"int"`` / ``"str"`` force it.
        item_features_path, item_id_col, item_feature_cols: a table of item attributes; each
            feature column (default: all but the id) becomes attribute links ``column=value``;
            a mapping ``{column: attribute name}`` renames them (useful without a header).
            Several rows per item are allowed. ``feature_sep`` splits multi-valued cells.
        user_features_path, user_id_col, user_feature_cols: the same for users (user links).
        kg_path, kg_cols: KG triples with head, relation and tail columns.
        item_entity_path, item_entity_cols: item -> entity links. Without it, an item whose id
            (as text) is also a KG entity id is linked to that entity.
        rating_threshold, duplicates: passed to :meth:`RecDataset.from_frames`.

    Line numbers in errors assume one record per line (no quoted newlines).

    Raises:
        DataFormatError: a mapped column missing from its file (the message lists the columns
            the file has), an empty id, a non-numeric value, or a malformed row.
    """
    paths = [Path(p) for p in ([path] if isinstance(path, (str, Path)) else path)]
    if not paths:
        raise ValueError("path must name at least one interactions file")
    sep_of = (lambda p: sep) if sep is not None else _default_sep
    mapping = {
        "user": user_col,
        "item": item_col,
        "rating": rating_col,
        "timestamp": timestamp_col,
        "weight": weight_col,
    }
    tables, values = (
        [],
        {role: [] for role in ("rating", "timestamp", "weight") if mapping[role] is not None},
    )
    for p in paths:  # validate each file on its own so errors name the right file and line
        t = _read_table(p, sep=sep_of(p), header=header, encoding=encoding)
        for role, col in mapping.items():
            _require(t, [col], file=p, what=role)
        for role in ("user", "item"):
            _check_ids(t[mapping[role]], lines=t[LINE_COLUMN], file=p, field=str(mapping[role]))
        for role in values:
            values[role].append(
                _parse_numbers(
                    t[mapping[role]], lines=t[LINE_COLUMN], file=p, field=str(mapping[role])
                )
            )
        tables.append(t)
    path = paths[0]
    table = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    source = " + ".join(str(p) for p in paths)

    item_tables: dict[str, tuple[pd.DataFrame, Column, Path]] = {}
    features: pd.DataFrame | None = None
    if item_features_path is not None:
        fpath = Path(item_features_path)
        ftable = _read_table(fpath, sep=sep_of(fpath), header=header, encoding=encoding)
        id_col = item_id_col if item_id_col is not None else item_col
        _require(ftable, [id_col], file=fpath, what="item id")
        item_tables["features"] = (ftable, id_col, fpath)
    links_table: pd.DataFrame | None = None
    if item_entity_path is not None:
        lpath = Path(item_entity_path)
        links_table = _read_table(lpath, sep=sep_of(lpath), header=header, encoding=encoding)
        _require(links_table, list(item_entity_cols), file=lpath, what="item-entity link")
        _check_ids(
            links_table[item_entity_cols[0]],
            lines=links_table[LINE_COLUMN],
            file=lpath,
            field=str(item_entity_cols[0]),
        )
        _check_ids(
            links_table[item_entity_cols[1]],
            lines=links_table[LINE_COLUMN],
            file=lpath,
            field=str(item_entity_cols[1]),
        )
        item_tables["links"] = (links_table, item_entity_cols[0], lpath)

    item_int = _resolve_id_type(
        id_type, table[item_col], *(t[c] for t, c, _ in item_tables.values())
    )
    inter = pd.DataFrame(
        {
            "user": _as_ids(table[user_col], _resolve_id_type(id_type, table[user_col])),
            "item": _as_ids(table[item_col], item_int),
        }
    )
    for role, parts in values.items():
        inter[role] = np.concatenate(parts)
    inter[LINE_COLUMN] = table[LINE_COLUMN].to_numpy()

    if "features" in item_tables:
        ftable, id_col, fpath = item_tables["features"]
        features = _feature_frame(
            ftable,
            id_col=id_col,
            owner="item",
            feature_cols=item_feature_cols,
            feature_sep=feature_sep,
            as_int=item_int,
            file=fpath,
        )

    user_features: pd.DataFrame | None = None
    if user_features_path is not None:
        upath = Path(user_features_path)
        utable = _read_table(upath, sep=sep_of(upath), header=header, encoding=encoding)
        id_col = user_id_col if user_id_col is not None else user_col
        _require(utable, [id_col], file=upath, what="user id")
        user_int = _resolve_id_type(id_type, table[user_col], utable[id_col])
        inter["user"] = _as_ids(table[user_col], user_int)
        user_features = _feature_frame(
            utable,
            id_col=id_col,
            owner="user",
            feature_cols=user_feature_cols,
            feature_sep=feature_sep,
            as_int=user_int,
            file=upath,
        )

    triples: pd.DataFrame | None = None
    item_entities: pd.DataFrame | None = None
    ktable: pd.DataFrame | None = None
    entity_text: list[pd.Series] = []
    if kg_path is not None:
        kpath = Path(kg_path)
        ktable = _read_table(kpath, sep=sep_of(kpath), header=header, encoding=encoding)
        _require(ktable, list(kg_cols), file=kpath, what="KG")
        for col in kg_cols:
            _check_ids(ktable[col], lines=ktable[LINE_COLUMN], file=kpath, field=str(col))
        entity_text += [ktable[kg_cols[0]], ktable[kg_cols[2]]]
    if links_table is not None:
        entity_text.append(links_table[item_entity_cols[1]])
    ent_int = _resolve_id_type(id_type, *entity_text) if entity_text else False
    if ktable is not None:
        head_col, rel_col, tail_col = kg_cols
        triples = pd.DataFrame(
            {
                "head": _as_ids(ktable[head_col], ent_int),
                "relation": _as_ids(ktable[rel_col], _resolve_id_type(id_type, ktable[rel_col])),
                "tail": _as_ids(ktable[tail_col], ent_int),
            }
        )
    if links_table is not None:
        item_entities = pd.DataFrame(
            {
                "item": _as_ids(links_table[item_entity_cols[0]], item_int),
                "entity": _as_ids(links_table[item_entity_cols[1]], ent_int),
            }
        )
    elif triples is not None:
        item_entities = _identity_links(inter["item"], features, triples)
    return RecDataset.from_frames(
        inter,
        item_entities=item_entities,
        triples=triples,
        item_attributes=features,
        user_attributes=user_features,
        rating_threshold=rating_threshold,
        duplicates=duplicates,
        source=source,
        name=name or path.stem,
    )


def _identity_links(
    items: pd.Series, features: pd.DataFrame | None, triples: pd.DataFrame
) -> pd.DataFrame:
    """Link each item to the KG entity whose id reads the same (compared as text)."""
    all_items = pd.concat([items, features["item"]]) if features is not None else items
    all_items = all_items.drop_duplicates()
    entities = pd.concat([triples["head"], triples["tail"]], ignore_index=True).drop_duplicates()
    by_text = pd.Series(entities.to_numpy(), index=entities.astype(str).to_numpy())
    text = all_items.astype(str)
    hit = text.isin(by_text.index).to_numpy()
    return pd.DataFrame(
        {"item": all_items.to_numpy()[hit], "entity": by_text.loc[text[hit].to_numpy()].to_numpy()}
    )
