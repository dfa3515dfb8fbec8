"""KGCN / RippleNet / MKR layout: a ratings file, ``kg.txt`` and ``item_index2entity_id.txt``.

Ratings come in one of three shapes, recognised by file name (or sniffed from the first line):

* ``ratings_final.txt``: ``user\\titem\\tlabel`` with labels 0 / 1; only label 1 is kept
  (the 0s are the sampled negatives of those papers; ``report["dropped_negative_labels"]``);
* ``ratings.dat``: MovieLens-1M style ``user::item::rating::timestamp``;
* ``user_artists.dat``: Last.FM HetRec style, header ``userID\\tartistID\\tweight``.

``kg.txt`` holds ``head\\trelation\\ttail`` and ``item_index2entity_id.txt`` maps the ratings'
item ids to KG entities (``raw_item_id\\tentity_id``). Ids become ints when every id of one kind
is a canonical integer, and stay strings otherwise (``"0012"`` keeps its zeros).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from kgrec.data.dataset import LINE_COLUMN, DuplicatePolicy, RecDataset
from kgrec.data.readers._lines import (
    Column,
    OnError,
    SkipLog,
    check_ids_writable,
    check_on_error,
    maybe_int,
    read_lines,
    read_table,
    write_rows,
)

RatingsFormat = Literal["final", "dat", "artists"]
RATINGS_FILES: dict[str, RatingsFormat] = {
    "ratings_final.txt": "final",
    "ratings.dat": "dat",
    "user_artists.dat": "artists",
}
LINK_FILE = "item_index2entity_id.txt"
_FORBIDDEN = "\t\n\r"


def read_kgcn(
    folder: str | Path,
    *,
    ratings_file: str | Path | None = None,
    kg_file: str | Path | None = None,
    rating_threshold: float | None = None,
    duplicates: DuplicatePolicy = "first",
    on_error: OnError = "raise",
) -> RecDataset:
    """Read a KGCN-style folder into a RecDataset.

    Args:
        folder: the folder holding the files.
        ratings_file: the ratings file (a name inside ``folder`` or a path); ``None`` takes the
            first of ``ratings_final.txt``, ``ratings.dat``, ``user_artists.dat`` present. An
            unknown name is sniffed: ``::`` means ``ratings.dat``, a non-numeric first line a
            header (``user_artists.dat`` style), otherwise ``user item label``.
        kg_file: the KG file; ``None`` takes ``kg.txt``, else ``kg_final.txt`` when present.
        rating_threshold: keep ratings ``>= threshold`` (``ratings.dat`` only; KGCN used 4).
        duplicates: policy for repeated (user, item) pairs, see ``RecDataset.from_frames``.
        on_error: ``"raise"`` at the first bad line, or ``"skip"`` bad lines (counted in
            ``report`` with one DataWarning).

    The alignment comes from ``item_index2entity_id.txt``; without it, when the KG is
    ``kg_final.txt`` and the ratings ``ratings_final.txt`` (both already remapped by the
    papers' preprocessing), item ``i`` is entity ``i``. Items without an entity are kept
    (unlinked), unlike the papers' preprocessing, which drops their ratings.
    """
    check_on_error(on_error)
    folder = Path(folder)
    log = SkipLog()
    report: dict[str, int] = {}
    ratings_path, fmt = _ratings_path(folder, ratings_file)
    inter = _read_ratings(ratings_path, fmt, on_error=on_error, log=log, report=report)

    kg_path = _kg_path(folder, kg_file)
    triples = None
    if kg_path is not None:
        table = read_table(
            kg_path,
            [Column("head"), Column("relation"), Column("tail")],
            sep="\t",
            on_error=on_error,
            allow_empty=True,
        )
        log.add(kg_path, table.skipped)
        triples = table.frame.drop(columns=[LINE_COLUMN])

    link_path = folder / LINK_FILE
    links = None
    if link_path.is_file():
        table = read_table(link_path, [Column("item"), Column("entity")], sep="\t", on_error=on_error, allow_empty=True)
        log.add(link_path, table.skipped)
        links = table.frame.drop(columns=[LINE_COLUMN])
    elif kg_path is not None and kg_path.name == "kg_final.txt" and fmt == "final":
        items = pd.unique(inter["item"].to_numpy())
        links = pd.DataFrame({"item": items, "entity": items})

    # ---- one id type per id space: ints when every id of that kind is a canonical int
    item_cols = [inter["item"].to_numpy()] + ([links["item"].to_numpy()] if links is not None else [])
    converted = maybe_int(*item_cols)
    inter["item"] = converted[0]
    (inter["user"],) = maybe_int(inter["user"].to_numpy())
    entity_cols = []
    if triples is not None:
        entity_cols += [triples["head"].to_numpy(), triples["tail"].to_numpy()]
    if links is not None:
        entity_cols.append(links["entity"].to_numpy())
    entities = maybe_int(*entity_cols)
    if triples is not None:
        (relations,) = maybe_int(triples["relation"].to_numpy())
        triples = pd.DataFrame({"head": entities[0], "relation": relations, "tail": entities[1]})
    if links is not None:
        links = pd.DataFrame({"item": converted[1], "entity": entities[-1]})

    log.warn(ratings_path)
    report.update(log.report())
    return RecDataset.from_frames(
        inter,
        item_entities=links,
        triples=triples,
        rating_threshold=rating_threshold,
        duplicates=duplicates,
        source=str(ratings_path),
        name=folder.name,
        report=report,
    )


def write_kgcn(dataset: RecDataset, folder: str | Path) -> dict[str, Path]:
    """Write ``ratings_final.txt`` (every interaction with label 1), ``kg.txt`` and
    ``item_index2entity_id.txt`` with raw ids; ``read_kgcn(folder)`` reads them back.

    Interaction values, users without interactions and user links are not part of this
    format. Returns the written paths by name.

    Raises:
        ValueError: a raw id is empty or holds a tab or newline.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    inter = dataset.raw_interactions()
    written = {"ratings": folder / "ratings_final.txt", "kg": folder / "kg.txt", "links": folder / LINK_FILE}
    write_rows(
        written["ratings"],
        [
            check_ids_writable(inter["user"], what="user", forbidden=_FORBIDDEN),
            check_ids_writable(inter["item"], what="item", forbidden=_FORBIDDEN),
            np.full(len(inter), "1", dtype=object),
        ],
        sep="\t",
    )
    kg = dataset.raw_triples()
    write_rows(
        written["kg"],
        [
            check_ids_writable(kg["head"], what="entity", forbidden=_FORBIDDEN),
            check_ids_writable(kg["relation"], what="relation", forbidden=_FORBIDDEN),
            check_ids_writable(kg["tail"], what="entity", forbidden=_FORBIDDEN),
        ],
        sep="\t",
    )
    linked = np.flatnonzero(dataset.item_entity >= 0)
    write_rows(
        written["links"],
        [
            check_ids_writable(dataset.items.to_raw(linked), what="item", forbidden=_FORBIDDEN),
            check_ids_writable(dataset.entities.to_raw(dataset.item_entity[linked]), what="entity", forbidden=_FORBIDDEN),
        ],
        sep="\t",
    )
    return written


# ---------------------------------------------------------------------- helpers
def _ratings_path(folder: Path, ratings_file: str | Path | None) -> tuple[Path, RatingsFormat]:
    if ratings_file is None:
        for name, fmt in RATINGS_FILES.items():
            if (folder / name).is_file():
                return folder / name, fmt
        raise FileNotFoundError(
            f"{folder}: no ratings file; expected one of {list(RATINGS_FILES)} or pass ratings_file="
        )
    path = Path(ratings_file)
    if not path.is_absolute() and not path.is_file():
        path = folder / path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ratings file")
    return path, RATINGS_FILES.get(path.name) or _sniff(path)


def _sniff(path: Path) -> RatingsFormat:
    """Guess the ratings format of a file with an unknown name from its first line."""
    lines, _ = read_lines(path)
    first = lines[0]
    if "::" in first:
        return "dat"
    cells = first.split("\t")
    try:
        float(cells[-1])
    except ValueError:
        return "artists"
    return "final"


def _kg_path(folder: Path, kg_file: str | Path | None) -> Path | None:
    if kg_file is not None:
        path = Path(kg_file)
        path = path if path.is_file() else folder / path
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such KG file")
        return path
    for name in ("kg.txt", "kg_final.txt"):
        if (folder / name).is_file():
            return folder / name
    return None


def _read_ratings(
    path: Path, fmt: RatingsFormat, *, on_error: OnError, log: SkipLog, report: dict[str, int]
) -> pd.DataFrame:
    """The ratings as a ``from_frames`` interaction frame (raw ids as text, ``_line`` kept)."""
    if fmt == "dat":
        columns = [Column("user"), Column("item"), Column("rating", "float"), Column("timestamp", "float")]
        table = read_table(path, columns, sep="::", on_error=on_error)
    elif fmt == "artists":
        columns = [Column("user"), Column("item"), Column("weight", "float")]
        table = read_table(path, columns, sep="\t", header="auto", on_error=on_error)
    else:
        columns = [Column("user"), Column("item"), Column("label", "int", choices=(0, 1))]
        table = read_table(path, columns, sep="\t", on_error=on_error)
    log.add(path, table.skipped)
    frame = table.frame
    if fmt == "final":
        negative = frame["label"].to_numpy() == 0
        report["dropped_negative_labels"] = int(negative.sum())
        frame = frame[~negative].drop(columns=["label"]).reset_index(drop=True)
    frame["user"] = frame["user"].astype(object)
    frame["item"] = frame["item"].astype(object)
    return frame
