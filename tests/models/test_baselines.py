"""Baselines against direct dense computations on tiny matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec import RecDataset
from kgrec.exceptions import NotFittedError
from kgrec.models.baselines import EASE, ItemKNN, MostPopular, RandomScorer

# users x items, binary; item 4 has no interaction (a cold item)
X = np.array(
    [
        [1, 1, 0, 0, 0],
        [1, 0, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [1, 1, 1, 0, 0],
    ],
    dtype=np.float64,
)


def dataset_from_dense(x: np.ndarray) -> RecDataset:
    users, items = np.nonzero(x)
    ds = RecDataset.from_frames(
        pd.DataFrame({"user": users, "item": items}),
        users=range(x.shape[0]),
        items=range(x.shape[1]),
    )
    # local indices equal the raw ids here (sorted ints, cold item appended last)
    assert ds.items.raw_ids.tolist() == list(range(x.shape[1]))
    assert ds.users.raw_ids.tolist() == list(range(x.shape[0]))
    return ds


ALL_USERS = torch.arange(X.shape[0])


def test_ease_matches_dense_closed_form():
    lam = 2.0
    model = EASE(l2=lam).fit(dataset_from_dense(X))
    p = np.linalg.inv(X.T @ X + lam * np.eye(5))
    b = np.eye(5) - p / np.diag(p)[None, :]  # B = I - P diag(P)^-1
    assert np.allclose(np.diag(b), 0.0)
    np.testing.assert_allclose(model.weights.numpy(), b, rtol=1e-5, atol=1e-6)
    scores = model.score_users(ALL_USERS)
    assert scores.dtype == torch.float32 and scores.shape == (4, 5)
    np.testing.assert_allclose(scores.numpy(), X @ b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        model.score_users(torch.tensor([2, 0])).numpy(), (X @ b)[[2, 0]], atol=1e-6
    )


def test_itemknn_cosine_hand_made():
    # item columns: i0 = (1,1,0,1), i1 = (1,0,1,1), i2 = (0,1,1,1), i3 = (0,0,1,0), i4 = 0
    # cos(i0, i1) = 2 / (sqrt3 sqrt3) = 2/3, cos(i0, i2) = 2/3, cos(i1, i2) = 2/3,
    # cos(i1, i3) = cos(i2, i3) = 1 / sqrt3, cos(i0, i3) = 0, anything with i4 = 0.
    model = ItemKNN(k=10).fit(dataset_from_dense(X))
    s = model.similarity.toarray()
    r3 = 1 / np.sqrt(3)
    expected = np.array(
        [
            [0, 2 / 3, 2 / 3, 0, 0],
            [2 / 3, 0, 2 / 3, r3, 0],
            [2 / 3, 2 / 3, 0, r3, 0],
            [0, r3, r3, 0, 0],
            [0, 0, 0, 0, 0],
        ]
    )
    np.testing.assert_allclose(s, expected, atol=1e-5)
    np.testing.assert_allclose(model.score_users(ALL_USERS).numpy(), X @ expected, atol=1e-5)


def test_itemknn_keeps_top_k_per_target_item_and_shrink():
    # k = 1: each column j keeps only its most similar item
    model = ItemKNN(k=1).fit(dataset_from_dense(X))
    s = model.similarity.toarray()
    assert ((s != 0).sum(axis=0) <= 1).all()
    assert s[1, 3] == pytest.approx(1 / np.sqrt(3), abs=1e-5) or s[2, 3] == pytest.approx(
        1 / np.sqrt(3), abs=1e-5
    )
    # shrink h: co-count / (|x_i| |x_j| + h)
    shrunk = ItemKNN(k=10, shrink=3.0).fit(dataset_from_dense(X)).similarity.toarray()
    assert shrunk[0, 1] == pytest.approx(2 / (3 + 3.0), abs=1e-5)


def test_most_popular_ranks_by_train_count():
    model = MostPopular().fit(dataset_from_dense(X))
    scores = model.score_users(torch.tensor([0, 3]))
    counts = X.sum(0)  # [3, 3, 3, 1, 0]
    np.testing.assert_array_equal(scores.numpy(), np.tile(counts, (2, 1)))
    scores[0, 0] = -1.0  # returned scores are a copy
    assert model.score_users(torch.tensor([0]))[0, 0] == 3.0


def test_random_scorer_is_a_function_of_seed_user_item():
    model = RandomScorer(seed=1).fit(dataset_from_dense(X))
    a = model.score_users(ALL_USERS)
    assert a.shape == (4, 5) and float(a.min()) >= 0.0 and float(a.max()) < 1.0
    assert torch.equal(a[[2]], model.score_users(torch.tensor([2])))
    assert not torch.equal(
        a, RandomScorer(seed=2).fit(dataset_from_dense(X)).score_users(ALL_USERS)
    )


def test_not_fitted_and_bad_users():
    with pytest.raises(NotFittedError, match="fit"):
        EASE().score_users(ALL_USERS)
    model = MostPopular().fit(dataset_from_dense(X))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        model.score_users(torch.tensor([4]))
    with pytest.raises(ValueError, match="l2"):
        EASE(l2=0.0)
    with pytest.raises(ValueError, match="k must be"):
        ItemKNN(k=0)
