"""Last.FM (HetRec 2011) as split for the LightGCN experiments, with its social graph.

Files: ``data1.txt`` (train) and ``test1.txt`` (test), ``user\\tartist\\tlisten_count``; and
``trustnetwork.txt``, ``user\\tuser`` friendship pairs. Ids are kept as in the files (integers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.data.dataset import RecDataset
from kgrec.data.readers._lines import (
    Column,
    OnError,
    SkipLog,
    check_on_error,
    read_table,
    rows_by_part,
)

PARTS = ("train", "test")
FILES = {"train": "data1.txt", "test": "test1.txt"}
FRIEND_RELATION = "friend"


def read_lastfm_social(
    folder: str | Path, *, on_error: OnError = "raise"
) -> tuple[RecDataset, dict[str, np.ndarray]]:
    """Read the Last.FM social split: the dataset and ``{"train": rows, "test": rows}``.

    Listen counts become the interaction ``weight``. Each friendship pair ``(a, b)`` becomes a
    user link ``a --friend--> "friend=b"`` (as given in the file, no symmetrisation); users who
    appear only in the trust network are kept as users without interactions.
    """
    check_on_error(on_error)
    folder = Path(folder)
    log = SkipLog()
    columns = [Column("user", "int"), Column("item", "int"), Column("weight", "float")]
    frames = []
    for code, part in enumerate(PARTS):
        path = folder / FILES[part]
        table = read_table(path, columns, sep="\t", on_error=on_error)
        log.add(path, table.skipped)
        frames.append(table.frame.assign(part=code))
    inter = pd.concat(frames, ignore_index=True)

    friends = None
    trust_path = folder / "trustnetwork.txt"
    if trust_path.is_file():
        table = read_table(trust_path, [Column("user", "int"), Column("friend", "int")], sep="\t", on_error=on_error)
        log.add(trust_path, table.skipped)
        friends = table.frame[["user", "friend"]]

    log.warn(folder)
    dataset = RecDataset.from_frames(
        inter.drop(columns=["part"]),
        user_attributes=friends,
        duplicates="first",
        source=str(folder),
        name=folder.name,
        report=log.report(),
    )
    return dataset, rows_by_part(dataset, inter, inter["part"].to_numpy(), PARTS)
