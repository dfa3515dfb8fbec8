"""Top-k lists and evaluation of any fitted scorer: what :class:`~kgrec.recommender.Recommender`
and :class:`~kgrec.fusion.FusedRecommender` share.

A scorer is ``score_users(users [B] int64) -> [B, num_items]`` over the items of ``train``;
``seen`` are the parts given to its fit (train, and valid when it was used), masked by default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from kgrec.data.dataset import RecDataset
from kgrec.evaluate import EvalResult, FullRankingEvaluator, topk_random_ties

__all__ = ["evaluate_scorer", "top_k_frame"]

ScoreUsers = Callable[[Tensor], Tensor]


def top_k_frame(
    score_users: ScoreUsers,
    users: Sequence[Any] | Any,
    k: int,
    *,
    train: RecDataset,
    seen: Sequence[RecDataset],
    exclude_seen: bool,
    seed: int,
) -> pd.DataFrame:
    """Top-``k`` items per raw user id: a frame ``user, rank, item, score`` (raw ids).

    Repeated users are listed once; with ``exclude_seen`` each user's items in ``seen`` are
    masked (and never listed, even when fewer than ``k`` items remain). Ties are broken at random
    with ``seed`` (:func:`~kgrec.evaluate.topk_random_ties`).
    """
    raw_users = [users] if np.ndim(users) == 0 else list(dict.fromkeys(users))
    u = torch.as_tensor(train.users.to_index(raw_users))
    scores = score_users(u).float().cpu().clone()
    if exclude_seen:
        row_of = np.full(train.num_users, -1, dtype=np.int64)
        row_of[u.numpy()] = np.arange(len(u))
        for part in seen:
            rows = row_of[part.interactions["user"].to_numpy()]
            hit = rows >= 0
            items = part.interactions["item"].to_numpy()[hit]
            scores[torch.as_tensor(rows[hit]), torch.as_tensor(items)] = -torch.inf
    k = min(k, scores.shape[1])
    top = topk_random_ties(scores, k, seed=seed, rows=u)
    top_scores = scores.gather(1, top)
    frame = pd.DataFrame(
        {
            "user": np.repeat(np.asarray(raw_users, dtype=object), k),
            "rank": np.tile(np.arange(1, k + 1), len(raw_users)),
            "item": train.items.to_raw(top.reshape(-1).numpy()),
            "score": top_scores.reshape(-1).numpy(),
        }
    )
    return frame[np.isfinite(frame["score"].to_numpy())].reset_index(drop=True)


def evaluate_scorer(
    score_users: ScoreUsers,
    test: RecDataset,
    *,
    train: RecDataset,
    seen: Sequence[RecDataset],
    ks: Sequence[int],
    seed: int,
    metrics: Sequence[str] | None = None,
    exclude: Sequence[RecDataset] | None = None,
    candidates: np.ndarray | None = None,
) -> EvalResult:
    """Full-ranking evaluation on ``test`` with ``exclude`` (default: ``seen``) masked and the
    popularity metrics counted on ``train``."""
    options: dict[str, Any] = {"ks": tuple(ks), "seed": seed}
    if metrics is not None:
        options["metrics"] = tuple(metrics)
    return FullRankingEvaluator(**options).evaluate(
        score_users,
        target=test,
        exclude=list(seen if exclude is None else exclude),
        candidates=candidates,
        popularity_from=train,
    )
