"""Negative samplers: never a training positive, uniform over the rest, reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.data.dataset import RecDataset
from kgrec.scoring import PositiveIndex, UniformSampler, get_sampler


def random_train(num_users: int = 40, num_items: int = 25, density: float = 0.4, seed: int = 0):
    rng = np.random.default_rng(seed)
    mask = rng.random((num_users, num_items)) < density
    mask[:, 0] = True  # every user has a positive and the catalogue is complete
    mask[0, :] = True
    mask[0, -1] = False  # user 0 has exactly one negative: item num_items - 1
    u, i = np.nonzero(mask)
    train = RecDataset.from_frames(pd.DataFrame({"user": u, "item": i}))
    return train, mask


def test_negatives_are_never_positives():
    train, mask = random_train()
    sampler = UniformSampler(train)
    gen = torch.Generator().manual_seed(1)
    users = torch.arange(train.num_users).repeat(200)
    neg = sampler.sample(users, train.num_items, gen)
    assert neg.dtype == torch.long and neg.shape == users.shape
    assert int(neg.min()) >= 0 and int(neg.max()) < train.num_items
    assert not mask[users.numpy(), neg.numpy()].any()
    # user 0 has a single candidate
    assert set(neg[users == 0].tolist()) == {train.num_items - 1}


def test_negatives_are_uniform_over_the_complement():
    train, mask = random_train(num_users=3, num_items=30, density=0.3, seed=3)
    sampler = UniformSampler(train)
    gen = torch.Generator().manual_seed(7)
    user = 1
    candidates = np.flatnonzero(~mask[user])
    n = 60_000
    neg = sampler.sample(torch.full((n,), user), train.num_items, gen).numpy()
    counts = np.bincount(neg, minlength=train.num_items)
    assert counts[mask[user]].sum() == 0
    expected = n / len(candidates)
    chi2 = float((((counts[candidates] - expected) ** 2) / expected).sum())
    # chi-square with len(candidates) - 1 (~20) degrees of freedom: 60 is far in the tail
    assert chi2 < 60, (chi2, counts[candidates])


def test_shape_and_reproducibility():
    train, _ = random_train()
    sampler = UniformSampler(train)
    users = torch.randint(train.num_users, (64, 4), generator=torch.Generator().manual_seed(0))
    a = sampler.sample(users, train.num_items, torch.Generator().manual_seed(5))
    b = sampler.sample(users, train.num_items, torch.Generator().manual_seed(5))
    c = sampler.sample(users, train.num_items, torch.Generator().manual_seed(6))
    assert a.shape == (64, 4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_larger_catalogue_allowed_and_errors():
    train, _ = random_train()
    sampler = UniformSampler(train)
    gen = torch.Generator().manual_seed(0)
    neg = sampler.sample(torch.zeros(500, dtype=torch.long), train.num_items + 10, gen)
    assert set(neg.tolist()) <= {train.num_items - 1, *range(train.num_items, train.num_items + 10)}
    with pytest.raises(ValueError, match="num_items"):
        sampler.sample(torch.tensor([1]), train.num_items - 1, gen)
    with pytest.raises(ValueError, match="user indices"):
        sampler.sample(torch.tensor([train.num_users]), train.num_items, gen)


def test_user_with_every_item_is_reported():
    train = RecDataset.from_frames(pd.DataFrame({"user": [0, 0, 1], "item": [0, 1, 0]}))
    sampler = UniformSampler(train)
    with pytest.raises(ValueError, match=r"users \[0\] interacted with every"):
        sampler.sample(torch.tensor([1, 0]), 2, torch.Generator())


def test_positive_index_matches_brute_force():
    _, mask = random_train(num_users=30, num_items=17, density=0.5, seed=11)
    u, i = np.nonzero(mask)
    index = PositiveIndex(u, i, num_users=30)
    all_u, all_i = np.meshgrid(np.arange(30), np.arange(17), indexing="ij")
    got = index.contains(torch.from_numpy(all_u.ravel()), torch.from_numpy(all_i.ravel()))
    assert np.array_equal(got.numpy(), mask.ravel())
    for user in range(30):
        negs = np.flatnonzero(~mask[user])
        ranks = torch.arange(len(negs))
        assert index.nth_negative(torch.full_like(ranks, user), ranks).tolist() == negs.tolist()


def test_registry_lists_valid_names():
    assert get_sampler("Uniform") is UniformSampler
    with pytest.raises(KeyError, match="valid names: uniform"):
        get_sampler("popular")
