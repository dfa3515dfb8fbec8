"""Carving a validation part out of a fixed train part (papers' train / test files)."""

from __future__ import annotations

import numpy as np
import pytest

from kgrec.data.split import Split, hold_out_valid, split_dataset
from kgrec.data.synthetic import make_synthetic


@pytest.fixture(scope="module")
def fixed() -> Split:
    """A train / test split without a valid part, like KGAT's files."""
    full = split_dataset(make_synthetic(num_users=60, num_items=70, seed=1), ratios=(0.8, 0.0, 0.2), seed=1)
    return Split(dataset=full.dataset, parts={"train": full.parts["train"], "test": full.parts["test"]})


def test_valid_comes_from_train_and_test_is_untouched(fixed) -> None:
    out = hold_out_valid(fixed, fraction=0.1, seed=7)
    train, valid = out.parts["train"], out.parts["valid"]
    assert np.array_equal(out.parts["test"], fixed.parts["test"])
    assert not np.intersect1d(train, valid).size
    assert np.array_equal(np.sort(np.concatenate([train, valid])), np.sort(fixed.parts["train"]))
    users = fixed.dataset.interactions["user"].to_numpy()
    n = np.bincount(users[fixed.parts["train"]], minlength=fixed.dataset.num_users)
    got = np.bincount(users[valid], minlength=fixed.dataset.num_users)
    want = np.where(n >= 3, np.maximum(1, np.floor(n * 0.1 + 0.5)), 0)
    assert np.array_equal(got, want)
    assert out.report["valid_held_out"] == {"fraction": 0.1, "seed": 7, "min_interactions": 3}
    assert out.report["sizes"]["valid"] == len(valid)


def test_same_seed_same_parts_other_seed_other_parts(fixed) -> None:
    a, b, c = (hold_out_valid(fixed, seed=s) for s in (3, 3, 4))
    assert np.array_equal(a.parts["valid"], b.parts["valid"])
    assert not np.array_equal(a.parts["valid"], c.parts["valid"])


def test_small_users_keep_everything_in_train(fixed) -> None:
    out = hold_out_valid(fixed, fraction=0.5, min_interactions=10_000)
    assert len(out.parts["valid"]) == 0
    assert np.array_equal(out.parts["train"], fixed.parts["train"])


def test_bad_arguments(fixed) -> None:
    with pytest.raises(ValueError, match="0 < fraction < 1"):
        hold_out_valid(fixed, fraction=1.0)
    with pytest.raises(ValueError, match="already has a valid part"):
        hold_out_valid(hold_out_valid(fixed))
