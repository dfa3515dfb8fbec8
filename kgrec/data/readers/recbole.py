"""RecBole atomic files: ``<name>.inter`` (+ optional ``.item``, ``.user``, ``.kg``, ``.link``).

Each file is tab separated with a typed header such as
``user_id:token  item_id:token  rating:float  timestamp:float``; the types are ``token``,
``token_seq`` (space-separated tokens), ``float`` and ``float_seq``. Token ids stay strings,
as RecBole treats them (``"007"`` and ``"7"`` are different users).

:func:`write_recbole` exports a dataset back to these files, so the same data can be run
through RecBole to cross-check results.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.data.dataset import LINE_COLUMN, DuplicatePolicy, RecDataset
from kgrec.data.readers._lines import (
    Column,
    OnError,
    SkipLog,
    check_ids_writable,
    check_on_error,
    format_number,
    read_table,
    write_rows,
)
from kgrec.exceptions import DataFormatError

FIELD_TYPES = ("token", "token_seq", "float", "float_seq")
VALUE_FIELDS = ("rating", "timestamp", "weight")  # .inter columns kept as interaction values
HEAD_FIELD, RELATION_FIELD, TAIL_FIELD, ENTITY_FIELD = "head_id", "relation_id", "tail_id", "entity_id"
_ID_FORBIDDEN = "\t\n\r"


def read_recbole(
    folder: str | Path,
    name: str | None = None,
    *,
    item_features: Sequence[str] | None = None,
    user_features: Sequence[str] | None = None,
    rating_threshold: float | None = None,
    duplicates: DuplicatePolicy = "first",
    on_error: OnError = "raise",
    user_field: str = "user_id",
    item_field: str = "item_id",
) -> RecDataset:
    """Read the RecBole atomic files ``<folder>/<name>.*`` into a RecDataset.

    Args:
        folder: the folder holding the files.
        name: the dataset name (file stem); ``None`` uses the only ``*.inter`` file there.
        item_features: ``.item`` columns that become item attributes (KG triples
            ``item -> column=value``; ``token_seq`` cells give one triple per token). ``None``
            takes every ``token`` / ``token_seq`` column except the id and any column whose
            name contains ``title`` or ``name`` (free text); ``[]`` takes none.
        user_features: the same for ``.user`` columns, stored as ``user_links``.
        rating_threshold: keep only interactions with ``rating >= threshold``.
        duplicates: policy for repeated (user, item) pairs, see ``RecDataset.from_frames``.
        on_error: ``"raise"`` at the first malformed line, or ``"skip"`` malformed lines
            (counted in ``report`` as ``skipped_<kind>``, with one DataWarning).
        user_field, item_field: the user / item id column names (RecBole's
            ``USER_ID_FIELD`` / ``ITEM_ID_FIELD``).

    Items listed in ``.item`` or ``.link`` and users listed in ``.user`` are kept even without
    interactions (cold-start catalogue).
    """
    check_on_error(on_error)
    folder = Path(folder)
    name = _dataset_name(folder, name)
    log = SkipLog()

    def path(ext: str) -> Path:
        return folder / f"{name}.{ext}"

    inter, types = _read_atomic(
        path("inter"), required=(user_field, item_field), values=VALUE_FIELDS, on_error=on_error, log=log
    )
    frame = pd.DataFrame({"user": inter[user_field].to_numpy(dtype=object), "item": inter[item_field].to_numpy(dtype=object)})
    for col in VALUE_FIELDS:
        if col in inter:
            frame[col] = inter[col].to_numpy(dtype=np.float64)
    frame[LINE_COLUMN] = inter[LINE_COLUMN].to_numpy()

    item_entities = triples = item_attributes = user_attributes = None
    items = users = None
    if path("link").is_file():
        link, _ = _read_atomic(path("link"), required=(item_field, ENTITY_FIELD), on_error=on_error, log=log, allow_empty=True)
        item_entities = pd.DataFrame(
            {"item": link[item_field].to_numpy(dtype=object), "entity": link[ENTITY_FIELD].to_numpy(dtype=object)}
        )
    if path("kg").is_file():
        kg, _ = _read_atomic(path("kg"), required=(HEAD_FIELD, RELATION_FIELD, TAIL_FIELD), on_error=on_error, log=log, allow_empty=True)
        triples = pd.DataFrame(
            {
                "head": kg[HEAD_FIELD].to_numpy(dtype=object),
                "relation": kg[RELATION_FIELD].to_numpy(dtype=object),
                "tail": kg[TAIL_FIELD].to_numpy(dtype=object),
            }
        )
    if path("item").is_file():
        item_frame, item_types = _read_atomic(path("item"), required=(item_field,), on_error=on_error, log=log, allow_empty=True)
        items = item_frame[item_field].to_numpy(dtype=object).tolist()
        item_attributes = _attributes(item_frame, item_types, item_field, "item", item_features, path("item"))
    elif item_features:
        raise DataFormatError(f"item_features {list(item_features)} need a .item file", file=path("item"))
    if path("user").is_file():
        user_frame, user_types = _read_atomic(path("user"), required=(user_field,), on_error=on_error, log=log, allow_empty=True)
        users = user_frame[user_field].to_numpy(dtype=object).tolist()
        user_attributes = _attributes(user_frame, user_types, user_field, "user", user_features, path("user"))
    elif user_features:
        raise DataFormatError(f"user_features {list(user_features)} need a .user file", file=path("user"))

    log.warn(path("inter"))
    return RecDataset.from_frames(
        frame,
        item_entities=item_entities,
        triples=triples,
        item_attributes=item_attributes,
        user_attributes=user_attributes,
        items=items,
        users=users,
        rating_threshold=rating_threshold,
        duplicates=duplicates,
        source=str(path("inter")),
        name=name,
        report=log.report(),
    )


def write_recbole(dataset: RecDataset, folder: str | Path, name: str) -> dict[str, Path]:
    """Write ``dataset`` as RecBole atomic files ``<folder>/<name>.inter/.item/.user/.link/.kg``.

    ``.inter`` holds the interactions with their value columns; ``.item`` / ``.user`` list every
    item / user (so those without interactions survive a round trip) and ``.user`` carries the
    user links, one column per relation (``gender=F`` is written as ``F`` under ``gender``).
    ``.link`` and ``.kg`` are written when the dataset has an alignment / triples; item
    attributes are already triples, so they go to ``.kg``. Returns the written paths by extension.

    Raises:
        ValueError: a raw id is empty or holds a tab or newline (RecBole cannot store it).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    inter = dataset.raw_interactions()
    columns = [
        check_ids_writable(inter["user"], what="user", forbidden=_ID_FORBIDDEN),
        check_ids_writable(inter["item"], what="item", forbidden=_ID_FORBIDDEN),
    ]
    header = ["user_id:token", "item_id:token"]
    for col in VALUE_FIELDS:
        if col in inter:
            columns.append(format_number(inter[col].to_numpy()))
            header.append(f"{col}:float")
    written["inter"] = folder / f"{name}.inter"
    write_rows(written["inter"], columns, sep="\t", header="\t".join(header))

    item_ids = check_ids_writable(dataset.items.raw_ids, what="item", forbidden=_ID_FORBIDDEN)
    written["item"] = folder / f"{name}.item"
    write_rows(written["item"], [item_ids], sep="\t", header="item_id:token")

    linked = np.flatnonzero(dataset.item_entity >= 0)
    if len(linked):
        written["link"] = folder / f"{name}.link"
        entities = dataset.entities.to_raw(dataset.item_entity[linked])
        write_rows(
            written["link"],
            [item_ids[linked], check_ids_writable(entities, what="entity", forbidden=_ID_FORBIDDEN)],
            sep="\t",
            header=f"item_id:token\t{ENTITY_FIELD}:token",
        )
    if len(dataset.triples):
        written["kg"] = folder / f"{name}.kg"
        kg = dataset.raw_triples()
        write_rows(
            written["kg"],
            [
                check_ids_writable(kg["head"], what="entity", forbidden=_ID_FORBIDDEN),
                check_ids_writable(kg["relation"], what="relation", forbidden=_ID_FORBIDDEN),
                check_ids_writable(kg["tail"], what="entity", forbidden=_ID_FORBIDDEN),
            ],
            sep="\t",
            header=f"{HEAD_FIELD}:token\t{RELATION_FIELD}:token\t{TAIL_FIELD}:token",
        )
    written["user"] = folder / f"{name}.user"
    user_cols, user_header = _user_link_columns(dataset)
    write_rows(written["user"], user_cols, sep="\t", header="\t".join(user_header))
    return written


# ---------------------------------------------------------------------- helpers
def _dataset_name(folder: Path, name: str | None) -> str:
    if name is not None:
        if not (folder / f"{name}.inter").is_file():
            raise FileNotFoundError(f"{folder / (name + '.inter')}: no such file (the .inter file is required)")
        return name
    found = sorted(p.stem for p in folder.glob("*.inter"))
    if len(found) != 1:
        raise FileNotFoundError(
            f"{folder}: expected exactly one *.inter file to infer the dataset name, found "
            f"{found or 'none'}; pass name="
        )
    return found[0]


def _read_header(path: Path) -> tuple[list[str], list[str], int]:
    """Field names and types of an atomic file's header, and its 1-based line number."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        number, line = next(((n, ln) for n, ln in enumerate(handle, start=1) if ln.strip()), (0, ""))
    if not number:
        raise DataFormatError("the file is empty (expected a typed header line)", file=path)
    names, types = [], []
    for token in line.rstrip("\r\n").split("\t"):
        field_name, sep, field_type = token.partition(":")
        if not sep or field_type not in FIELD_TYPES or not field_name:
            raise DataFormatError(
                f"expected a header cell 'name:type' with type one of {list(FIELD_TYPES)}, got {token!r}",
                file=path,
                line=number,
                field=field_name or token,
            )
        if field_name in names:
            raise DataFormatError(f"column {field_name!r} appears twice in the header", file=path, line=number, field=field_name)
        names.append(field_name)
        types.append(field_type)
    return names, types, number


def _read_atomic(
    path: Path,
    *,
    required: Sequence[str],
    on_error: OnError,
    log: SkipLog,
    values: Sequence[str] = (),
    allow_empty: bool = False,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """One atomic file as a frame (columns by field name, plus ``_line``) and its field types.

    Required id fields must be non-empty; the ``values`` columns (``rating``, ``timestamp``,
    ``weight`` of ``.inter``) are parsed as finite floats whatever their declared type; every
    other column stays text and may be empty (a missing attribute).
    """
    names, types, header_line = _read_header(path)
    missing = [f for f in required if f not in names]
    if missing:
        raise DataFormatError(
            f"expected a column {missing[0]!r} in the header, got columns {names}",
            file=path,
            line=header_line,
            field=missing[0],
        )
    columns = []
    for field_name in names:
        if field_name in required:
            columns.append(Column(field_name, "str"))
        elif field_name in values:
            columns.append(Column(field_name, "float"))
        else:
            columns.append(Column(field_name, "str", allow_empty=True))
    table = read_table(path, columns, sep="\t", header=True, on_error=on_error, allow_empty=allow_empty)
    log.add(path, table.skipped)
    return table.frame, dict(zip(names, types, strict=True))


def _attributes(
    frame: pd.DataFrame,
    types: dict[str, str],
    id_field: str,
    owner: str,
    chosen: Sequence[str] | None,
    path: Path,
) -> pd.DataFrame | None:
    """The attribute frame for ``from_frames``: ``owner`` plus one column per chosen feature."""
    candidates = [c for c in types if c != id_field]
    if chosen is None:
        chosen = [
            c
            for c in candidates
            if types[c] in ("token", "token_seq") and "title" not in c.lower() and "name" not in c.lower()
        ]
    unknown = [c for c in chosen if c not in candidates]
    if unknown:
        raise DataFormatError(
            f"unknown {owner} feature column(s) {unknown}; the file has {candidates}",
            file=path,
            field=unknown[0],
        )
    if not chosen:
        return None
    out = pd.DataFrame({owner: frame[id_field].to_numpy(dtype=object)})
    for col in chosen:
        text = frame[col].astype(object)
        if types[col].endswith("_seq"):
            out[col] = text.str.split().to_numpy()
        else:
            out[col] = text.where(text != "", None).to_numpy()
    return out


def _user_link_columns(dataset: RecDataset) -> tuple[list[np.ndarray], list[str]]:
    """``.user`` columns: the user ids, then one column per user-link relation."""
    users = check_ids_writable(dataset.users.raw_ids, what="user", forbidden=_ID_FORBIDDEN)
    columns, header = [users], ["user_id:token"]
    links = dataset.user_links
    if len(links) == 0:
        return columns, header
    table = pd.DataFrame(
        {
            "user": links["user"].to_numpy(),
            "relation": pd.Series(dataset.relations.to_raw(links["relation"].to_numpy())).astype(str),
            "value": pd.Series(dataset.entities.to_raw(links["entity"].to_numpy())).astype(str),
        }
    )
    for rel, part in table.groupby("relation", sort=True):
        check_ids_writable([rel], what="relation", forbidden=_ID_FORBIDDEN + ":")
        prefix = f"{rel}="  # user links read from a .user file are named "column=value"
        value = part["value"].where(~part["value"].str.startswith(prefix), part["value"].str.slice(len(prefix)))
        multi = bool(part["user"].duplicated().any())
        forbidden = _ID_FORBIDDEN + (" " if multi else "")
        value = check_ids_writable(value, what=f"{rel!r} value", forbidden=forbidden)
        joined = pd.Series(value, dtype=object).groupby(part["user"].to_numpy()).agg(" ".join)
        cell = np.full(len(users), "", dtype=object)
        cell[joined.index.to_numpy(dtype=np.int64)] = joined.to_numpy()
        columns.append(cell)
        header.append(f"{rel}:{'token_seq' if multi else 'token'}")
    return columns, header
