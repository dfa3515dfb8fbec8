"""EASE and ItemKNN on the shared ml-100k-kg split reproduce BENCHMARKS.md within 1%.

Needs ``<repo root>/../shared/benchmarks/ml-100k-kg/{train,valid,test}.tsv``; skipped when the
files are absent. Protocol: full ranking over all 1,682 items, train + valid masked for test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec import RecDataset
from kgrec.evaluate import FullRankingEvaluator
from kgrec.models.baselines import EASE, ItemKNN, MostPopular

pytestmark = pytest.mark.shared

SPLIT = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks" / "ml-100k-kg"
PARTS = ("train", "valid", "test")


@pytest.fixture(scope="module")
def split() -> tuple[RecDataset, RecDataset, RecDataset]:
    files = [SPLIT / f"{p}.tsv" for p in PARTS]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        pytest.skip(f"shared benchmark split not found: {', '.join(missing)}")
    frames = [pd.read_csv(f, sep="\t", header=None, names=["user", "item"]) for f in files]
    # the three parts hold all 100,000 pairs, so their union is the 1,682-item catalogue
    # (29 items never occur in train: they stay in the catalogue and are ranked too)
    ds = RecDataset.from_frames(pd.concat(frames, ignore_index=True), name="ml-100k-kg")
    assert (ds.num_users, ds.num_items) == (943, 1682)
    bounds = np.cumsum([0, *(len(f) for f in frames)])
    train, valid, test = (ds.subset(np.arange(bounds[j], bounds[j + 1])) for j in range(3))
    assert (len(train.interactions), len(valid.interactions), len(test.interactions)) == (
        79926,
        10037,
        10037,
    )
    return train, valid, test


def _test_metrics(model, split) -> dict[str, float]:
    torch.set_num_threads(2)
    train, valid, test = split
    model.fit(train)
    ev = FullRankingEvaluator(ks=(20,), metrics=("recall", "ndcg"))
    res = ev.evaluate(model.score_users, target=test, exclude=[train, valid])
    assert res.num_users == 943
    return res.mean


def test_ease_reproduces_benchmark(split):
    mean = _test_metrics(EASE(l2=500.0), split)
    assert mean["ndcg@20"] == pytest.approx(0.348, rel=0.01)
    assert mean["recall@20"] == pytest.approx(0.392, rel=0.01)


def test_itemknn_reproduces_benchmark(split):
    mean = _test_metrics(ItemKNN(k=200), split)
    assert mean["ndcg@20"] == pytest.approx(0.307, rel=0.01)
    assert mean["recall@20"] == pytest.approx(0.355, rel=0.01)


def test_most_popular_reproduces_benchmark(split):
    mean = _test_metrics(MostPopular(), split)
    assert mean["ndcg@20"] == pytest.approx(0.156, rel=0.02)
    assert mean["recall@20"] == pytest.approx(0.179, rel=0.02)
