from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kgrec.data.dataset import RecDataset
from kgrec.data.io import load_dataset, save_dataset, save_split
from kgrec.data.split import STRATEGIES, load_split_files, split_dataset
from kgrec.data.synthetic import make_synthetic
from kgrec.exceptions import DataFormatError


@pytest.fixture(scope="module")
def synth() -> RecDataset:
    return make_synthetic(num_users=200, num_items=300, seed=7)


def _pairs(ds: RecDataset, rows: np.ndarray) -> set[tuple[int, int]]:
    inter = ds.interactions.iloc[rows]
    return set(zip(inter["user"].tolist(), inter["item"].tolist(), strict=True))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_split_is_a_partition_without_leakage(synth: RecDataset, strategy: str) -> None:
    split = split_dataset(synth, strategy=strategy, seed=3)
    rows = np.concatenate(list(split.parts.values()))
    assert np.sort(rows).tolist() == list(range(synth.num_interactions))  # every row, once
    parts = {k: _pairs(synth, v) for k, v in split.parts.items()}
    assert not parts["train"] & parts["test"]
    assert not parts["train"] & parts["valid"]
    assert not parts["valid"] & parts["test"]
    again = split_dataset(synth, strategy=strategy, seed=3)
    assert all(np.array_equal(again.parts[k], split.parts[k]) for k in split.parts)
    assert split.report["sizes"] == split.sizes()


def test_random_split_sizes_follow_the_shared_rule() -> None:
    # 10 interactions per user -> k = (10 + 5) // 10 = 1 to test and 1 to valid; users with < 3 keep all
    frame = pd.DataFrame({"user": np.repeat([1, 2], [10, 2]), "item": np.r_[np.arange(10), [0, 1]]})
    split = split_dataset(RecDataset.from_frames(frame), strategy="random", seed=0)
    assert split.sizes() == {"train": 10, "valid": 1, "test": 1}


def test_loo_takes_latest(tiny: RecDataset) -> None:
    frame = pd.DataFrame({"user": [1] * 4, "item": [1, 2, 3, 4], "timestamp": [5, 1, 9, 3]})
    split = split_dataset(RecDataset.from_frames(frame), strategy="loo", seed=0)
    ds = split.dataset
    assert ds.items.to_raw(ds.interactions["item"].iloc[split.parts["test"]]).tolist() == [3]
    assert ds.items.to_raw(ds.interactions["item"].iloc[split.parts["valid"]]).tolist() == [1]


def test_temporal_split_respects_time() -> None:
    frame = pd.DataFrame({"user": np.arange(10) % 3, "item": np.arange(10), "timestamp": np.arange(10)[::-1]})
    split = split_dataset(RecDataset.from_frames(frame), strategy="temporal", seed=0)
    ts = split.dataset.interactions["timestamp"].to_numpy()
    assert ts[split.parts["train"]].max() < ts[split.parts["valid"]].min() <= ts[split.parts["test"]].min()


def test_cold_item_split_holds_items_out_entirely(synth: RecDataset) -> None:
    split = split_dataset(synth, strategy="cold-item", ratios=(0.8, 0.1, 0.1), seed=5)
    items = synth.interactions["item"].to_numpy()
    train_items = set(items[split.parts["train"]].tolist())
    held = set(items[split.parts["valid"]].tolist()) | set(items[split.parts["test"]].tolist())
    assert not train_items & held
    assert set(split.cold_items().tolist()) == held
    assert abs(len(held) - 0.2 * len(np.unique(items))) <= 1
    graph_ds = split.train  # links of held-out items stay
    assert (graph_ds.item_entity[list(held)] >= 0).all()
    assert split.report["items_without_train"] >= len(held)


def test_strategy_errors(synth: RecDataset) -> None:
    with pytest.raises(ValueError, match="valid strategies"):
        split_dataset(synth, strategy="nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="summing to 1"):
        split_dataset(synth, ratios=(0.5, 0.1, 0.1))
    no_time = RecDataset.from_frames(pd.DataFrame({"user": [1], "item": [1]}))
    with pytest.raises(ValueError, match="timestamps"):
        split_dataset(no_time, strategy="temporal")


def test_save_load_roundtrip(tmp_path, tiny: RecDataset) -> None:
    save_dataset(tiny, tmp_path / "ds")
    back = load_dataset(tmp_path / "ds", verify=True)
    assert back.checksum() == tiny.checksum()
    assert back.items == tiny.items and back.users == tiny.users
    pd.testing.assert_frame_equal(back.interactions, tiny.interactions)


def test_save_load_split_roundtrip(tmp_path, synth: RecDataset) -> None:
    split = split_dataset(synth, strategy="cold-item", seed=1)
    save_split(split, tmp_path / "sp")
    back = load_dataset(tmp_path / "sp")
    assert back.sizes() == split.sizes()
    assert back.dataset.checksum() == synth.checksum()
    assert back.report["strategy"] == "cold-item"


def test_load_detects_tampering_and_non_datasets(tmp_path, tiny: RecDataset) -> None:
    save_dataset(tiny, tmp_path / "ds")
    with open(tmp_path / "ds" / "ids.json", "a") as fh:
        fh.write(" ")
    with pytest.raises(DataFormatError, match="checksum mismatch"):
        load_dataset(tmp_path / "ds", verify=True)
    with pytest.raises(DataFormatError, match="manifest"):
        load_dataset(tmp_path)


def _write(path, rows):
    path.write_text("".join(f"{u}\t{i}\n" for u, i in rows))
    return path


def test_split_files_with_and_without_dataset(tmp_path) -> None:
    tr = _write(tmp_path / "train.tsv", [(1, 10), (1, 11), (2, 10)])
    va = _write(tmp_path / "valid.tsv", [(1, 12)])
    te = _write(tmp_path / "test.tsv", [(2, 13)])
    split = load_split_files(tr, va, te)
    assert split.sizes() == {"train": 3, "valid": 1, "test": 1}
    assert split.dataset.items.raw_ids.tolist() == [10, 11, 12, 13]
    assert split.cold_items().tolist() == [2, 3]
    with pytest.raises(DataFormatError) as info:
        load_split_files(tr, va, te, dataset=RecDataset.from_frames(pd.DataFrame({"user": [1, 2], "item": [10, 11]})))
    assert info.value.field == "item" and info.value.line == 1 and str(va) in str(info.value)


def test_split_files_reject_leakage(tmp_path) -> None:
    tr = _write(tmp_path / "train.tsv", [(1, 10), (2, 11)])
    te = _write(tmp_path / "test.tsv", [(3, 12), (2, 11)])
    with pytest.raises(DataFormatError, match="leakage") as info:
        load_split_files(tr, None, te)
    assert info.value.line == 2


def test_synthetic_is_deterministic_and_structured() -> None:
    a = make_synthetic(num_users=100, num_items=150, seed=11)
    b = make_synthetic(num_users=100, num_items=150, seed=11)
    c = make_synthetic(num_users=100, num_items=150, seed=12)
    assert a.checksum() == b.checksum() != c.checksum()
    full = make_synthetic()
    counts = np.bincount(full.interactions["item"], minlength=full.num_items)
    top = np.sort(counts)[::-1]
    assert top[: len(top) // 10].sum() > 2 * 0.1 * counts.sum()  # the top decile: twice its share
    assert a.stats()["items_without_entity"] == 0 and a.stats()["triples"] > a.num_items


@pytest.mark.shared
def test_shared_benchmark_split_loads_exactly(shared_path) -> None:
    base = shared_path("benchmarks", "ml-100k-kg")
    split = load_split_files(base / "train.tsv", base / "valid.tsv", base / "test.tsv")
    assert split.sizes() == {"train": 79926, "valid": 10037, "test": 10037}
    assert split.dataset.num_users == 943
    inter = pd.read_csv(shared_path("datasets", "ml-100k-kg", "ml-100k.inter"), sep="\t")
    inter.columns = ["user", "item", "rating", "timestamp"]
    full = RecDataset.from_frames(inter)
    # the same per-user rule reproduces the shared part sizes exactly
    assert split_dataset(full, strategy="random", seed=2026).sizes() == split.sizes()
    on_full = load_split_files(base / "train.tsv", base / "valid.tsv", base / "test.tsv", dataset=full)
    assert on_full.report["items_without_train"] == 29
    assert "rating" in on_full.dataset.interactions
