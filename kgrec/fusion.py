"""Model fusion: several fitted recommenders scored as one.

Two ways to fuse the members' scores ``s_m(u, i)``:

- ``method="linear"`` (default): ``s(u, i) = Σ_m w_m · n_m(u, i)`` where ``n_m`` is the member's
  score normalised per user over the items the user did not train on: ``"zscore"`` (default;
  ``(s - μ_u) / σ_u``), ``"rank"`` (``1 - r/(n_u - 1)`` for the 0-based rank ``r`` among the
  ``n_u`` candidate items, ties in a seeded random order) or ``"none"``. The weights are given,
  or tuned on the validation part by coordinate ascent over a grid (each weight in turn takes
  the grid value that maximises validation NDCG@20, others fixed; rounds until no change),
  then normalised to sum 1. Linear score fusion goes back to CombSUM (Fox & Shaw, TREC 1994).
- ``method="rrf"``: reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009), weight-free:
  ``s(u, i) = Σ_m w_m / (k + r_m(u, i))`` with the 1-based rank ``r_m`` of ``i`` among the
  user's candidate items under member ``m``, ``k = 60`` and ``w_m = 1`` unless given.

A user's *training* items are no candidates: they get ``-inf`` (every evaluation and
recommendation masks them anyway), so the normalisation statistics and ranks are those of the
items that can be recommended. Every member must be fitted on the same training data.

The fused model is itself a recommender (``score_users``, ``recommend``, ``evaluate``,
``save``, ``load``), and ``kgrec fuse RUN_DIR ... --out RUN_DIR`` builds one from trained runs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from kgrec import __version__
from kgrec.data.dataset import RecDataset
from kgrec.evaluate import EvalResult, FullRankingEvaluator
from kgrec.evaluate.ranking import tie_break_hash
from kgrec.exceptions import NotFittedError
from kgrec.serving import evaluate_scorer, top_k_frame

__all__ = ["FusedRecommender", "Method", "Normalise"]

logger = logging.getLogger(__name__)

Method = Literal["linear", "rrf"]
Normalise = Literal["zscore", "rank", "none"]
FORMAT = "kgrec-fusion"
DEFAULT_GRID = tuple(round(0.1 * k, 1) for k in range(11))


class _PairMask:
    """Training pairs grouped by user; ``mask(users)`` is the ``[B, I]`` boolean of them."""

    def __init__(self, train: RecDataset) -> None:
        u = train.interactions["user"].to_numpy().astype(np.int64)
        i = train.interactions["item"].to_numpy().astype(np.int64)
        order = np.argsort(u, kind="stable")
        self.items = torch.as_tensor(i[order])
        self.counts = torch.as_tensor(np.bincount(u, minlength=train.num_users))
        self.starts = torch.cat([torch.zeros(1, dtype=torch.long), self.counts.cumsum(0)[:-1]])
        self.num_items = train.num_items

    def mask(self, users: Tensor) -> Tensor:
        counts = self.counts[users]
        rows = torch.repeat_interleave(torch.arange(len(users)), counts)
        first = torch.repeat_interleave(self.starts[users] - (counts.cumsum(0) - counts), counts)
        cols = self.items[first + torch.arange(int(counts.sum()))]
        out = torch.zeros(len(users), self.num_items, dtype=torch.bool)
        out[rows, cols] = True
        return out


def _ranks(scores: Tensor, users: Tensor, *, seed: int) -> Tensor:
    """0-based descending rank of every column per row, ties in a seeded random order."""
    n_items = scores.shape[1]
    keys = tie_break_hash(users, torch.arange(n_items), seed=seed)
    by_hash = torch.argsort(keys, dim=1)
    s = scores.gather(1, by_hash)
    order = by_hash.gather(1, torch.sort(s, dim=1, descending=True, stable=True).indices)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(n_items).expand_as(order).contiguous())
    return ranks


class FusedRecommender:
    """Fuse fitted recommenders (module docstring for the maths).

    Args:
        members: fitted :class:`~kgrec.Recommender` s (or anything with ``score_users`` and
            ``train_data``) trained on the same data.
        method: ``"linear"`` (default) or ``"rrf"``.
        normalise: ``"zscore"`` (default), ``"rank"`` or ``"none"`` (``linear`` only).
        weights: one per member; ``None`` tunes them on ``valid`` in :meth:`fit` (``linear``) or
            uses 1 each (``rrf``).
        rrf_k: RRF's ``k``, default 60.
        grid: candidate weight values for tuning, default ``0, 0.1, ..., 1``.
        metric: the tuning metric, default ``"ndcg@20"``.
        ks: cut-offs of :meth:`evaluate`, default ``(10, 20)``.
        seed: tie-breaking seed (ranks and evaluation), default 2026.
        max_rounds: coordinate-ascent rounds at most, default 5.
    """

    model = "fusion"
    is_encoder = False

    def __init__(
        self,
        members: Sequence[Any],
        *,
        method: Method = "linear",
        normalise: Normalise = "zscore",
        weights: Sequence[float] | None = None,
        rrf_k: float = 60.0,
        grid: Sequence[float] = DEFAULT_GRID,
        metric: str = "ndcg@20",
        ks: Sequence[int] = (10, 20),
        seed: int = 2026,
        max_rounds: int = 5,
    ) -> None:
        members = list(members)
        if len(members) < 1:
            raise ValueError("expected at least one member recommender (got none)")
        if method not in ("linear", "rrf"):
            raise ValueError(f"unknown method {method!r}; valid: linear, rrf")
        if normalise not in ("zscore", "rank", "none"):
            raise ValueError(f"unknown normalise {normalise!r}; valid: zscore, rank, none")
        if weights is not None and (
            len(weights) != len(members) or any(w < 0 for w in weights) or sum(weights) <= 0
        ):
            raise ValueError(
                f"expected {len(members)} non-negative weights with a positive sum (got {list(weights)})"
            )
        if rrf_k < 0 or not grid or min(grid) < 0:
            raise ValueError(
                f"expected rrf_k >= 0 and a non-empty grid of weights >= 0 (got {rrf_k}, {list(grid)})"
            )
        self.members = members
        self.method = method
        self.normalise = normalise
        self.weights: list[float] | None = (
            [float(w) for w in weights] if weights is not None else None
        )
        self.rrf_k = float(rrf_k)
        self.grid = tuple(float(g) for g in grid)
        self.metric = metric
        self.ks = tuple(int(k) for k in ks)
        self.seed = int(seed)
        self.max_rounds = int(max_rounds)
        self.tuning_: list[dict[str, Any]] = []
        self.member_valid_: list[float] | None = None
        self._train: RecDataset | None = None
        self._seen: list[RecDataset] = []
        self._mask: _PairMask | None = None

    # ------------------------------------------------------------------ basics
    def config(self) -> dict[str, Any]:
        """JSON-ready settings (members by their own config)."""
        return {
            "model": self.model,
            "method": self.method,
            "normalise": self.normalise,
            "weights": self.weights,
            "rrf_k": self.rrf_k,
            "metric": self.metric,
            "ks": list(self.ks),
            "seed": self.seed,
            "members": [
                m.config() if hasattr(m, "config") else type(m).__name__ for m in self.members
            ],
        }

    def __repr__(self) -> str:
        names = ", ".join(str(getattr(m, "model", type(m).__name__)) for m in self.members)
        return f"FusedRecommender([{names}], method={self.method!r}, normalise={self.normalise!r}, weights={self.weights})"

    @property
    def train_data(self) -> RecDataset:
        self._check_fitted()
        assert self._train is not None
        return self._train

    def _check_fitted(self) -> None:
        if self._train is None or self.weights is None:
            raise NotFittedError("this FusedRecommender is not fitted yet; call fit(valid) first")

    # ------------------------------------------------------------------ fitting
    def fit(self, valid: RecDataset | None = None) -> FusedRecommender:
        """Check the members share their training data; tune the weights on ``valid``.

        ``linear`` without weights needs ``valid``; ``rrf`` and given weights need nothing.
        Returns self.
        """
        trains = [m.train_data for m in self.members]
        sums = {t.checksum() for t in trains}
        if len(sums) != 1:
            raise ValueError(
                "expected members fitted on the same training data (got "
                f"{len(sums)} different training sets); train every member on one split"
            )
        train = trains[0]
        self._train = train
        seen = list(getattr(self.members[0], "_seen", [train])) or [train]
        if valid is not None and all(valid.checksum() != s.checksum() for s in seen):
            seen.append(valid)
        self._seen = seen
        self._mask = _PairMask(train)
        if self.weights is None:
            if self.method == "rrf":
                self.weights = [1.0] * len(self.members)
            elif valid is None:
                raise ValueError(
                    "tuning the weights needs valid data: fit(valid), or pass weights="
                )
            else:
                self.weights = self._tune(valid)
        return self

    def _normalised(self, member: Any, users: Tensor, mask: Tensor) -> Tensor:
        """One member's normalised scores ``[B, I]``; 0 at masked (training) items."""
        s = member.score_users(users).detach().to(torch.float32).cpu().clone()
        free = ~mask
        if self.method == "rrf" or self.normalise == "rank":
            s[mask] = -torch.inf
            ranks = _ranks(s, users, seed=self.seed).to(torch.float32)
            if self.method == "rrf":
                out = 1.0 / (self.rrf_k + ranks + 1.0)
            else:
                n = free.sum(1, keepdim=True).to(torch.float32)
                out = 1.0 - ranks / (n - 1).clamp_min(1.0)
        elif self.normalise == "zscore":
            n = free.sum(1, keepdim=True).clamp_min(1).to(torch.float32)
            x = torch.where(free, s, torch.zeros(()))
            mu = x.sum(1, keepdim=True) / n
            var = torch.where(free, (s - mu) ** 2, torch.zeros(())).sum(1, keepdim=True) / n
            out = (s - mu) / var.sqrt().clamp_min(1e-12)
        else:
            out = s
        return torch.where(free, out, torch.zeros(()))

    def _combine(self, parts: Sequence[Tensor], weights: Sequence[float], mask: Tensor) -> Tensor:
        total = torch.zeros_like(parts[0])
        for w, p in zip(weights, parts, strict=True):
            if w:
                total.add_(p, alpha=float(w))
        return total.masked_fill_(mask, -torch.inf)

    def _tune(self, valid: RecDataset) -> list[float]:
        assert self._mask is not None and self._train is not None
        users = torch.as_tensor(np.unique(valid.interactions["user"].to_numpy()).astype(np.int64))
        row_of = torch.full((self._train.num_users,), -1, dtype=torch.long)
        row_of[users] = torch.arange(len(users))
        mask = self._mask.mask(users)
        parts = [self._normalised(m, users, mask) for m in self.members]
        evaluator = FullRankingEvaluator(ks=self.ks, seed=self.seed)
        metric = self.metric

        def value(weights: Sequence[float]) -> float:
            fused = self._combine(parts, weights, mask)
            result = evaluator.evaluate(
                lambda u: fused[row_of[u]], target=valid, exclude=[self._train]
            )
            if metric not in result.mean:
                raise KeyError(f"expected the tuning metric {metric!r} among {sorted(result.mean)}")
            return float(result.mean[metric])

        n = len(self.members)
        self.member_valid_ = [value([1.0 if j == m else 0.0 for j in range(n)]) for m in range(n)]
        w = [1.0 / n] * n
        best = value(w)
        self.tuning_ = [{"round": 0, "weights": list(w), metric: best}]
        for rnd in range(1, self.max_rounds + 1):
            improved = False
            for m in range(n):
                for g in self.grid:
                    if g == w[m]:
                        continue
                    cand = list(w)
                    cand[m] = g
                    if sum(cand) <= 0:
                        continue
                    v = value(cand)
                    if v > best + 1e-12:
                        best, w, improved = v, cand, True
            self.tuning_.append({"round": rnd, "weights": list(w), metric: best})
            if not improved:
                break
        total = sum(w)
        logger.info(
            "fusion weights %s (valid %s %.5f; members %s)", w, metric, best, self.member_valid_
        )
        return [x / total for x in w]

    # ------------------------------------------------------------------ scoring
    def score_users(self, users: Tensor) -> Tensor:
        """Fused scores ``[B, num_items]`` for local user indices; training items are ``-inf``."""
        self._check_fitted()
        assert self._mask is not None and self.weights is not None
        users = torch.as_tensor(users, dtype=torch.long).cpu()
        mask = self._mask.mask(users)
        parts = [self._normalised(m, users, mask) for m in self.members]
        return self._combine(parts, self.weights, mask)

    def recommend(
        self, users: Sequence[Any] | Any, k: int = 10, *, exclude_seen: bool = True
    ) -> pd.DataFrame:
        """Top-``k`` items per raw user id: ``user, rank, item, score`` (as :class:`Recommender`)."""
        self._check_fitted()
        return top_k_frame(
            self.score_users, users, k, train=self.train_data, seen=self._seen,
            exclude_seen=exclude_seen, seed=self.seed,
        )  # fmt: skip

    def evaluate(
        self,
        test: RecDataset,
        *,
        ks: Sequence[int] | None = None,
        metrics: Sequence[str] | None = None,
        exclude: Sequence[RecDataset] | None = None,
        candidates: np.ndarray | None = None,
    ) -> EvalResult:
        """Full-ranking evaluation on ``test``, the data seen in fitting masked (as Recommender)."""
        self._check_fitted()
        return evaluate_scorer(
            self.score_users, test, train=self.train_data, seen=self._seen, ks=ks or self.ks,
            seed=self.seed, metrics=metrics, exclude=exclude, candidates=candidates,
        )  # fmt: skip

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """``fusion.json`` (settings, weights, tuning trace, versions) + ``members/<k>/`` (each
        member's own saved folder) + ``valid/`` when the tuning part was not a member's."""
        from kgrec.data.io import save_dataset

        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        names = []
        for k, member in enumerate(self.members):
            member.save(folder / "members" / str(k))
            names.append(f"members/{k}")
        own_seen = list(getattr(self.members[0], "_seen", []))
        extra = [p for p in self._seen if all(p.checksum() != s.checksum() for s in own_seen)]
        if extra:
            save_dataset(extra[0], folder / "valid")
        meta = {
            "format": FORMAT,
            "format_version": 1,
            **{k: v for k, v in self.config().items() if k not in ("members", "model")},
            "max_rounds": self.max_rounds,
            "grid": list(self.grid),
            "members": names,
            "member_valid": self.member_valid_,
            "tuning": self.tuning_,
            "versions": {"kgrec": __version__, "torch": torch.__version__},
        }
        (folder / "fusion.json").write_text(json.dumps(meta, indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device | None = None) -> FusedRecommender:
        """Rebuild a fused recommender written by :meth:`save` (members via ``Recommender.load``,
        their encoders on ``device``)."""
        from kgrec.data.io import load_dataset
        from kgrec.recommender import Recommender

        folder = Path(path)
        meta_path = folder / "fusion.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{folder} holds no fused recommender (no fusion.json)")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(
                f"{meta_path} is not a kgrec fusion file (format {meta.get('format')!r})"
            )
        members = [Recommender.load(folder / name, device=device) for name in meta["members"]]
        fused = cls(
            members, method=meta["method"], normalise=meta["normalise"], weights=meta["weights"],
            rrf_k=meta["rrf_k"], grid=meta.get("grid", DEFAULT_GRID), metric=meta["metric"],
            ks=meta["ks"], seed=meta["seed"], max_rounds=meta.get("max_rounds", 5),
        )  # fmt: skip
        valid = load_dataset(folder / "valid") if (folder / "valid").exists() else None
        fused.fit(valid)
        fused.tuning_ = meta.get("tuning", [])
        fused.member_valid_ = meta.get("member_valid")
        return fused
