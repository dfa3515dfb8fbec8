"""Honest evaluation: full ranking, random tie-breaking, RecBole-compatible metrics, tests.

- :class:`FullRankingEvaluator` ranks every item for every user with a target positive, with
  the training (and validation) pairs masked; returns an :class:`EvalResult`.
- :data:`METRICS`: ``recall, ndcg, precision, hit, mrr, map`` as functions of a hit matrix.
- :func:`topk_random_ties`: top-k with ties in a seeded random order (``torch.topk`` orders
  ties by index, which flatters popularity-like scores on id-ordered datasets).
- :func:`paired_test`, :func:`bootstrap_ci`: significance of a difference between models.
"""

from kgrec.evaluate.evaluator import EvalResult, FullRankingEvaluator
from kgrec.evaluate.metrics import METRICS
from kgrec.evaluate.ranking import topk_random_ties
from kgrec.evaluate.significance import bootstrap_ci, paired_test

__all__ = [
    "METRICS",
    "EvalResult",
    "FullRankingEvaluator",
    "bootstrap_ci",
    "paired_test",
    "topk_random_ties",
]
