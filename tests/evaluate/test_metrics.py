"""Metrics by hand, the evaluator against a brute-force NumPy reference, ties, significance."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec import RecDataset
from kgrec.evaluate import (
    METRICS,
    EvalResult,
    FullRankingEvaluator,
    bootstrap_ci,
    paired_test,
    topk_random_ties,
)
from kgrec.evaluate.metrics import (
    average_popularity,
    get_metric,
    gini_index,
    item_coverage,
)
from kgrec.evaluate.ranking import tie_break_hash

ALL_METRICS = ("recall", "ndcg", "precision", "hit", "mrr", "map")


# ---------------------------------------------------------------------- helpers
def ranking_hits(ranking: list[int], relevant: set[int], k: int) -> list[bool]:
    return [item in relevant for item in ranking[:k]]


def metric_values(hits_rows: list[list[bool]], n_rel: list[int]) -> dict[str, np.ndarray]:
    hits = torch.tensor(hits_rows, dtype=torch.bool)
    n = torch.tensor(n_rel)
    return {name: fn(hits, n).numpy() for name, fn in METRICS.items()}


def split_dataset(
    n_users: int, n_items: int, rng: np.random.Generator, density: float = 0.25
) -> tuple[RecDataset, RecDataset, RecDataset, RecDataset]:
    """A random dataset with every user and item present, split 60/20/20 per pair.

    Users ``n_users - 3 ..`` get no test pair (they must be skipped by the evaluator).
    """
    mask = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    part = rng.choice(3, size=users.size, p=[0.6, 0.2, 0.2])
    part[(users >= n_users - 3) & (part == 2)] = 0
    frame = pd.DataFrame({"user": users, "item": items})
    order = np.argsort(part, kind="stable")
    ds = RecDataset.from_frames(
        frame.iloc[order].reset_index(drop=True), users=range(n_users), items=range(n_items)
    )
    sizes = np.cumsum([0, *np.bincount(part, minlength=3)])
    parts = [ds.subset(np.arange(sizes[j], sizes[j + 1])) for j in range(3)]
    return ds, parts[0], parts[1], parts[2]


def pair_sets(part: RecDataset, n_users: int) -> list[set[int]]:
    out: list[set[int]] = [set() for _ in range(n_users)]
    for u, i in zip(part.interactions["user"], part.interactions["item"], strict=True):
        out[int(u)].add(int(i))
    return out


def reference_metrics(ranking: list[int], relevant: set[int], k: int) -> dict[str, float]:
    """Straight from the definitions (RecBole 1.2.1), one user, no vectorisation."""
    top = ranking[:k]
    rel = [1.0 if i in relevant else 0.0 for i in top] + [0.0] * (k - len(top))
    n_rel = len(relevant)
    n_hits = sum(rel)
    dcg = sum(r / math.log2(j + 2) for j, r in enumerate(rel))
    idcg = sum(1.0 / math.log2(j + 2) for j in range(min(n_rel, k)))
    first = next((j for j, r in enumerate(rel) if r), None)
    ap = 0.0
    found = 0
    for j, r in enumerate(rel):
        if r:
            found += 1
            ap += found / (j + 1)
    return {
        "recall": n_hits / n_rel,
        "ndcg": dcg / idcg,
        "precision": n_hits / k,
        "hit": float(n_hits > 0),
        "mrr": 0.0 if first is None else 1.0 / (first + 1),
        "map": ap / min(n_rel, k),
    }


def reference_evaluate(
    scores: np.ndarray,
    target: list[set[int]],
    excluded: list[set[int]],
    ks: tuple[int, ...],
    candidates: np.ndarray | None = None,
) -> pd.DataFrame:
    """Brute force: per user, drop excluded items, sort the rest by score, measure."""
    n_users, n_items = scores.shape
    cand = list(range(n_items)) if candidates is None else [int(c) for c in candidates]
    rows = {}
    for u in range(n_users):
        relevant = target[u] & set(cand)
        if not relevant:
            continue
        allowed = [i for i in cand if i not in excluded[u]]
        ranking = sorted(allowed, key=lambda i: -scores[u, i])  # scores are distinct
        rows[u] = {
            f"{m}@{k}": v for k in ks for m, v in reference_metrics(ranking, relevant, k).items()
        }
    return pd.DataFrame.from_dict(rows, orient="index")


# ---------------------------------------------------------------------- hand-computed
def test_hand_computed_user_relevant_1_and_3():
    # R(u) = {1, 3}; ranking [3, 0, 1, 2, 4]: hits at ranks 1 and 3.
    ranking, relevant = [3, 0, 1, 2, 4], {1, 3}
    at3 = metric_values([ranking_hits(ranking, relevant, 3)], [2])
    # recall@3 = 2/2; precision@3 = 2/3; hit = 1; mrr = 1/1
    # DCG@3 = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5; IDCG = 1 + 1/log2(3) = 1.6309297535714575
    # MAP@3 = (P@1 + P@3) / min(2, 3) = (1 + 2/3) / 2 = 0.8333...
    assert at3["recall"][0] == pytest.approx(1.0)
    assert at3["precision"][0] == pytest.approx(2 / 3)
    assert at3["hit"][0] == 1.0
    assert at3["mrr"][0] == 1.0
    assert at3["ndcg"][0] == pytest.approx(1.5 / 1.6309297535714575)
    assert at3["ndcg"][0] == pytest.approx(0.9197207891481877)
    assert at3["map"][0] == pytest.approx(0.8333333333333334)

    at2 = metric_values([ranking_hits(ranking, relevant, 2)], [2])
    # top-2 = [3, 0]: recall 1/2, precision 1/2, DCG = 1, IDCG = 1.63093, MAP = 1 / 2
    assert at2["recall"][0] == pytest.approx(0.5)
    assert at2["precision"][0] == pytest.approx(0.5)
    assert at2["ndcg"][0] == pytest.approx(1 / 1.6309297535714575)
    assert at2["mrr"][0] == 1.0
    assert at2["map"][0] == pytest.approx(0.5)


def test_hand_computed_late_hit_and_many_relevant():
    # R(u) = {0, 1, 2, 3} (4 items), K = 2, ranking [9, 2]: one hit at rank 2.
    # recall = 1/4; precision = 1/2; mrr = 1/2
    # DCG = 1/log2(3) = 0.6309297535714575; IDCG over min(4, 2) = 2 places = 1.6309297535714575
    # MAP = P@2 * 1 / min(4, 2) = (1/2) / 2 = 0.25
    v = metric_values([[False, True]], [4])
    assert v["recall"][0] == pytest.approx(0.25)
    assert v["precision"][0] == pytest.approx(0.5)
    assert v["mrr"][0] == pytest.approx(0.5)
    assert v["hit"][0] == 1.0
    assert v["ndcg"][0] == pytest.approx(0.6309297535714575 / 1.6309297535714575)
    assert v["map"][0] == pytest.approx(0.25)


def test_no_hit_is_zero_everywhere():
    v = metric_values([[False, False, False]], [1])
    for name in ALL_METRICS:
        assert v[name][0] == 0.0, name


def test_perfect_ranking_scores_one():
    # |R(u)| = 5 > K = 3, every place a hit: ndcg, precision, hit, mrr, map = 1; recall = 3/5
    v = metric_values([[True, True, True]], [5])
    for name in ("ndcg", "precision", "hit", "mrr", "map"):
        assert v[name][0] == pytest.approx(1.0), name
    assert v["recall"][0] == pytest.approx(0.6)


def test_metric_registry_and_input_errors():
    assert set(METRICS) == set(ALL_METRICS)
    with pytest.raises(ValueError, match="expected one of") as err:
        get_metric("nDCG")
    assert "ndcg" in str(err.value)
    with pytest.raises(ValueError, match="at least one relevant"):
        METRICS["recall"](torch.zeros(2, 3, dtype=torch.bool), torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="bool"):
        METRICS["recall"](torch.zeros(2, 3), torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="shape"):
        METRICS["recall"](torch.zeros(2, 3, dtype=torch.bool), torch.tensor([1, 1, 1]))
    with pytest.raises(ValueError, match="expected one of"):
        FullRankingEvaluator(metrics=("recall", "auc"))


def test_beyond_accuracy_metrics():
    lists = np.array([[0, 1], [0, 2], [0, 1]])  # counts over 5 items: [3, 2, 1, 0, 0]
    assert item_coverage(lists, 5) == pytest.approx(3 / 5)
    # sorted counts [0, 0, 1, 2, 3], i = 1..5: sum (2i - 6) * c = 0 + 0 + 0 + 2*2 + 4*3 = 16
    # G = 16 / (5 * 6)
    assert gini_index(lists, 5) == pytest.approx(16 / 30)
    assert gini_index(np.array([[0, 1], [2, 3]]), 4) == pytest.approx(0.0)  # even spread
    pop = np.array([10, 4, 1, 0, 0])
    # per user: (10 + 4)/2, (10 + 1)/2, (10 + 4)/2 -> mean (7 + 5.5 + 7) / 3
    assert average_popularity(lists, pop) == pytest.approx((7 + 5.5 + 7) / 3)


# ---------------------------------------------------------------------- brute force
@pytest.mark.parametrize("batch_size", [1024, 7])
def test_evaluator_matches_brute_force(batch_size):
    rng = np.random.default_rng(5)
    n_users, n_items = 41, 57
    ds, train, valid, test = split_dataset(n_users, n_items, rng)
    scores = rng.standard_normal((n_users, n_items))  # distinct almost surely
    scores_t = torch.from_numpy(scores)
    ks = (1, 3, 5, 10)
    ev = FullRankingEvaluator(ks=ks, metrics=ALL_METRICS, batch_size=batch_size)

    res = ev.evaluate(lambda u: scores_t[u], target=test, exclude=[train, valid])
    tr, va, te = (pair_sets(p, n_users) for p in (train, valid, test))
    ref = reference_evaluate(scores, te, [a | b for a, b in zip(tr, va, strict=True)], ks)

    assert isinstance(res, EvalResult)
    assert list(res.per_user.index) == list(ref.index)
    assert res.num_users == len(ref) and res.num_skipped == n_users - len(ref)
    assert res.num_skipped >= 3  # the users without a test pair
    for col in ref.columns:
        np.testing.assert_allclose(res.per_user[col].to_numpy(), ref[col].to_numpy(), rtol=1e-12)
        assert res.mean[col] == pytest.approx(ref[col].mean(), rel=1e-12)

    # validation protocol: only train masked
    res_v = ev.evaluate(lambda u: scores_t[u], target=valid, exclude=[train])
    ref_v = reference_evaluate(scores, va, tr, ks)
    for col in ref_v.columns:
        np.testing.assert_allclose(res_v.per_user[col].to_numpy(), ref_v[col].to_numpy())


def test_masked_items_never_recommended_and_scores_untouched():
    rng = np.random.default_rng(1)
    ds, train, valid, test = split_dataset(20, 30, rng)
    scores = torch.rand(20, 30)
    # the model ranks its train items first: masking must remove them
    tr = train.interactions
    scores[torch.tensor(tr["user"].to_numpy()), torch.tensor(tr["item"].to_numpy())] += 10.0
    before = scores.clone()
    ev = FullRankingEvaluator(ks=(5,), metrics=("recall",))
    res = ev.evaluate(lambda u: scores[u], target=test, exclude=[train])
    assert torch.equal(scores, before)  # the model's tensor was not written to
    ref = reference_evaluate(
        scores.double().numpy(), pair_sets(test, 20), pair_sets(train, 20), (5,)
    )
    np.testing.assert_allclose(res.per_user["recall@5"].to_numpy(), ref["recall@5"].to_numpy())


def test_candidate_restriction_matches_brute_force():
    rng = np.random.default_rng(11)
    n_users, n_items = 30, 40
    ds, train, valid, test = split_dataset(n_users, n_items, rng)
    scores = rng.standard_normal((n_users, n_items))
    cand = np.sort(rng.choice(n_items, 12, replace=False))
    ks = (3, 5, 20)  # 20 > 12 candidates: missing places are misses
    ev = FullRankingEvaluator(ks=ks)
    res = ev.evaluate(
        lambda u: torch.from_numpy(scores)[u],
        target=test,
        exclude=[train, valid],
        candidates=cand,
    )
    tr, va, te = (pair_sets(p, n_users) for p in (train, valid, test))
    ref = reference_evaluate(
        scores, te, [a | b for a, b in zip(tr, va, strict=True)], ks, candidates=cand
    )
    assert res.num_candidates == 12
    assert list(res.per_user.index) == list(ref.index)
    for col in ref.columns:
        np.testing.assert_allclose(res.per_user[col].to_numpy(), ref[col].to_numpy())


def test_popularity_metrics_in_evaluator():
    rng = np.random.default_rng(2)
    ds, train, valid, test = split_dataset(25, 30, rng)
    scores = torch.rand(25, 30)
    ev = FullRankingEvaluator(ks=(5,), metrics=("recall",))
    res = ev.evaluate(lambda u: scores[u], target=test, exclude=[train], popularity_from=train)
    assert {"coverage@5", "gini@5", "avg_pop@5"} <= set(res.mean)
    # recompute the lists by brute force
    users = res.per_user.index.to_numpy()
    excl = pair_sets(train, 25)
    lists = []
    for u in users:
        allowed = [i for i in range(30) if i not in excl[u]]
        lists.append(sorted(allowed, key=lambda i: -float(scores[u, i]))[:5])
    lists = np.array(lists)
    pop = np.bincount(train.interactions["item"].to_numpy(), minlength=30)
    assert res.mean["coverage@5"] == pytest.approx(item_coverage(lists, 30))
    assert res.mean["gini@5"] == pytest.approx(gini_index(lists, 30))
    assert res.mean["avg_pop@5"] == pytest.approx(average_popularity(lists, pop))
    plain = ev.evaluate(lambda u: scores[u], target=test, exclude=[train])
    assert "coverage@5" not in plain.mean


def test_evaluator_input_errors():
    rng = np.random.default_rng(3)
    ds, train, valid, test = split_dataset(10, 12, rng)
    ev = FullRankingEvaluator(ks=(3,))
    with pytest.raises(ValueError, match=r"\[B, num_items\]"):
        ev.evaluate(lambda u: torch.zeros(len(u), 5), target=test)
    with pytest.raises(ValueError, match="candidates"):
        ev.evaluate(lambda u: torch.zeros(len(u), 12), target=test, candidates=np.array([0, 99]))
    with pytest.raises(ValueError, match="ks"):
        FullRankingEvaluator(ks=(0, 5))
    other = RecDataset.from_frames(pd.DataFrame({"user": [0], "item": [0]}))
    with pytest.raises(ValueError, match="id maps"):
        ev.evaluate(lambda u: torch.zeros(len(u), 12), target=test, exclude=[other])


def test_overlap_between_target_and_exclude_warns():
    rng = np.random.default_rng(4)
    ds, train, valid, test = split_dataset(10, 12, rng)
    ev = FullRankingEvaluator(ks=(3,))
    with pytest.warns(UserWarning, match="also occur in an excluded part"):
        res = ev.evaluate(lambda u: torch.rand(len(u), 12), target=test, exclude=[test])
    assert res.mean["recall@3"] == 0.0  # every target item masked: no hit possible


def test_sampled_metrics_warn_and_inflate():
    rng = np.random.default_rng(6)
    ds, train, valid, test = split_dataset(40, 200, rng, density=0.1)
    scores = torch.rand(40, 200)
    full = FullRankingEvaluator(ks=(10,)).evaluate(
        lambda u: scores[u], target=test, exclude=[train]
    )
    with pytest.warns(UserWarning, match="sampled metrics"):
        sampled = FullRankingEvaluator(ks=(10,), sampled_negatives=20).evaluate(
            lambda u: scores[u], target=test, exclude=[train]
        )
    assert sampled.protocol.startswith("sampled")
    assert sampled.mean["recall@10"] > full.mean["recall@10"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # full ranking never warns
        FullRankingEvaluator(ks=(10,)).evaluate(lambda u: scores[u], target=test, exclude=[train])


def test_result_to_dict_is_plain():
    rng = np.random.default_rng(7)
    ds, train, valid, test = split_dataset(10, 12, rng)
    res = FullRankingEvaluator(ks=(3,)).evaluate(lambda u: torch.rand(len(u), 12), target=test)
    d = res.to_dict(per_user=True)
    assert d["num_users"] == res.num_users and set(d["mean"]) == set(res.mean)
    assert len(d["per_user"]["user"]) == res.num_users
    assert res["ndcg@3"] == res.mean["ndcg@3"]


# ---------------------------------------------------------------------- ties
def test_all_equal_scores_are_not_index_order_and_reproducible():
    scores = torch.zeros(50, 100)
    top = topk_random_ties(scores, 10, seed=3)
    assert top.shape == (50, 10)
    first_k = torch.arange(10).expand(50, -1)
    assert not torch.equal(top.sort(1).values, first_k)
    assert torch.equal(top, topk_random_ties(scores, 10, seed=3))
    assert not torch.equal(top, topk_random_ties(scores, 10, seed=4))
    assert all(len(set(row.tolist())) == 10 for row in top)  # no item twice
    # every user gets different tied items (torch.topk gives every row the same ones)
    assert len({tuple(row.tolist()) for row in top}) == 50


def test_all_equal_scores_recall_equals_random_in_expectation():
    # 2000 users; each user's relevant items are the 10 lowest ids ("popular low ids").
    # With index-order ties recall@10 would be 1.0; random order gives 10/100 in expectation.
    n_users, n_items, k = 2000, 100, 10
    users = np.repeat(np.arange(n_users), 10)
    items = np.tile(np.arange(10), n_users)
    ds = RecDataset.from_frames(pd.DataFrame({"user": users, "item": items}), items=range(n_items))
    ev = FullRankingEvaluator(ks=(k,), metrics=("recall",))
    res = ev.evaluate(lambda u: torch.zeros(len(u), n_items), target=ds)
    # per-user recall is hypergeometric / 10: sd 0.09; over 2000 users the mean has sd 0.002
    assert res.mean["recall@10"] == pytest.approx(0.1, abs=0.01)


def test_ties_never_reorder_distinct_scores():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 6, (64, 300), generator=gen).float()  # heavy ties
    scores[:, :5] = torch.randn(64, 5, generator=gen) * 10  # some distinct values too
    scores[3] = float("-inf")
    scores[3, 7] = 1.0
    for k in (1, 5, 20, 300):
        top = topk_random_ties(scores, k, seed=1)
        got = scores.gather(1, top)
        assert torch.equal(got, torch.topk(scores, k).values)  # same values, same order


def test_ties_match_lexicographic_reference_and_dtypes():
    gen = torch.Generator().manual_seed(1)
    scores = torch.randint(0, 4, (30, 50), generator=gen).float()
    scores[0] = 0.0
    scores[1, ::2] = -0.0  # signed zeros are equal scores
    rows = torch.arange(100, 130)
    cols = torch.arange(50) * 3 + 7
    top = topk_random_ties(scores, 8, seed=9, rows=rows, cols=cols)
    h = tie_break_hash(rows, cols, seed=9).numpy()
    s = scores.numpy()
    for b in range(30):
        ref = np.lexsort((-h[b], -s[b]))[:8]  # primary: score desc, then hash desc
        assert top[b].tolist() == ref.tolist()
    for dtype in (torch.float64, torch.float16, torch.bfloat16):
        assert torch.equal(top, topk_random_ties(scores.to(dtype), 8, seed=9, rows=rows, cols=cols))


def test_ties_independent_of_batching_and_candidates():
    gen = torch.Generator().manual_seed(2)
    scores = torch.randint(0, 3, (40, 60), generator=gen).float()
    rows = torch.arange(40)
    whole = topk_random_ties(scores, 5, seed=0, rows=rows)
    parts = torch.cat(
        [
            topk_random_ties(scores[i : i + 7], 5, seed=0, rows=rows[i : i + 7])
            for i in range(0, 40, 7)
        ]
    )
    assert torch.equal(whole, parts)
    # ranking a column subset orders the same items the same way
    cand = torch.tensor([3, 8, 15, 16, 23, 42, 59])
    sub = topk_random_ties(scores[:, cand], 3, seed=0, rows=rows, cols=cand)
    full_order = topk_random_ties(scores, 60, seed=0, rows=rows)
    for b in range(40):
        expected = [i for i in full_order[b].tolist() if i in set(cand.tolist())][:3]
        assert cand[sub[b]].tolist() == expected


def test_tie_order_is_roughly_uniform():
    # rank-1 item of an all-tied row, over 4000 (user) rows: each of 8 items about 500 times
    top = topk_random_ties(torch.zeros(4000, 8), 1, seed=5)
    counts = np.bincount(top[:, 0].numpy(), minlength=8)
    assert counts.min() > 400 and counts.max() < 600


def test_evaluator_result_independent_of_batch_size_with_ties():
    rng = np.random.default_rng(8)
    ds, train, valid, test = split_dataset(30, 40, rng)
    scores = torch.from_numpy(rng.integers(0, 3, (30, 40)).astype(np.float32))
    a = FullRankingEvaluator(ks=(5,), batch_size=1024).evaluate(lambda u: scores[u], target=test)
    b = FullRankingEvaluator(ks=(5,), batch_size=4).evaluate(lambda u: scores[u], target=test)
    pd.testing.assert_frame_equal(a.per_user, b.per_user)


def test_topk_random_ties_errors():
    with pytest.raises(ValueError, match="NaN"):
        topk_random_ties(torch.tensor([[1.0, float("nan"), 0.0, 2.0, 3.0]]), 2, seed=0)
    with pytest.raises(ValueError, match="k must be"):
        topk_random_ties(torch.zeros(2, 3), 4, seed=0)
    with pytest.raises(ValueError, match="2-D"):
        topk_random_ties(torch.zeros(3), 1, seed=0)


# ---------------------------------------------------------------------- significance
def make_result(
    values: np.ndarray, users: np.ndarray | None = None, col: str = "ndcg@20"
) -> EvalResult:
    users = np.arange(len(values)) if users is None else users
    frame = pd.DataFrame({col: values}, index=pd.Index(users, name="user"))
    return EvalResult(mean={col: float(values.mean())}, per_user=frame, num_users=len(values))


def test_paired_test_identical_gives_p_one():
    rng = np.random.default_rng(0)
    v = rng.random(200)
    out = paired_test(make_result(v), make_result(v.copy()), "ndcg@20")
    assert out["t_pvalue"] == 1.0 and out["wilcoxon_pvalue"] == 1.0
    assert out["mean_diff"] == 0.0 and out["n_users"] == 200


def test_paired_test_shift_gives_small_p():
    rng = np.random.default_rng(1)
    base = rng.random(300)
    better = base + 0.05 + rng.normal(0, 0.02, 300)
    out = paired_test(make_result(better), make_result(base), "ndcg@20")
    assert out["mean_diff"] == pytest.approx(0.05, abs=0.01)
    assert out["t_pvalue"] < 1e-6 and out["wilcoxon_pvalue"] < 1e-6
    # a tiny noisy difference is not significant
    noise = base + rng.normal(0, 0.05, 300)
    out = paired_test(make_result(noise), make_result(base), "ndcg@20")
    assert out["t_pvalue"] > 1e-3


def test_paired_test_uses_common_users_only():
    a = make_result(np.array([0.1, 0.2, 0.3, 0.4]), users=np.array([0, 1, 2, 3]))
    b = make_result(np.array([0.0, 0.1, 0.2, 9.0]), users=np.array([1, 2, 3, 7]))
    out = paired_test(a, b, "ndcg@20")
    assert out["n_users"] == 3  # users 1, 2, 3
    assert out["mean_diff"] == pytest.approx(0.2)
    with pytest.raises(KeyError, match="expected one of"):
        paired_test(a, b, "recall@20")


def test_bootstrap_ci_contains_mean_and_is_reproducible():
    rng = np.random.default_rng(2)
    v = rng.random(500)
    res = make_result(v)
    low, high = bootstrap_ci(res, "ndcg@20", n_resamples=2000, seed=3)
    assert low < v.mean() < high
    # the 95% interval of a mean of 500 U(0, 1) values is about +- 1.96 * 0.2887 / sqrt(500)
    assert high - low == pytest.approx(2 * 1.96 * 0.2887 / np.sqrt(500), rel=0.15)
    assert (low, high) == bootstrap_ci(res, "ndcg@20", n_resamples=2000, seed=3)
    narrow = bootstrap_ci(res, "ndcg@20", n_resamples=2000, confidence=0.5, seed=3)
    assert low < narrow[0] < narrow[1] < high
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(res, "ndcg@20", confidence=1.5)
