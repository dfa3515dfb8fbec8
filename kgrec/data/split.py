"""Seeded, deterministic, leak-free splits of a RecDataset's interactions.

A :class:`Split` keeps the full dataset (id maps, KG, attribute links are shared by every part)
and, per part, the row indices of its interactions. Every strategy puts each (user, item) pair
in exactly one part; the cold-item strategy puts no interaction of a held-out item in train
while its attribute and KG links stay in the dataset.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from kgrec.data.dataset import LINE_COLUMN, RecDataset
from kgrec.exceptions import DataFormatError

logger = logging.getLogger(__name__)

Strategy = Literal["random", "loo", "temporal", "user-temporal", "cold-item"]
STRATEGIES: tuple[str, ...] = ("random", "loo", "temporal", "user-temporal", "cold-item")
PART_NAMES = ("train", "valid", "test")


@dataclass(eq=False)
class Split:
    """A dataset and the interaction rows of each part (``train``, ``valid``, ``test``)."""

    dataset: RecDataset
    parts: dict[str, np.ndarray]
    report: dict[str, Any] = field(default_factory=dict)

    def part(self, name: str) -> RecDataset:
        if name not in self.parts:
            raise KeyError(f"unknown split part {name!r}; this split has {sorted(self.parts)}")
        return self.dataset.subset(self.parts[name], name=f"{self.dataset.name}:{name}")

    @property
    def train(self) -> RecDataset:
        return self.part("train")

    @property
    def valid(self) -> RecDataset | None:
        return self.part("valid") if "valid" in self.parts else None

    @property
    def test(self) -> RecDataset:
        return self.part("test")

    def cold_items(self) -> np.ndarray:
        """Items with no train interaction that appear in another part (sorted indices)."""
        inter = self.dataset.interactions
        in_train = np.zeros(self.dataset.num_items, dtype=bool)
        in_train[inter["item"].to_numpy()[self.parts["train"]]] = True
        elsewhere = np.zeros(self.dataset.num_items, dtype=bool)
        for name, rows in self.parts.items():
            if name != "train":
                elsewhere[inter["item"].to_numpy()[rows]] = True
        return np.flatnonzero(elsewhere & ~in_train)

    def sizes(self) -> dict[str, int]:
        return {name: int(len(rows)) for name, rows in self.parts.items()}

    def __repr__(self) -> str:
        return f"Split({self.dataset.name!r}, {self.sizes()}, strategy={self.report.get('strategy')!r})"


# ---------------------------------------------------------------------- strategies
def _check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    if len(ratios) != 3 or any(r < 0 for r in ratios) or not np.isclose(sum(ratios), 1.0):
        raise ValueError(f"ratios must be three non-negative numbers summing to 1 (got {list(ratios)})")
    return float(ratios[0]), float(ratios[1]), float(ratios[2])


def _rank_within_user(users: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order rows by (user, key); return that order and each row's rank inside its user."""
    order = np.lexsort((key, users))
    sorted_users = users[order]
    starts = np.searchsorted(sorted_users, sorted_users, side="left")
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users)) - starts
    return order, rank


def _per_user_cut(
    ds: RecDataset, key: np.ndarray, ratios: tuple[float, float, float], *, min_interactions: int = 3
) -> dict[str, np.ndarray]:
    """Per user, the rows with the highest ``key`` go to test, the next to valid, rest to train.

    A user with ``n >= min_interactions`` gives ``max(1, round(n * r))`` rows to each non-empty
    held-out part (round half up, as ``(n + 5) // 10`` for r = 0.1); smaller users keep all
    interactions in train so nobody vanishes from training.
    """
    users = ds.interactions["user"].to_numpy()
    counts = np.bincount(users, minlength=ds.num_users)
    n = counts[users]
    _, rank = _rank_within_user(users, -key)  # rank 0 = highest key
    n_test = np.where(ratios[2] > 0, np.maximum(1, np.floor(n * ratios[2] + 0.5)), 0).astype(np.int64)
    n_valid = np.where(ratios[1] > 0, np.maximum(1, np.floor(n * ratios[1] + 0.5)), 0).astype(np.int64)
    small = n < min_interactions
    n_test[small] = 0
    n_valid[small] = 0
    test = rank < n_test
    valid = ~test & (rank < n_test + n_valid)
    train = ~test & ~valid
    return {"train": np.flatnonzero(train), "valid": np.flatnonzero(valid), "test": np.flatnonzero(test)}


def _timestamps(ds: RecDataset, strategy: str) -> np.ndarray:
    if "timestamp" not in ds.interactions:
        raise ValueError(
            f"strategy {strategy!r} needs interaction timestamps, and this dataset has none "
            f"(columns {list(ds.interactions.columns)}); use 'random' or 'loo' instead"
        )
    return ds.interactions["timestamp"].to_numpy()


def split_dataset(
    dataset: RecDataset,
    *,
    strategy: Strategy = "random",
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 2026,
    loo_by: Literal["timestamp", "random"] = "timestamp",
) -> Split:
    """Split ``dataset`` with one of :data:`STRATEGIES`.

    - ``random``: per user, a random ``ratios`` share of their interactions to each part.
    - ``loo``: leave-one-out; per user the latest interaction (by timestamp, ties at random, or
      at random with ``loo_by="random"``) to test and the one before to valid (when
      ``ratios[1] > 0``); users with fewer than 3 interactions keep all in train.
    - ``temporal``: one global time cut-off; the earliest ``ratios[0]`` of all interactions to
      train, then valid, then test.
    - ``user-temporal``: per user, the latest interactions to test, earlier ones to valid.
    - ``cold-item``: ``ratios[1] + ratios[2]`` of the items (with interactions) are held out
      entirely; their interactions go to valid / test (items, not rows, are divided in the ratio
      ``ratios[1] : ratios[2]``), every other interaction to train. Held-out items keep their
      attribute and KG links.

    The same seed always gives the same split.
    """
    r = _check_ratios(ratios)
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown split strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)}")
    rng = np.random.default_rng(seed)
    inter = dataset.interactions
    n_rows = len(inter)
    noise = rng.random(n_rows)
    if strategy == "random":
        parts = _per_user_cut(dataset, noise, r)
    elif strategy == "loo":
        key = noise if loo_by == "random" else _timestamps(dataset, "loo") + noise * 1e-6
        users = inter["user"].to_numpy()
        _, rank = _rank_within_user(users, -key)
        counts = np.bincount(users, minlength=dataset.num_users)[users]
        big = counts >= 3
        test = big & (rank == 0)
        valid = big & (rank == 1) if r[1] > 0 else np.zeros(n_rows, dtype=bool)
        parts = {"train": np.flatnonzero(~test & ~valid), "valid": np.flatnonzero(valid), "test": np.flatnonzero(test)}
    elif strategy == "temporal":
        ts = _timestamps(dataset, "temporal")
        order = np.lexsort((noise, ts))
        n_train = int(np.floor(n_rows * r[0] + 0.5))
        n_valid = int(np.floor(n_rows * r[1] + 0.5))
        parts = {
            "train": np.sort(order[:n_train]),
            "valid": np.sort(order[n_train : n_train + n_valid]),
            "test": np.sort(order[n_train + n_valid :]),
        }
    elif strategy == "user-temporal":
        parts = _per_user_cut(dataset, _timestamps(dataset, "user-temporal") + noise * 1e-6, r)
    else:
        items_seen = np.unique(inter["item"].to_numpy())
        n_held = int(np.floor(len(items_seen) * (r[1] + r[2]) + 0.5))
        held = rng.permutation(items_seen)[:n_held]
        n_valid_items = int(np.floor(n_held * r[1] / (r[1] + r[2]) + 0.5)) if n_held else 0
        where = np.zeros(dataset.num_items, dtype=np.int8)  # 0 train, 1 valid, 2 test
        where[held[:n_valid_items]] = 1
        where[held[n_valid_items:]] = 2
        row_part = where[inter["item"].to_numpy()]
        parts = {name: np.flatnonzero(row_part == k) for k, name in enumerate(PART_NAMES)}
    split = Split(dataset=dataset, parts=parts)
    split.report = split_report(split, strategy=strategy, seed=seed, ratios=r)
    return split


def hold_out_valid(
    split: Split, *, fraction: float = 0.1, seed: int = 2026, min_interactions: int = 3
) -> Split:
    """``split`` with a validation part carved out of its train part; the test part is untouched.

    For fixed train / test files without a validation part (KGAT's and LightGCN's published
    splits): choosing epochs or hyper-parameters on the test part leaks it into the result. Per
    user with ``n >= min_interactions`` training rows, a random ``max(1, round(n * fraction))``
    of them (round half up, as :func:`split_dataset`) move to valid; smaller users keep all in
    train. The same seed always gives the same parts.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"expected 0 < fraction < 1 (got {fraction})")
    held = split.parts.get("valid")
    if held is not None and len(held):
        raise ValueError(f"the split already has a valid part ({len(held)} rows)")
    rows = split.parts["train"]
    users = split.dataset.interactions["user"].to_numpy()[rows]
    _, rank = _rank_within_user(users, np.random.default_rng(seed).random(len(rows)))
    n = np.bincount(users, minlength=split.dataset.num_users)[users]
    k = np.maximum(1, np.floor(n * fraction + 0.5)).astype(np.int64)
    valid = (rank < k) & (n >= min_interactions)
    parts = {**split.parts, "train": rows[~valid], "valid": rows[valid]}
    out = Split(dataset=split.dataset, parts={name: parts[name] for name in PART_NAMES if name in parts})
    out.report = split_report(
        out, **{k: v for k, v in split.report.items() if not isinstance(v, dict | list)},
        valid_held_out={"fraction": fraction, "seed": seed, "min_interactions": min_interactions},
    )  # fmt: skip
    return out


def split_report(split: Split, **settings: Any) -> dict[str, Any]:
    """Sizes of each part and the users / items that vanish from train (counted, not hidden)."""
    ds = split.dataset
    inter = ds.interactions
    train_users = np.zeros(ds.num_users, dtype=bool)
    train_items = np.zeros(ds.num_items, dtype=bool)
    train_users[inter["user"].to_numpy()[split.parts["train"]]] = True
    train_items[inter["item"].to_numpy()[split.parts["train"]]] = True
    report: dict[str, Any] = {**settings, "sizes": split.sizes()}
    for name, rows in split.parts.items():
        if name == "train":
            continue
        u = np.unique(inter["user"].to_numpy()[rows])
        i = np.unique(inter["item"].to_numpy()[rows])
        report[f"{name}_users_without_train"] = int((~train_users[u]).sum())
        report[f"{name}_items_without_train"] = int((~train_items[i]).sum())
    report["items_without_train"] = int((~train_items).sum())
    report["users_without_train"] = int((~train_users).sum())
    return report


# ---------------------------------------------------------------------- fixed split files
def _read_pairs(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False, comment=None)
    except pd.errors.EmptyDataError:
        raise DataFormatError("empty split file (expected lines 'user<TAB>item')", file=path) from None
    if frame.shape[1] < 2:
        raise DataFormatError(
            f"expected at least 2 tab-separated columns 'user<TAB>item' (got {frame.shape[1]})", file=path, line=1
        )
    frame = frame.iloc[:, :2]
    frame.columns = ["user", "item"]
    frame[LINE_COLUMN] = np.arange(1, len(frame) + 1)
    for col in ("user", "item"):
        empty = (frame[col].str.strip() == "").to_numpy()
        if empty.any():
            raise DataFormatError("empty id", file=path, line=int(np.flatnonzero(empty)[0]) + 1, field=col)
    return frame


def _as_raw_type(values: pd.Series, *, as_int: bool, path: Path, field_name: str) -> np.ndarray:
    if not as_int:
        return values.to_numpy(dtype=object)
    parsed = pd.to_numeric(values, errors="coerce")
    if parsed.isna().any():
        pos = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise DataFormatError(
            f"expected an integer id (got {values.iloc[pos]!r})", file=path, line=pos + 1, field=field_name
        )
    return parsed.to_numpy(dtype=np.int64)


def load_split_files(
    train: str | Path,
    valid: str | Path | None,
    test: str | Path,
    *,
    dataset: RecDataset | None = None,
    name: str = "split",
) -> Split:
    """A fixed split from tab-separated ``user<TAB>item`` files with raw ids (no header).

    With ``dataset`` (e.g. the KG-linked dataset the files were cut from) the ids are resolved
    against its id maps, and an id it does not know is a :class:`DataFormatError` naming the
    file, line and field; its KG and links are kept, and value columns (rating, timestamp) are
    carried over for pairs it has. Without ``dataset`` a plain dataset is built from the files
    (integer-looking ids become ints). A pair in two files is an error: that is leakage.
    """
    paths = {"train": Path(train), "valid": Path(valid) if valid else None, "test": Path(test)}
    frames = {k: _read_pairs(p) for k, p in paths.items() if p is not None}
    if dataset is None:
        as_int = all(
            pd.to_numeric(f[c], errors="coerce").notna().all() for f in frames.values() for c in ("user", "item")
        )
        user_int = item_int = as_int
    else:
        user_int, item_int = not dataset.users.is_str, not dataset.items.is_str
    raw = []
    for part, frame in frames.items():
        path = paths[part]
        assert path is not None
        users = _as_raw_type(frame["user"], as_int=user_int, path=path, field_name="user")
        items = _as_raw_type(frame["item"], as_int=item_int, path=path, field_name="item")
        if dataset is not None:
            for field_name, ids, idmap in (("user", users, dataset.users), ("item", items, dataset.items)):
                unknown = idmap.lookup(ids) < 0
                if unknown.any():
                    pos = int(np.flatnonzero(unknown)[0])
                    raise DataFormatError(
                        f"unknown {field_name} id {ids[pos]!r} (not in dataset {dataset.name!r}); "
                        f"{int(unknown.sum())} such row(s)",
                        file=path,
                        line=pos + 1,
                        field=field_name,
                    )
        raw.append(pd.DataFrame({"user": users, "item": items, "part": part, LINE_COLUMN: frame[LINE_COLUMN]}))
    pairs = pd.concat(raw, ignore_index=True)
    dup = pairs.duplicated(subset=["user", "item"], keep="first").to_numpy()
    if dup.any():
        pos = int(np.flatnonzero(dup)[0])
        row = pairs.iloc[pos]
        raise DataFormatError(
            f"pair ({row['user']!r}, {row['item']!r}) appears twice across the split files "
            f"({int(dup.sum())} such rows): a pair in two parts is leakage",
            file=paths[row["part"]],
            line=int(row[LINE_COLUMN]),
            field="item",
        )
    if dataset is None:
        full = RecDataset.from_frames(pairs[["user", "item", LINE_COLUMN]], source=str(paths["train"]), name=name)
        user_idx = full.users.to_index(pairs["user"].to_numpy())
        item_idx = full.items.to_index(pairs["item"].to_numpy())
    else:
        user_idx = dataset.users.to_index(pairs["user"].to_numpy())
        item_idx = dataset.items.to_index(pairs["item"].to_numpy())
        inter = pd.DataFrame({"user": user_idx, "item": item_idx})
        values = [c for c in dataset.interactions.columns if c not in ("user", "item")]
        if values:
            inter = inter.merge(dataset.interactions, on=["user", "item"], how="left")
        full = RecDataset(
            users=dataset.users,
            items=dataset.items,
            entities=dataset.entities,
            relations=dataset.relations,
            interactions=inter,
            item_entity=dataset.item_entity,
            triples=dataset.triples,
            user_links=dataset.user_links,
            name=name,
            report=dict(dataset.report),
        )
    # from_frames keeps row order, so row k of ``pairs`` is interaction row k of ``full``
    assert len(full.interactions) == len(pairs)
    assert (full.interactions["user"].to_numpy() == user_idx).all()
    parts = {part: np.flatnonzero(pairs["part"].to_numpy() == part) for part in frames}
    split = Split(dataset=full, parts=parts)
    split.report = split_report(split, strategy="files", files={k: str(p) for k, p in paths.items() if p})
    return split
