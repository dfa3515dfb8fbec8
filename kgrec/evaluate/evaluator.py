"""Full-ranking evaluation: every user against every item (or a candidate subset).

Protocol (``/work/shared/BENCHMARKS.md``): for each user with at least one positive in the
target part, score all items, set every (user, item) pair of the excluded parts to ``-inf``
(the train items when validating; train + valid when testing), take the top ``max(ks)`` with
ties broken at random (:func:`~kgrec.evaluate.ranking.topk_random_ties`), and compute the
metrics of :mod:`kgrec.evaluate.metrics` per user. Means are over the evaluated users.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from kgrec.data.dataset import RecDataset
from kgrec.evaluate.metrics import (
    average_popularity,
    get_metric,
    gini_index,
    item_coverage,
)
from kgrec.evaluate.ranking import tie_break_hash, topk_random_ties

__all__ = ["EvalResult", "FullRankingEvaluator", "ScoreFn"]

ScoreFn = Callable[[Tensor], Tensor]
"""``score_fn(users: LongTensor [B]) -> FloatTensor [B, num_items]``."""

_NEG_SAMPLE_SALT = 0x5A17ED  # a separate hash stream for sampled negatives


@dataclass
class EvalResult:
    """Metrics of one evaluation run.

    Attributes:
        mean: ``{"recall@20": ..., "ndcg@10": ..., ...}`` averaged over the evaluated users; with
            ``popularity_from`` also ``coverage@K``, ``gini@K`` and ``avg_pop@K``.
        per_user: one row per evaluated user (index ``user``: local user index), one column per
            ``metric@K``; what :func:`~kgrec.evaluate.significance.paired_test` and
            :func:`~kgrec.evaluate.significance.bootstrap_ci` use.
        num_users: users evaluated (those with a positive in the target part).
        num_skipped: users of the dataset without a positive in the target part.
        num_candidates: items each user was ranked over (before masking).
        ks, metrics, seed: the evaluator settings that produced this result.
        protocol: ``"full"`` or ``"sampled(N negatives)"``.
        seconds: wall time of the evaluation, scoring included.
    """

    mean: dict[str, float]
    per_user: pd.DataFrame
    num_users: int
    num_skipped: int = 0
    num_candidates: int = 0
    ks: tuple[int, ...] = ()
    metrics: tuple[str, ...] = ()
    seed: int = 0
    protocol: str = "full"
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> float:
        """``result["ndcg@20"]`` is ``result.mean["ndcg@20"]``."""
        try:
            return self.mean[key]
        except KeyError:
            raise KeyError(f"no metric {key!r}; expected one of {list(self.mean)}") from None

    def to_dict(self, *, per_user: bool = False) -> dict[str, Any]:
        """Plain, JSON-ready dict (per-user values only when ``per_user=True``)."""
        out: dict[str, Any] = {
            "mean": {k: float(v) for k, v in self.mean.items()},
            "num_users": int(self.num_users),
            "num_skipped": int(self.num_skipped),
            "num_candidates": int(self.num_candidates),
            "ks": list(self.ks),
            "metrics": list(self.metrics),
            "seed": int(self.seed),
            "protocol": self.protocol,
            "seconds": float(self.seconds),
        }
        if self.extra:
            out["extra"] = dict(self.extra)
        if per_user:
            out["per_user"] = {
                "user": self.per_user.index.to_numpy().tolist(),
                **{c: self.per_user[c].to_numpy().tolist() for c in self.per_user.columns},
            }
        return out

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.4f}" for k, v in self.mean.items())
        return f"EvalResult({self.protocol}, users={self.num_users}, {shown})"


# ---------------------------------------------------------------------- CSR helpers
class _UserCSR:
    """(user, column) pairs grouped by user: ``cols[indptr[u]:indptr[u + 1]]``."""

    def __init__(self, users: np.ndarray, cols: np.ndarray, num_users: int) -> None:
        order = np.argsort(users, kind="stable")
        self.cols = np.ascontiguousarray(cols[order], dtype=np.int64)
        counts = np.bincount(users, minlength=num_users)
        self.counts = counts
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def gather(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row positions (into ``users``) and columns of every pair of the given users."""
        counts = self.counts[users]
        total = int(counts.sum())
        row_pos = np.repeat(np.arange(len(users), dtype=np.int64), counts)
        if total == 0:
            return row_pos, np.empty(0, dtype=np.int64)
        starts = np.repeat(self.indptr[users], counts)
        offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        return row_pos, self.cols[starts + offsets]


@dataclass(eq=False)
class _Prepared:
    """What :meth:`FullRankingEvaluator._prepare` builds for one (target, exclude, candidates)."""

    target: RecDataset
    exclude: tuple[RecDataset, ...]
    candidates: np.ndarray | None
    cand: np.ndarray
    n_cols: int
    relevant: _UserCSR
    eval_users: np.ndarray
    masked: _UserCSR
    batches: dict[tuple[int, int], tuple[np.ndarray, ...]] = field(default_factory=dict)

    def gather(self, start: int, users: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(r_pos, r_col, m_pos, m_col)`` of the batch of ``users`` starting at ``start``."""
        key = (start, users.size)
        hit = self.batches.get(key)
        if hit is None:
            hit = self.batches[key] = (*self.relevant.gather(users), *self.masked.gather(users))
        return hit


def _check_part(part: RecDataset, target: RecDataset, what: str) -> None:
    if not isinstance(part, RecDataset):
        raise TypeError(f"{what} must be a RecDataset (got {type(part).__name__})")
    if part.num_users != target.num_users or part.num_items != target.num_items:
        raise ValueError(
            f"{what} must share the target's id maps: expected {target.num_users} users and "
            f"{target.num_items} items (got {part.num_users} users and {part.num_items} items); "
            "build every part with RecDataset.subset of one dataset"
        )


def _pairs(part: RecDataset) -> tuple[np.ndarray, np.ndarray]:
    inter = part.interactions
    return (
        inter["user"].to_numpy(dtype=np.int64),
        inter["item"].to_numpy(dtype=np.int64),
    )


class FullRankingEvaluator:
    """Rank all items for every user with a target positive; RecBole-compatible metrics.

    Args:
        ks: list lengths K (each >= 1), default ``(10, 20)``.
        metrics: names from :data:`~kgrec.evaluate.metrics.METRICS`, default all six
            (``recall, ndcg, precision, hit, mrr, map``).
        batch_size: users scored per call of ``score_fn`` (bounds memory:
            ``batch_size x num_items`` floats), default 1024.
        seed: tie-break seed; the same seed gives the same ranking whatever the batch size.
        candidates: default of :meth:`evaluate`'s ``candidates`` (e.g. the cold items, so that a
            fit loop validating on a cold-item split ranks among new items only).
        sampled_negatives: ``None`` (default) for full ranking. An int N ranks each user's
            positives against N sampled non-excluded negatives instead, and warns: sampled
            metrics can order models differently from full ranking (Krichene & Rendle, "On
            Sampled Metrics for Item Recommendation", KDD 2020). Only for comparing with papers
            that used this protocol.

    Example::

        ev = FullRankingEvaluator(ks=(20,))
        res = ev.evaluate(model.score_users, target=test, exclude=[train, valid])
        res.mean["ndcg@20"]
    """

    def __init__(
        self,
        *,
        ks: Sequence[int] = (10, 20),
        metrics: Sequence[str] = ("recall", "ndcg", "precision", "hit", "mrr", "map"),
        batch_size: int = 1024,
        seed: int = 2026,
        sampled_negatives: int | None = None,
        candidates: np.ndarray | None = None,
    ) -> None:
        ks = tuple(int(k) for k in ([ks] if isinstance(ks, int) else ks))
        if not ks or min(ks) < 1:
            raise ValueError(f"ks must be a non-empty sequence of ints >= 1 (got {ks})")
        if isinstance(metrics, str):
            metrics = (metrics,)
        self.metric_fns = {name: get_metric(name) for name in metrics}
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
        if sampled_negatives is not None and int(sampled_negatives) < 1:
            raise ValueError(
                f"sampled_negatives must be None (full ranking) or >= 1 (got {sampled_negatives})"
            )
        self.ks = tuple(sorted(set(ks)))
        self.metrics = tuple(self.metric_fns)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.sampled_negatives = None if sampled_negatives is None else int(sampled_negatives)
        self.candidates = None if candidates is None else np.asarray(candidates)
        self._last: _Prepared | None = None

    def __repr__(self) -> str:
        return (
            f"FullRankingEvaluator(ks={self.ks}, metrics={self.metrics}, "
            f"batch_size={self.batch_size}, seed={self.seed}, "
            f"sampled_negatives={self.sampled_negatives}"
            + ("" if self.candidates is None else f", candidates=<{self.candidates.size} items>")
            + ")"
        )

    # ------------------------------------------------------------------ main entry
    def evaluate(
        self,
        score_fn: ScoreFn,
        *,
        target: RecDataset,
        exclude: Sequence[RecDataset] = (),
        candidates: np.ndarray | None = None,
        popularity_from: RecDataset | None = None,
    ) -> EvalResult:
        """Score, mask, rank and measure.

        Args:
            score_fn: ``users [B] int64 -> scores [B, num_items] float`` (e.g.
                ``model.score_users``); called once per chunk of ``batch_size`` users under
                ``torch.inference_mode``. The returned tensor is not modified.
            target: the part whose pairs are relevant (valid or test).
            exclude: parts whose pairs are masked to ``-inf`` (``[train]`` for validation,
                ``[train, valid]`` for test). Target pairs that also occur here can never be
                hit; a ``UserWarning`` counts them.
            candidates: optional 1-D array of item indices to rank among (e.g. the cold items);
                target pairs outside it are dropped, and users left without a positive skipped.
                Default: the evaluator's own ``candidates`` (None: all items).
            popularity_from: a part (usually train) to count item popularity from; when given,
                ``coverage@K`` (over the ranked catalogue), ``gini@K`` and ``avg_pop@K`` are
                added to ``mean``.

        Returns:
            :class:`EvalResult`.
        """
        t0 = time.perf_counter()
        if not isinstance(target, RecDataset):
            raise TypeError(f"target must be a RecDataset (got {type(target).__name__})")
        if isinstance(exclude, RecDataset):
            exclude = (exclude,)
        for j, part in enumerate(exclude):
            _check_part(part, target, f"exclude[{j}]")
        if popularity_from is not None:
            _check_part(popularity_from, target, "popularity_from")
        n_users, n_items = target.num_users, target.num_items
        if candidates is None:
            candidates = self.candidates

        prep = self._prepare(target, tuple(exclude), candidates)
        cand, n_cols, relevant, eval_users = prep.cand, prep.n_cols, prep.relevant, prep.eval_users
        overlap = 0  # target pairs that are also masked, counted per batch below
        if self.sampled_negatives is not None:
            warnings.warn(
                f"sampled metrics ({self.sampled_negatives} negatives per user) can rank models "
                "differently from full ranking (Krichene & Rendle, KDD 2020); report full-ranking "
                "metrics (sampled_negatives=None) as the main result",
                UserWarning,
                stacklevel=2,
            )

        max_k = max(self.ks)
        k_eff = min(max_k, n_cols)
        columns = {f"{m}@{k}": [] for m in self.metrics for k in self.ks}
        top_items_parts: list[np.ndarray] = []
        cand_t: Tensor | None = None

        with torch.inference_mode():
            for start in range(0, eval_users.size, self.batch_size):
                users = eval_users[start : start + self.batch_size]
                users_t = torch.from_numpy(users)
                scores = score_fn(users_t)
                if not isinstance(scores, Tensor):
                    raise TypeError(
                        f"score_fn must return a torch.Tensor (got {type(scores).__name__})"
                    )
                if scores.shape != (users.size, n_items):
                    raise ValueError(
                        f"score_fn must return scores of shape [B, num_items] = "
                        f"[{users.size}, {n_items}] (got {list(scores.shape)})"
                    )
                if not scores.is_floating_point():
                    scores = scores.to(torch.float32)
                device = scores.device
                if cand_t is None:
                    cand_t = torch.from_numpy(cand).to(device)
                users_d = users_t.to(device)
                # a copy: the model's tensor is never written to
                scores = (
                    scores.index_select(1, cand_t) if candidates is not None else scores.clone()
                )

                r_pos, r_col, m_pos, m_col = prep.gather(start, users)
                rel = torch.zeros(users.size, n_cols, dtype=torch.bool, device=device)
                rel[torch.from_numpy(r_pos).to(device), torch.from_numpy(r_col).to(device)] = True
                m_pos_t = torch.from_numpy(m_pos).to(device)
                m_col_t = torch.from_numpy(m_col).to(device)
                overlap += int(rel[m_pos_t, m_col_t].sum())
                scores[m_pos_t, m_col_t] = float("-inf")
                if self.sampled_negatives is not None:
                    allowed = self._sampled_allowed(rel, m_pos_t, m_col_t, users_d, cand_t)
                    scores.masked_fill_(~allowed, float("-inf"))

                top = topk_random_ties(scores, k_eff, seed=self.seed, rows=users_d, cols=cand_t)
                # a place filled with a masked (-inf) item is a miss, never a hit
                ranked = scores.gather(1, top) > float("-inf")
                hits = rel.gather(1, top) & ranked
                if k_eff < max_k:  # fewer candidates than K: the missing places are misses
                    pad = torch.zeros(users.size, max_k - k_eff, dtype=torch.bool, device=device)
                    hits = torch.cat([hits, pad], 1)
                    ranked = torch.cat([ranked, pad], 1)
                n_rel = torch.from_numpy(relevant.counts[users]).to(device)
                for m, fn in self.metric_fns.items():
                    for k in self.ks:
                        columns[f"{m}@{k}"].append(fn(hits[:, :k], n_rel).cpu().numpy())
                if popularity_from is not None:
                    items = cand_t[top]
                    if k_eff < max_k:
                        items = torch.cat(
                            [items, torch.full_like(items[:, :1], -1).expand(-1, max_k - k_eff)], 1
                        )
                    top_items_parts.append(torch.where(ranked, items, -1).cpu().numpy())

        if overlap:
            warnings.warn(
                f"{overlap} target (user, item) pairs also occur in an excluded part; "
                "they are masked and count as misses (is the split leaking?)",
                UserWarning,
                stacklevel=2,
            )
        per_user = pd.DataFrame(
            {name: np.concatenate(vals) for name, vals in columns.items()},
            index=pd.Index(eval_users, name="user"),
        )
        mean = {name: float(per_user[name].mean()) for name in per_user.columns}
        if popularity_from is not None:
            top_items = np.concatenate(top_items_parts)
            pop = np.bincount(_pairs(popularity_from)[1], minlength=n_items)
            for k in self.ks:
                mean[f"coverage@{k}"] = item_coverage(top_items[:, :k], n_cols)
                mean[f"gini@{k}"] = gini_index(top_items[:, :k], n_items)
                mean[f"avg_pop@{k}"] = average_popularity(top_items[:, :k], pop)
        protocol = (
            "full"
            if self.sampled_negatives is None
            else f"sampled({self.sampled_negatives} negatives)"
        )
        return EvalResult(
            mean=mean,
            per_user=per_user,
            num_users=int(eval_users.size),
            num_skipped=int(n_users - eval_users.size),
            num_candidates=n_cols,
            ks=self.ks,
            metrics=self.metrics,
            seed=self.seed,
            protocol=protocol,
            seconds=time.perf_counter() - t0,
        )

    # ------------------------------------------------------------------ index structures
    def _prepare(
        self, target: RecDataset, exclude: tuple[RecDataset, ...], candidates: np.ndarray | None
    ) -> _Prepared:
        """Candidate columns and the relevant / masked pairs grouped by user, reused while the
        same (target, exclude, candidates) objects come back (the fit loop's every epoch).
        Parts are treated as immutable."""
        last = self._last
        if (
            last is not None
            and last.target is target
            and last.candidates is candidates
            and len(last.exclude) == len(exclude)
            and all(a is b for a, b in zip(last.exclude, exclude, strict=True))
        ):
            return last
        n_users, n_items = target.num_users, target.num_items
        # ---- candidate columns: column c ranks item cand[c]
        if candidates is None:
            cand = np.arange(n_items, dtype=np.int64)
            col_of_item = cand
        else:
            cand = np.asarray(candidates)
            if cand.ndim != 1 or cand.size == 0 or not np.issubdtype(cand.dtype, np.integer):
                raise ValueError(
                    "candidates must be a non-empty 1-D integer array of item indices "
                    f"(got dtype {cand.dtype}, shape {cand.shape})"
                )
            cand = cand.astype(np.int64)
            if cand.min() < 0 or cand.max() >= n_items:
                raise ValueError(
                    f"candidates must be item indices in [0, {n_items}) "
                    f"(got min {cand.min()}, max {cand.max()})"
                )
            if np.unique(cand).size != cand.size:
                raise ValueError("candidates must not repeat an item")
            col_of_item = np.full(n_items, -1, dtype=np.int64)
            col_of_item[cand] = np.arange(cand.size, dtype=np.int64)
        n_cols = int(cand.size)

        # ---- relevant pairs (restricted to candidates) and masked pairs, grouped by user
        tu, ti = _pairs(target)
        tc = col_of_item[ti]
        keep = tc >= 0
        tu, tc = tu[keep], tc[keep]
        relevant = _UserCSR(tu, tc, n_users)
        eval_users = np.flatnonzero(relevant.counts > 0)
        if eval_users.size == 0:
            where = " among the candidates" if candidates is not None else ""
            raise ValueError(
                f"no user has a positive in target{where} (got {len(target.interactions)} "
                "target interactions); nothing to evaluate"
            )
        if exclude:
            eu = np.concatenate([_pairs(p)[0] for p in exclude])
            ec = col_of_item[np.concatenate([_pairs(p)[1] for p in exclude])]
            keep = ec >= 0
            eu, ec = eu[keep], ec[keep]
        else:
            eu = ec = np.empty(0, dtype=np.int64)
        masked = _UserCSR(eu, ec, n_users)
        self._last = _Prepared(target, exclude, candidates, cand, n_cols, relevant, eval_users, masked)
        return self._last

    # ------------------------------------------------------------------ sampled protocol
    def _sampled_allowed(
        self, rel: Tensor, m_pos: Tensor, m_col: Tensor, users: Tensor, cand: Tensor
    ) -> Tensor:
        """Each row's positives plus N negatives drawn without replacement (seeded hash).

        Negatives are the N non-positive, non-excluded columns with the largest hash
        ``h(seed ^ salt, user, item)``: a uniform sample without replacement, reproducible and
        independent of batching.
        """
        n = int(self.sampled_negatives or 0)
        key = tie_break_hash(users, cand, seed=self.seed ^ _NEG_SAMPLE_SALT)
        key = key.masked_fill(rel, -1)
        key[m_pos, m_col] = -1
        vals, idx = torch.topk(key, min(n, key.shape[1]), dim=1)
        sampled = torch.zeros_like(rel).scatter_(1, idx, vals >= 0)  # -1: not a negative
        return sampled | rel
