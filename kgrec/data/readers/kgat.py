"""KGAT / KGIN / LightGCN text layout: ``train.txt``, ``test.txt``, ``kg_final.txt`` and id lists.

* ``train.txt`` / ``test.txt``: one line per user, ``user item item ...`` (remapped integer
  ids, space separated); a line with a user and no item is allowed (a user without test items).
* ``kg_final.txt`` (optional): ``head relation tail`` on remapped entity / relation ids.
* ``user_list.txt``, ``item_list.txt``, ``entity_list.txt``, ``relation_list.txt`` (optional):
  ``org_id remap_id`` (``item_list`` may add ``freebase_id``) after a header line.

KGAT numbers the items as the first entities: item remap id ``i`` is entity remap id ``i``.
:func:`read_kgat_split` also returns which interaction rows came from ``train.txt`` and which
from ``test.txt``, so the published fixed split can be reproduced exactly.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from kgrec.data.dataset import LINE_COLUMN, RecDataset
from kgrec.data.readers._lines import (
    Column,
    OnError,
    SkipLog,
    check_ids_writable,
    check_on_error,
    drop_or_raise,
    read_ragged_ints,
    read_table,
    rows_by_part,
    write_rows,
)
from kgrec.exceptions import DataWarning

RawIds = Literal["remap", "org"]
PARTS = ("train", "test")
LIST_FILES = {
    "user": "user_list.txt",
    "item": "item_list.txt",
    "entity": "entity_list.txt",
    "relation": "relation_list.txt",
}


def read_kgat(folder: str | Path, *, raw_ids: RawIds = "remap", on_error: OnError = "raise") -> RecDataset:
    """Read a KGAT-style folder; the dataset holds the train and test interactions together.

    Args:
        folder: the folder with ``train.txt`` (required) and the optional files.
        raw_ids: ``"remap"`` keeps the files' integer ids as raw ids (so local index == remap
            id when the lists are complete); ``"org"`` uses the ``org_id`` column of each id
            list that is present (ASINs, Freebase MIDs, ...).
        on_error: ``"raise"`` at the first bad line, or ``"skip"`` bad lines (malformed lines
            and ids missing from the id lists), counted in ``report`` with one DataWarning.

    See :func:`read_kgat_split` for the train / test rows.
    """
    return read_kgat_split(folder, raw_ids=raw_ids, on_error=on_error)[0]


def read_kgat_split(
    folder: str | Path, *, raw_ids: RawIds = "remap", on_error: OnError = "raise"
) -> tuple[RecDataset, dict[str, np.ndarray]]:
    """Like :func:`read_kgat`, plus ``{"train": rows, "test": rows}``: int64 interaction rows.

    A (user, item) pair listed twice keeps its first occurrence (train before test), so the
    parts never overlap; ``report["merged_duplicates"]`` counts the dropped repeats.

    Raises:
        DataFormatError: a malformed line, or (when the id lists exist) a user / item / entity
            / relation id missing from its list; the message names the file, line and field.
    """
    check_on_error(on_error)
    if raw_ids not in ("remap", "org"):
        raise ValueError(f"raw_ids must be 'remap' or 'org' (got {raw_ids!r})")
    folder = Path(folder)
    log = SkipLog()
    report: dict[str, int] = {}
    lists = {
        kind: _read_id_list(folder / fname, kind=kind, on_error=on_error, log=log)
        for kind, fname in LIST_FILES.items()
        if (folder / fname).is_file()
    }
    if not (folder / "train.txt").is_file():
        raise FileNotFoundError(f"{folder / 'train.txt'}: no such file (a KGAT folder needs train.txt)")

    frames, lone_users = [], []
    for code, part in enumerate(PARTS):
        path = folder / f"{part}.txt"
        if not path.is_file():
            continue
        ragged = read_ragged_ints(path, head_field="user", value_field="item", on_error=on_error, allow_empty=part != "train")
        log.add(path, ragged.skipped)
        empty = ragged.lengths == 0
        if empty.any():
            report[f"{part}_users_without_items"] = int(empty.sum())
        heads = pd.DataFrame({"user": ragged.heads[empty], LINE_COLUMN: ragged.lines[empty]})
        pairs = ragged.pairs("user", "item")
        if "user" in lists:
            known = lists["user"]["remap_id"].to_numpy()
            heads = _known_only(heads, "user", known, path, on_error, log)
            pairs = _known_only(pairs, "user", known, path, on_error, log)
        if "item" in lists:
            pairs = _known_only(pairs, "item", lists["item"]["remap_id"].to_numpy(), path, on_error, log)
        lone_users.append(heads["user"].to_numpy())
        pairs["part"] = code
        frames.append(pairs)
    inter = pd.concat(frames, ignore_index=True)

    triples = None
    kg_path = folder / "kg_final.txt"
    if kg_path.is_file():
        kg_cols = [Column("head", "int"), Column("relation", "int"), Column("tail", "int")]
        table = read_table(kg_path, kg_cols, sep=None, on_error=on_error, allow_empty=True)
        log.add(kg_path, table.skipped)
        triples = table.frame
        if "entity" in lists:
            known = lists["entity"]["remap_id"].to_numpy()
            triples = _known_only(triples, "head", known, kg_path, on_error, log)
            triples = _known_only(triples, "tail", known, kg_path, on_error, log)
        if "relation" in lists:
            triples = _known_only(triples, "relation", lists["relation"]["remap_id"].to_numpy(), kg_path, on_error, log)
        triples = triples.drop(columns=[LINE_COLUMN])

    # ---- catalogue and the item i == entity i alignment
    item_ids = (
        lists["item"]["remap_id"].to_numpy() if "item" in lists else np.unique(inter["item"].to_numpy())
    )
    item_entities = None
    if triples is not None or "entity" in lists:
        linked = item_ids if "entity" not in lists else item_ids[np.isin(item_ids, lists["entity"]["remap_id"].to_numpy())]
        item_entities = pd.DataFrame({"item": linked, "entity": linked})
    users = np.unique(np.concatenate([*lone_users, lists["user"]["remap_id"].to_numpy() if "user" in lists else []]).astype(np.int64))

    # ---- raw ids: the remap ints, or the org ids of the lists present
    def raw(kind: str, values: np.ndarray) -> np.ndarray:
        if raw_ids == "remap" or kind not in lists:
            return np.asarray(values)
        table = lists[kind]
        index = pd.Index(table["remap_id"].to_numpy())
        return table["org_id"].to_numpy(dtype=object)[index.get_indexer(np.asarray(values, dtype=np.int64))]

    frame = pd.DataFrame(
        {
            "user": raw("user", inter["user"].to_numpy()),
            "item": raw("item", inter["item"].to_numpy()),
            LINE_COLUMN: inter[LINE_COLUMN].to_numpy(),
        }
    )
    if triples is not None:
        triples = pd.DataFrame(
            {
                "head": raw("entity", triples["head"].to_numpy()),
                "relation": raw("relation", triples["relation"].to_numpy()),
                "tail": raw("entity", triples["tail"].to_numpy()),
            }
        )
    if item_entities is not None:
        item_entities = pd.DataFrame(
            {"item": raw("item", item_entities["item"].to_numpy()), "entity": raw("entity", item_entities["entity"].to_numpy())}
        )
    log.warn(folder)
    report.update(log.report())
    dataset = RecDataset.from_frames(
        frame,
        item_entities=item_entities,
        triples=triples,
        items=raw("item", item_ids).tolist(),
        users=raw("user", users).tolist(),
        entities=raw("entity", lists["entity"]["remap_id"].to_numpy()).tolist() if "entity" in lists else None,
        relations=raw("relation", lists["relation"]["remap_id"].to_numpy()).tolist() if "relation" in lists else None,
        duplicates="first",
        source=str(folder),
        name=folder.name,
        report=report,
    )
    return dataset, rows_by_part(dataset, frame, inter["part"].to_numpy(), PARTS)


def write_kgat(
    dataset: RecDataset,
    folder: str | Path,
    parts: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Path]:
    """Write ``dataset`` in KGAT's layout; read it back with ``read_kgat(folder, raw_ids="org")``.

    Args:
        dataset: the dataset; local indices become the remap ids.
        folder: the output folder (created if needed).
        parts: ``{"train": rows, "test": rows}`` interaction rows per file; ``None`` writes
            every interaction to ``train.txt`` and no ``test.txt``. Each file gets one line
            per user, a bare ``user`` when the user has no item in that part (as in KGAT's
            own files), so users without interactions survive too.

    Writes ``train.txt`` (and ``test.txt``), ``user_list.txt`` and ``item_list.txt`` always, and
    ``entity_list.txt``, ``relation_list.txt``, ``kg_final.txt`` when the dataset has entities.
    KGAT needs item remap ``i`` == entity remap ``i``: items without an entity get a
    placeholder entity ``item:<raw id>``. Interaction values (ratings, ...) and user links
    cannot be stored in this format: user links are dropped with a DataWarning.

    Raises:
        ValueError: an unknown part name, rows out of range, two items sharing one entity, or
            a raw id the format cannot hold (whitespace in a user / item id, newline or tab in
            an entity / relation id).
    """
    folder = Path(folder)
    parts = {"train": np.arange(dataset.num_interactions)} if parts is None else dict(parts)
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"parts must be named 'train' / 'test' (got {unknown})")
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    users = dataset.interactions["user"].to_numpy()
    items = dataset.interactions["item"].to_numpy()
    for part, rows in parts.items():
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= dataset.num_interactions):
            raise ValueError(f"parts[{part!r}] holds rows outside 0..{dataset.num_interactions - 1}")
        # one line per user, as KGAT writes them: "user item item ..." or just "user"
        item_text = (
            pd.Series(items[rows].astype(str), dtype=object)
            .groupby(users[rows], sort=True)
            .agg(" ".join)
            .reindex(np.arange(dataset.num_users), fill_value="")
        )
        line_text = (pd.Series(np.arange(dataset.num_users).astype(str), dtype=object) + " " + item_text.to_numpy()).str.rstrip()
        written[part] = folder / f"{part}.txt"
        write_rows(written[part], [line_text.to_numpy()], sep=" ")

    written["user_list"] = folder / "user_list.txt"
    user_org = check_ids_writable(dataset.users.raw_ids, what="user", forbidden=" \t\n\r")
    write_rows(written["user_list"], [user_org, np.arange(len(user_org)).astype(str)], sep=" ", header="org_id remap_id")

    item_org = check_ids_writable(dataset.items.raw_ids, what="item", forbidden=" \t\n\r")
    item_cols = [item_org, np.arange(len(item_org)).astype(str)]
    item_header = "org_id remap_id"
    if dataset.num_entities or len(dataset.triples):
        entity_org, entity_remap = _entity_order(dataset)
        entity_text = check_ids_writable(entity_org, what="entity", forbidden="\t\n\r")
        item_entity_text = entity_text[: dataset.num_items]
        if not pd.Series(item_entity_text, dtype=object).str.contains(r"\s", regex=True).any():
            item_cols.append(item_entity_text)
            item_header += " freebase_id"
        written["entity_list"] = folder / "entity_list.txt"
        write_rows(written["entity_list"], [entity_text, np.arange(len(entity_text)).astype(str)], sep=" ", header="org_id remap_id")
        relation_text = check_ids_writable(dataset.relations.raw_ids, what="relation", forbidden="\t\n\r")
        written["relation_list"] = folder / "relation_list.txt"
        write_rows(written["relation_list"], [relation_text, np.arange(len(relation_text)).astype(str)], sep=" ", header="org_id remap_id")
        written["kg_final"] = folder / "kg_final.txt"
        kg = dataset.triples
        write_rows(
            written["kg_final"],
            [
                entity_remap[kg["head"].to_numpy()].astype(str),
                kg["relation"].to_numpy().astype(str),
                entity_remap[kg["tail"].to_numpy()].astype(str),
            ],
            sep=" ",
        )
    written["item_list"] = folder / "item_list.txt"
    write_rows(written["item_list"], item_cols, sep=" ", header=item_header)
    if len(dataset.user_links):
        warnings.warn(
            f"write_kgat: {len(dataset.user_links)} user link(s) dropped (KGAT's format has no place for them)",
            DataWarning,
            stacklevel=2,
        )
    return written


# ---------------------------------------------------------------------- helpers
def _read_id_list(path: Path, *, kind: str, on_error: OnError, log: SkipLog) -> pd.DataFrame:
    """``org_id``, ``remap_id`` (and ``freebase_id`` for items) of one id list, validated unique.

    Entity and relation names may hold spaces (KG literals such as ``"I Love You``), so those
    lists are split from the right; their ``org_id`` may even be empty.
    """
    if kind == "item":
        columns = [Column("org_id"), Column("remap_id", "int"), Column("freebase_id", required=False)]
        table = read_table(path, columns, sep=None, header="auto", on_error=on_error)
    else:
        columns = [Column("org_id", allow_empty=kind in ("entity", "relation")), Column("remap_id", "int")]
        table = read_table(path, columns, sep=" ", header="auto", on_error=on_error, rsplit=True)
    log.add(path, table.skipped)
    frame = table.frame
    for col in ("remap_id", "org_id"):
        dup = frame[col].duplicated().to_numpy()
        frame = drop_or_raise(
            frame,
            dup,
            kind="duplicate_id",
            field=col,
            message=lambda pos, col=col, frame=frame: f"{col} {frame[col].to_numpy(dtype=object)[pos]!r} appears twice in the list",
            file=path,
            on_error=on_error,
            log=log,
        )
    return frame


def _known_only(
    frame: pd.DataFrame, column: str, known: np.ndarray, path: Path, on_error: OnError, log: SkipLog
) -> pd.DataFrame:
    """Reject rows whose id in ``column`` is missing from its id list."""
    values = frame[column].to_numpy()
    bad = ~np.isin(values, known)
    list_name = LIST_FILES["entity" if column in ("head", "tail") else column]
    return drop_or_raise(
        frame,
        bad,
        kind="unknown_id",
        field=column,
        message=lambda pos: (
            f"{column} id {int(values[pos])} is not in {list_name} "
            f"({len(known)} ids listed, e.g. {known[:3].tolist()})"
        ),
        file=path,
        on_error=on_error,
        log=log,
    )


def _entity_order(dataset: RecDataset) -> tuple[np.ndarray, np.ndarray]:
    """Entity raw ids in KGAT order (item ``i``'s entity first, at position ``i``) and the
    local entity index -> remap id array."""
    n_items, n_ent = dataset.num_items, dataset.num_entities
    item_entity = dataset.item_entity
    linked = item_entity[item_entity >= 0]
    shared = pd.Series(linked).duplicated()
    if shared.any():
        ent = int(linked[shared.to_numpy()][0])
        owners = dataset.items.to_raw(np.flatnonzero(item_entity == ent)).tolist()
        raise ValueError(
            f"KGAT's format needs one entity per item (item remap i == entity remap i), but items "
            f"{owners} share entity {dataset.entities.to_raw(ent)!r}"
        )
    unlinked = np.flatnonzero(item_entity < 0)
    placeholders = np.asarray([f"item:{r}" for r in dataset.items.to_raw(unlinked)], dtype=object)
    clash = np.isin(placeholders, dataset.entities.raw_ids.astype(object))
    if clash.any():
        raise ValueError(
            f"item {dataset.items.to_raw(unlinked[clash][0])!r} has no entity and its placeholder "
            f"entity name {placeholders[clash][0]!r} is already taken"
        )
    item_names = np.empty(n_items, dtype=object)
    item_names[item_entity >= 0] = dataset.entities.raw_ids.astype(object)[linked]
    item_names[unlinked] = placeholders
    remap = np.full(n_ent, -1, dtype=np.int64)
    remap[linked] = np.flatnonzero(item_entity >= 0)
    rest = np.flatnonzero(remap < 0)
    remap[rest] = n_items + np.arange(len(rest))
    names = np.concatenate([item_names, dataset.entities.raw_ids.astype(object)[rest]])
    return names, remap
