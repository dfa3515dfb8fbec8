"""Popularity, DNS and mixed samplers: right distribution, never a positive, the fit-loop hook."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.data.dataset import RecDataset
from kgrec.graph import build_graph
from kgrec.models import MF
from kgrec.scoring import (
    DynamicNegativeSampler,
    MixedSampler,
    PopularitySampler,
    UniformSampler,
    get_sampler,
)
from kgrec.train import fit


def random_train(num_users: int = 40, num_items: int = 25, density: float = 0.4, seed: int = 0):
    rng = np.random.default_rng(seed)
    mask = rng.random((num_users, num_items)) < density
    mask[:, 0] = True
    mask[0, :] = True
    mask[0, -1] = False  # user 0 has exactly one negative: item num_items - 1
    u, i = np.nonzero(mask)
    return RecDataset.from_frames(pd.DataFrame({"user": u, "item": i})), mask


# ------------------------------------------------------------------ popularity
@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_popularity_frequencies_follow_pop_to_the_alpha(alpha):
    train, mask = random_train(num_users=60, num_items=30, density=0.3, seed=4)
    sampler = PopularitySampler(train, alpha=alpha, smoothing=0.0)
    pop = mask.sum(0).astype(float)
    user = 5
    free = ~mask[user]
    expected_p = np.where(free, pop**alpha, 0.0)
    expected_p /= expected_p.sum()
    n = 80_000
    neg = sampler.sample(
        torch.full((n,), user), train.num_items, torch.Generator().manual_seed(1)
    ).numpy()
    counts = np.bincount(neg, minlength=train.num_items)
    assert counts[mask[user]].sum() == 0  # never a positive
    support = expected_p > 0
    expected = n * expected_p[support]
    chi2 = float((((counts[support] - expected) ** 2) / expected).sum())
    # ~20 degrees of freedom: 60 is far in the tail
    assert chi2 < 60, (alpha, chi2)


def test_popularity_alpha_zero_is_uniform_and_batches_of_any_shape():
    train, mask = random_train()
    sampler = PopularitySampler(train, alpha=0.0)
    users = torch.arange(train.num_users).repeat(300).view(-1, 2)
    neg = sampler.sample(users, train.num_items, torch.Generator().manual_seed(0))
    assert neg.shape == users.shape and neg.dtype == torch.long
    assert not mask[users.numpy(), neg.numpy()].any()
    assert set(neg[users == 0].tolist()) == {train.num_items - 1}
    # reproducible from the generator
    again = sampler.sample(users, train.num_items, torch.Generator().manual_seed(0))
    assert torch.equal(neg, again)


def test_popularity_prefers_popular_items_and_handles_zero_weight():
    # item 3 is never interacted with: with smoothing 0 it is never drawn
    frame = pd.DataFrame({"user": [0, 1, 2, 2, 3, 3, 3], "item": [0, 0, 0, 1, 0, 1, 2]})
    train = RecDataset.from_frames(frame, items=range(4))
    sampler = PopularitySampler(train, alpha=1.0, smoothing=0.0)
    neg = sampler.sample(
        torch.zeros(5000, dtype=torch.long), 4, torch.Generator().manual_seed(0)
    )  # user 0
    counts = np.bincount(neg.numpy(), minlength=4)
    assert counts[0] == 0 and counts[3] == 0
    assert counts[1] / counts[2] == pytest.approx(2.0, rel=0.1)  # pop 2 vs pop 1
    with pytest.raises(ValueError, match="smoothing > 0"):
        sampler.sample(torch.tensor([3]), 4, torch.Generator())  # only item 3 left, weight 0
    assert (
        PopularitySampler(train, alpha=1.0).sample(torch.tensor([3]), 4, torch.Generator()).item()
        == 3
    )


# ------------------------------------------------------------------ DNS
def oracle_scorer(table: torch.Tensor):
    """score_pairs from a fixed [U, I] score table, counting calls."""
    calls = []

    def score_pairs(users, items):
        calls.append(items.shape)
        return table[users[:, None], items]

    return score_pairs, calls


def test_dns_picks_the_highest_scored_candidate():
    train, mask = random_train(num_users=30, num_items=40, density=0.3, seed=2)
    table = torch.randn(
        train.num_users, train.num_items, generator=torch.Generator().manual_seed(3)
    )
    score_pairs, _ = oracle_scorer(table)
    m = 6
    users = torch.arange(train.num_users).repeat(50)
    dns = DynamicNegativeSampler(train, num_candidates=m)
    neg = dns.sample(
        users, train.num_items, torch.Generator().manual_seed(9), score_pairs=score_pairs
    )
    # the same generator state gives the same candidates from the uniform sampler
    cand = UniformSampler(train).sample(
        users[:, None].expand(-1, m), train.num_items, torch.Generator().manual_seed(9)
    )
    best = cand.gather(1, table[users[:, None], cand].argmax(1, keepdim=True)).squeeze(1)
    assert torch.equal(neg, best)
    assert not mask[users.numpy(), neg.numpy()].any()
    # harder than uniform: the mean score of DNS negatives is far above the uniform ones'
    assert table[users, neg].mean() > table[users, cand[:, 0]].mean() + 0.5


def test_dns_with_one_candidate_is_uniform_and_needs_no_scores():
    train, _ = random_train()
    users = torch.arange(train.num_users).repeat(5)
    a = DynamicNegativeSampler(train, num_candidates=1).sample(
        users, train.num_items, torch.Generator().manual_seed(1)
    )
    b = (
        UniformSampler(train)
        .sample(users[:, None], train.num_items, torch.Generator().manual_seed(1))
        .squeeze(1)
    )
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="score_pairs"):
        DynamicNegativeSampler(train).sample(users, train.num_items, torch.Generator())


def test_mixed_fraction_of_hard_negatives():
    train, _ = random_train(num_users=20, num_items=60, density=0.2, seed=5)
    # every user scores item j as j: the hardest candidate is the one with the largest id
    table = torch.arange(train.num_items, dtype=torch.float32).expand(train.num_users, -1)
    score_pairs, calls = oracle_scorer(table)
    users = torch.arange(train.num_users).repeat(500)
    m = 8
    gen = torch.Generator().manual_seed(0)
    mixed = MixedSampler(train, num_candidates=m, hard_fraction=0.3)
    neg = mixed.sample(users, train.num_items, gen, score_pairs=score_pairs)
    cand = UniformSampler(train).sample(
        users[:, None].expand(-1, m), train.num_items, torch.Generator().manual_seed(0)
    )
    is_max = neg == cand.max(1).values
    is_first = neg == cand[:, 0]
    assert bool((is_max | is_first).all())
    hard_share = float((is_max & ~is_first).float().mean())
    distinct = float((cand.max(1).values != cand[:, 0]).float().mean())  # a hard pick is visible
    assert hard_share == pytest.approx(0.3 * distinct, abs=0.02)
    assert calls[0][0] == pytest.approx(
        0.3 * len(users), rel=0.1
    )  # only the hard entries are scored
    # hard_fraction 0 never scores
    calls.clear()
    mixed.hard_fraction = 0.0
    mixed.sample(users, train.num_items, gen, score_pairs=score_pairs)
    assert calls == []


def test_settings_are_checked_and_saved():
    train, _ = random_train()
    with pytest.raises(ValueError, match="num_candidates"):
        DynamicNegativeSampler(train, num_candidates=0)
    with pytest.raises(ValueError, match="hard_fraction"):
        MixedSampler(train, hard_fraction=1.5)
    s = MixedSampler(train, num_candidates=4, hard_fraction=0.25)
    other = MixedSampler(train)
    other.load_state_dict(s.state_dict())
    assert (other.num_candidates, other.hard_fraction) == (4, 0.25)


def test_registry_names():
    assert get_sampler("popularity") is PopularitySampler
    assert get_sampler("DNS") is DynamicNegativeSampler
    assert get_sampler("mixed") is MixedSampler
    with pytest.raises(KeyError, match="valid names: uniform, popularity, dns, mixed"):
        get_sampler("hard")


# ------------------------------------------------------------------ the fit-loop hook
def small_split():
    rng = np.random.default_rng(0)
    rows = []
    for u in range(30):
        block = np.arange(20) if u % 2 == 0 else np.arange(20, 40)
        rows += [(u, i) for i in rng.choice(block, size=10, replace=False)]
    frame = pd.DataFrame(rows, columns=["user", "item"])
    return RecDataset.from_frames(frame, items=range(40))


class RecordingDNS(DynamicNegativeSampler):
    """DNS that checks the scores it gets are the model's current ones."""

    def __init__(self, train, encoder):
        super().__init__(train, num_candidates=4)
        self.encoder = encoder
        self.checked = 0

    def sample(self, users, num_items, generator, *, score_pairs=None):
        cand = torch.stack([users % num_items, (users + 1) % num_items], 1)
        got = score_pairs(users, cand)
        with torch.no_grad():
            want = (
                self.encoder.user_embedding.weight[users, None]
                * self.encoder.item_embedding.weight[cand]
            ).sum(-1)
        torch.testing.assert_close(got, want)
        assert not got.requires_grad
        self.checked += 1
        return super().sample(users, num_items, generator, score_pairs=score_pairs)


def test_fit_passes_current_scores_to_samplers_that_need_them():
    train = small_split()
    graph = build_graph(train)
    torch.manual_seed(0)
    enc = MF.from_data(graph, embedding_dim=8)
    sampler = RecordingDNS(train, enc)
    hist = fit(enc, graph, train, sampler=sampler, epochs=2, batch_size=64, lr=0.05, progress=False)
    assert sampler.checked == 2 * int(np.ceil(len(train.interactions) / 64))
    assert len(hist) == 2


def test_dns_training_is_reproducible_and_learns():
    train = small_split()
    graph = build_graph(train)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        enc = MF.from_data(graph, embedding_dim=8)
        hist = fit(enc, graph, train, sampler=DynamicNegativeSampler(train, num_candidates=4), epochs=5,
                   batch_size=64, lr=0.05, progress=False)  # fmt: skip
        runs.append((enc.user_embedding.weight.detach().clone(), hist["loss"].tolist()))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    assert runs[0][1][-1] < runs[0][1][0]
