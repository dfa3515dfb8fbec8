"""Is model A better than model B on these users? Paired tests and bootstrap intervals.

Both work on :attr:`EvalResult.per_user`, one value per user: compare two models only on the
same split with the same target part, so the users pair up.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from kgrec.evaluate.evaluator import EvalResult

__all__ = ["bootstrap_ci", "paired_test"]


def _column(result: EvalResult, metric: str, what: str) -> Any:
    if not isinstance(result, EvalResult):
        raise TypeError(f"{what} must be an EvalResult (got {type(result).__name__})")
    if metric not in result.per_user.columns:
        raise KeyError(
            f"{what} has no per-user metric {metric!r}; expected one of "
            f"{list(result.per_user.columns)}"
        )
    return result.per_user[metric]


def paired_test(a: EvalResult, b: EvalResult, metric: str) -> dict[str, Any]:
    r"""Paired t-test and Wilcoxon signed-rank test of ``a`` against ``b`` on one metric.

    Over the users both results evaluated, with :math:`d_u = a_u - b_u`:

    - ``t_pvalue``: two-sided paired t-test (``scipy.stats.ttest_rel``),
      :math:`t = \bar d / (s_d / \sqrt{n})`;
    - ``wilcoxon_pvalue``: two-sided Wilcoxon signed-rank test (``scipy.stats.wilcoxon``,
      ``zero_method="wilcox"``: users with :math:`d_u = 0`, common for top-K metrics, are
      dropped), robust to the skewed, zero-heavy distribution of per-user metrics.

    When every difference is 0 the models are indistinguishable: both p-values are 1.0 and both
    statistics 0.0 (scipy itself would return NaN). With fewer than 2 common users the
    p-values are NaN.

    Args:
        a, b: two :class:`EvalResult` s on the same target part.
        metric: a per-user column, e.g. ``"ndcg@20"``.

    Returns:
        ``{"metric", "n_users", "mean_a", "mean_b", "mean_diff" (mean of a - b over common
        users), "t_statistic", "t_pvalue", "wilcoxon_statistic", "wilcoxon_pvalue"}``.
    """
    col_a = _column(a, metric, "a")
    col_b = _column(b, metric, "b")
    common = col_a.index.intersection(col_b.index)
    x = col_a.loc[common].to_numpy(dtype=np.float64)
    y = col_b.loc[common].to_numpy(dtype=np.float64)
    d = x - y
    out: dict[str, Any] = {
        "metric": metric,
        "n_users": int(common.size),
        "mean_a": float(x.mean()) if x.size else float("nan"),
        "mean_b": float(y.mean()) if y.size else float("nan"),
        "mean_diff": float(d.mean()) if d.size else float("nan"),
    }
    nan = float("nan")
    if d.size < 2:
        out.update(t_statistic=nan, t_pvalue=nan, wilcoxon_statistic=nan, wilcoxon_pvalue=nan)
        return out
    if not np.any(d != 0):
        out.update(t_statistic=0.0, t_pvalue=1.0, wilcoxon_statistic=0.0, wilcoxon_pvalue=1.0)
        return out
    with warnings.catch_warnings():
        # a constant non-zero difference has zero variance: t = +-inf, p = 0, which is right
        warnings.simplefilter("ignore", RuntimeWarning)
        from scipy import stats  # imported here: scipy.stats costs ~50 MB of RSS at import

        t = stats.ttest_rel(x, y)
        try:
            w = stats.wilcoxon(x, y, zero_method="wilcox", alternative="two-sided")
            w_stat, w_p = float(w.statistic), float(w.pvalue)
        except ValueError:  # too few non-zero differences for scipy
            w_stat, w_p = nan, nan
    out.update(
        t_statistic=float(t.statistic),
        t_pvalue=float(t.pvalue),
        wilcoxon_statistic=w_stat,
        wilcoxon_pvalue=w_p,
    )
    return out


def bootstrap_ci(
    result: EvalResult,
    metric: str,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    r"""Percentile bootstrap confidence interval of a metric's mean over users.

    Draws ``n_resamples`` resamples of the n users with replacement (numpy
    ``default_rng(seed)``), takes each resample's mean, and returns the
    :math:`(1 - c)/2` and :math:`(1 + c)/2` quantiles of those means. Vectorised: resamples are
    drawn as index blocks of at most about 4 million entries, so memory stays bounded for large
    user counts.

    Args:
        result: an :class:`EvalResult`.
        metric: a per-user column, e.g. ``"recall@20"``.
        n_resamples: number of bootstrap resamples (>= 1), default 1000.
        confidence: interval mass in (0, 1), default 0.95.
        seed: resampling seed, default 0.

    Returns:
        ``(low, high)``.
    """
    values = _column(result, metric, "result").to_numpy(dtype=np.float64)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1) (got {confidence})")
    if int(n_resamples) < 1:
        raise ValueError(f"n_resamples must be >= 1 (got {n_resamples})")
    n = values.size
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.empty(int(n_resamples), dtype=np.float64)
    block = max(1, (1 << 22) // n)
    for start in range(0, int(n_resamples), block):
        stop = min(start + block, int(n_resamples))
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)
