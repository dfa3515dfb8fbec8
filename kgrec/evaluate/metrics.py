r"""Top-K ranking metrics, defined exactly as RecBole 1.2.1 (``recbole/evaluator/metrics.py``).

Every accuracy metric takes a per-user hit matrix and the size of each user's relevant set:

- ``hits``: ``[B, K]`` bool, ``hits[u, j]`` is True when the item ranked at position ``j + 1``
  for user ``u`` is relevant (in the user's target set ``R(u)``);
- ``n_relevant``: ``[B]`` int, ``|R(u)|`` (counted over the whole catalogue that was ranked,
  not only over the top K); must be >= 1.

and returns ``[B]`` float64 per-user values at ``K = hits.shape[1]``; take ``hits[:, :k]`` for a
shorter list. Averages over users are what papers report. With ``rel_j = hits[u, j-1]``:

================ ===========================================================================
recall@K         :math:`\sum_{j\le K} rel_j / |R(u)|`
ndcg@K           :math:`\sum_{j\le K} rel_j / \log_2(j+1)` divided by the ideal
                 :math:`\sum_{j\le \min(|R(u)|, K)} 1 / \log_2(j+1)`
precision@K      :math:`\sum_{j\le K} rel_j / K`
hit@K            :math:`1[\sum_{j\le K} rel_j > 0]`
mrr@K            :math:`1 / j^*` with :math:`j^*` the first relevant position, 0 if none
                 within K
map@K            :math:`\sum_{j\le K} rel_j \cdot \mathrm{precision@}j / \min(|R(u)|, K)`
================ ===========================================================================

Differences from papers' own code: KGAT's released code normalises NDCG by the DCG of the hits
found inside the top K (so a single hit at rank 1 scores 1.0 however many items are relevant);
its numbers are not comparable with these. Some codebases divide MAP by ``|R(u)|`` instead of
``min(|R(u)|, K)``; RecBole (and this module) use the latter.

Beyond accuracy (over all users' top-K lists ``L`` of shape ``[N, K]``, catalogue size ``n``):
:func:`item_coverage`, :func:`gini_index`, :func:`average_popularity`, also as in RecBole.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "METRICS",
    "MetricFn",
    "average_popularity",
    "get_metric",
    "gini_index",
    "hit",
    "item_coverage",
    "map_at_k",
    "mrr",
    "ndcg",
    "precision",
    "recall",
]

MetricFn = Callable[[Tensor, Tensor], Tensor]


def _check(hits: Tensor, n_relevant: Tensor) -> tuple[Tensor, Tensor]:
    if hits.dim() != 2:
        raise ValueError(f"hits must be a 2-D [B, K] tensor (got shape {tuple(hits.shape)})")
    if hits.dtype != torch.bool:
        raise ValueError(f"hits must be a bool tensor (got dtype {hits.dtype})")
    if n_relevant.shape != (hits.shape[0],):
        raise ValueError(
            f"n_relevant must have shape ({hits.shape[0]},) to match hits "
            f"(got {tuple(n_relevant.shape)})"
        )
    if hits.shape[0] and int(n_relevant.min()) < 1:
        raise ValueError(
            "every user needs at least one relevant item (got n_relevant = "
            f"{int(n_relevant.min())}); skip users with no positives before computing metrics"
        )
    return hits, n_relevant.to(device=hits.device, dtype=torch.float64)


def _discounts(k: int, device: torch.device) -> Tensor:
    """``1 / log2(j + 1)`` for ``j = 1..k``."""
    return 1.0 / torch.log2(torch.arange(2, k + 2, device=device, dtype=torch.float64))


def recall(hits: Tensor, n_relevant: Tensor) -> Tensor:
    r"""Recall@K = :math:`|\mathrm{top}K \cap R(u)| / |R(u)|`. Shapes ``[B, K], [B] -> [B]``."""
    hits, n_rel = _check(hits, n_relevant)
    return hits.sum(1, dtype=torch.float64) / n_rel


def ndcg(hits: Tensor, n_relevant: Tensor) -> Tensor:
    r"""NDCG@K with binary relevance.

    :math:`\mathrm{DCG} = \sum_{j=1}^{K} rel_j / \log_2(j+1)`,
    :math:`\mathrm{IDCG} = \sum_{j=1}^{\min(|R(u)|, K)} 1 / \log_2(j+1)`,
    NDCG = DCG / IDCG. Shapes ``[B, K], [B] -> [B]``.
    """
    hits, n_rel = _check(hits, n_relevant)
    k = hits.shape[1]
    disc = _discounts(k, hits.device)
    dcg = (hits.to(torch.float64) * disc).sum(1)
    ideal_cum = torch.cumsum(disc, 0)  # ideal_cum[m - 1] = IDCG for m relevant items
    m = n_rel.clamp(max=k).to(torch.int64)
    return dcg / ideal_cum[m - 1]


def precision(hits: Tensor, n_relevant: Tensor) -> Tensor:
    r"""Precision@K = :math:`|\mathrm{top}K \cap R(u)| / K`. Shapes ``[B, K], [B] -> [B]``."""
    hits, _ = _check(hits, n_relevant)
    return hits.sum(1, dtype=torch.float64) / hits.shape[1]


def hit(hits: Tensor, n_relevant: Tensor) -> Tensor:
    r"""Hit@K = :math:`1[\mathrm{top}K \cap R(u) \ne \emptyset]`. Shapes ``[B, K], [B] -> [B]``."""
    hits, _ = _check(hits, n_relevant)
    return hits.any(1).to(torch.float64)


def mrr(hits: Tensor, n_relevant: Tensor) -> Tensor:
    r"""MRR@K = :math:`1 / j^*`, :math:`j^*` the first relevant position (1-based), 0 if none.

    Shapes ``[B, K], [B] -> [B]``.
    """
    hits, _ = _check(hits, n_relevant)
    k = hits.shape[1]
    if k == 0:
        return torch.zeros(hits.shape[0], dtype=torch.float64, device=hits.device)
    first = hits.to(torch.uint8).argmax(1)  # first True (argmax returns the first maximum)
    found = hits.any(1)
    return torch.where(found, 1.0 / (first.to(torch.float64) + 1.0), 0.0)


def map_at_k(hits: Tensor, n_relevant: Tensor) -> Tensor:
    r"""MAP@K as RecBole computes it.

    :math:`\mathrm{AP@K} = \frac{1}{\min(|R(u)|, K)} \sum_{j=1}^{K} rel_j \cdot
    \frac{\sum_{i \le j} rel_i}{j}`. Shapes ``[B, K], [B] -> [B]``.
    """
    hits, n_rel = _check(hits, n_relevant)
    k = hits.shape[1]
    h = hits.to(torch.float64)
    prec_j = torch.cumsum(h, 1) / torch.arange(1, k + 1, device=h.device, dtype=torch.float64)
    return (prec_j * h).sum(1) / n_rel.clamp(max=k)


METRICS: dict[str, MetricFn] = {
    "recall": recall,
    "ndcg": ndcg,
    "precision": precision,
    "hit": hit,
    "mrr": mrr,
    "map": map_at_k,
}
"""Accuracy metrics by name: ``fn(hits [B, K] bool, n_relevant [B]) -> [B] float64``."""


def get_metric(name: str) -> MetricFn:
    """The metric function registered under ``name``; a wrong name lists the valid ones."""
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}; expected one of {sorted(METRICS)}") from None


# ---------------------------------------------------------------------- beyond accuracy
def _as_numpy_lists(topk_items: Tensor | np.ndarray) -> np.ndarray:
    arr = topk_items.cpu().numpy() if isinstance(topk_items, Tensor) else np.asarray(topk_items)
    if arr.ndim != 2:
        raise ValueError(f"topk_items must be 2-D [N, K] (got shape {arr.shape})")
    return arr.astype(np.int64, copy=False)


def item_coverage(topk_items: Tensor | np.ndarray, num_items: int) -> float:
    r"""Coverage@K = :math:`|\bigcup_u L_u| / n`: distinct recommended items over the catalogue.

    Args:
        topk_items: ``[N, K]`` item indices of every user's list (entries ``< 0`` are ignored:
            a padded place).
        num_items: catalogue size ``n``.
    """
    arr = _as_numpy_lists(topk_items)
    arr = arr[arr >= 0]
    return float(np.unique(arr).size / num_items) if num_items else 0.0


def gini_index(topk_items: Tensor | np.ndarray, num_items: int) -> float:
    r"""Gini index of how often each item is recommended (0 = even, close to 1 = concentrated).

    With :math:`P_{(1)} \le \dots \le P_{(n)}` the recommendation counts of all n items
    (never-recommended items count 0):
    :math:`G = \sum_{i=1}^{n} (2i - n - 1) P_{(i)} / (n \sum_i P_{(i)})`.

    Args:
        topk_items: ``[N, K]`` item indices (entries ``< 0`` are ignored).
        num_items: catalogue size ``n``.
    """
    arr = _as_numpy_lists(topk_items)
    arr = arr[arr >= 0]
    if arr.size == 0 or num_items == 0:
        return 0.0
    counts = np.sort(np.bincount(arr, minlength=num_items)).astype(np.float64)
    i = np.arange(1, num_items + 1, dtype=np.float64)
    return float(np.sum((2 * i - num_items - 1) * counts) / (num_items * counts.sum()))


def average_popularity(topk_items: Tensor | np.ndarray, item_counts: np.ndarray) -> float:
    r"""AvgPop@K = :math:`\frac{1}{N} \sum_u \frac{1}{|L_u|} \sum_{i \in L_u} \phi(i)`.

    :math:`\phi(i)` is item i's interaction count in the training part (``item_counts``).
    Entries ``< 0`` (padded places) are left out of their user's mean.
    """
    arr = _as_numpy_lists(topk_items)
    if arr.shape[0] == 0:
        return 0.0
    counts = np.asarray(item_counts, dtype=np.float64)
    valid = arr >= 0
    pop = np.where(valid, counts[np.where(valid, arr, 0)], 0.0)
    per_user = pop.sum(1) / np.maximum(valid.sum(1), 1)
    return float(per_user.mean())
