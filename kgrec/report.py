"""Reports over evaluation results: a comparison table with intervals and tests, and plots.

The table answers "which model is best, and is the gap real?": for every model and metric the
mean over users, a percentile bootstrap interval
(:func:`~kgrec.evaluate.significance.bootstrap_ci`) and the p-value of a paired test against the
best model of that metric (:func:`~kgrec.evaluate.significance.paired_test`)::

    results = {name: Recommender(name).fit(split).evaluate(split.test) for name in names}
    table = compare(results, metrics=["recall@20", "ndcg@20"])
    print(format_table(table))      # | lightgcn | 0.3180 [0.30, 0.33] | ...

Every plot returns a :class:`matplotlib.figure.Figure` built without ``pyplot`` (no global
state, no window; safe on a server) and writes it to ``path`` when one is given. In a notebook,
run ``%matplotlib inline`` once (it registers IPython's figure formatter; the
examples/ notebooks do) and a returned figure displays itself as the cell's value.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from kgrec.data.dataset import RecDataset
from kgrec.evaluate.evaluator import EvalResult
from kgrec.evaluate.significance import bootstrap_ci, paired_test

if TYPE_CHECKING:  # matplotlib is imported where a plot is drawn
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "compare",
    "format_table",
    "plot_metric_at_k",
    "plot_popularity_bias",
    "plot_training",
    "plot_warm_cold",
]

logger = logging.getLogger(__name__)

#: suffixes of the per-metric columns of :func:`compare`'s frame
LOW, HIGH, PVALUE, SIGNIFICANT = "_low", "_high", "_p", "_sig"
_TESTS = {"t": "t_pvalue", "wilcoxon": "wilcoxon_pvalue"}
_TEST_NAMES = {"t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test"}
#: the order warm / cold views are drawn in (others follow in their given order)
_VIEW_ORDER = ("test", "test_warm", "test_cold", "test_cold_only")


# ---------------------------------------------------------------------- comparison table
def _check_results(results: Mapping[str, EvalResult]) -> list[str]:
    if not isinstance(results, Mapping) or not results:
        raise ValueError(
            "expected a non-empty mapping {model name: EvalResult} "
            f"(got {type(results).__name__} of length {len(results) if hasattr(results, '__len__') else '?'})"
        )
    for name, result in results.items():
        if not isinstance(result, EvalResult):
            raise TypeError(
                f"expected an EvalResult for model {name!r} (got {type(result).__name__})"
            )
    return [str(n) for n in results]


def _examples(index: pd.Index) -> str:
    return f" (e.g. {index[:3].tolist()})" if len(index) else ""


def _check_same_users(results: Mapping[str, EvalResult]) -> int:
    """The paired tests need one value per user for every model: the same evaluated users."""
    names = list(results)
    ref_name = names[0]
    ref = pd.Index(results[ref_name].per_user.index)
    problems = []
    for name in names[1:]:
        other = pd.Index(results[name].per_user.index)
        if other.equals(ref) or (
            len(other) == len(ref) and other.sort_values().equals(ref.sort_values())
        ):
            continue
        missing = ref.difference(other)
        extra = other.difference(ref)
        problems.append(
            f"{name!r} ({len(other)} users) lacks {len(missing)} users of {ref_name!r}"
            f"{_examples(missing)} and has {len(extra)} users {ref_name!r} lacks{_examples(extra)}"
        )
    if problems:
        raise ValueError(
            f"results were computed on different users, so they cannot be paired: compared with "
            f"{ref_name!r} ({len(ref)} users), " + "; ".join(problems) + ". Evaluate every model "
            "on the same split part (and the same candidates) before comparing them"
        )
    return len(ref)


def _metric_names(
    results: Mapping[str, EvalResult], metrics: Sequence[str] | str | None
) -> list[str]:
    columns = [list(r.per_user.columns) for r in results.values()]
    if metrics is None:
        common = [c for c in columns[0] if all(c in cols for cols in columns[1:])]
        if not common:
            raise ValueError("the results share no per-user metric column; pass metrics=[...]")
        return common
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    for name, result in results.items():
        missing = [m for m in metrics if m not in result.per_user.columns]
        if missing:
            raise KeyError(
                f"model {name!r} has no per-user metric {missing}; expected names among "
                f"{list(result.per_user.columns)}"
            )
    return metrics


def compare(
    results: Mapping[str, EvalResult],
    *,
    metrics: Sequence[str] | str | None = None,
    ci: float | None = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    test: Literal["t", "wilcoxon"] = "t",
) -> pd.DataFrame:
    """One row per model: mean metrics, bootstrap intervals, and tests against the best model.

    For each metric ``m`` (a per-user column such as ``"ndcg@20"``; higher is better) the frame
    holds the columns ``m`` (mean over users), ``m_low`` / ``m_high`` (percentile bootstrap
    interval of the mean at level ``ci``, ``n_boot`` resamples, seeded), ``m_p`` (two-sided
    p-value of the paired ``test`` of the model against the best model of ``m``: ``"t"`` for
    the paired t-test, the usual choice for IR metrics, or ``"wilcoxon"``) and ``m_sig``
    (``m_p < alpha``). The best model (highest mean; the first listed on a tie) has ``m_p``
    NaN and ``m_sig`` False. Compare results of one split and target part only: the tests pair
    the users up.

    Args:
        results: ``{model name: EvalResult}``, in the row order wanted.
        metrics: per-user columns to report; default every column all results share.
        ci: interval mass in (0, 1), default 0.95; ``None`` skips the bootstrap (no
            ``_low`` / ``_high`` columns).
        n_boot, seed: bootstrap resamples and seed (the same seed for every model).
        alpha: significance level of the ``_sig`` columns, default 0.05. No correction for
            multiple comparisons is applied.
        test: ``"t"`` (default) or ``"wilcoxon"``.

    Returns:
        A frame indexed by model name (index name ``model``); ``frame.attrs`` holds
        ``metrics``, ``best`` (``{metric: model}``), ``n_users``, ``ci``, ``n_boot``,
        ``alpha`` and ``test``, which :func:`format_table` uses.

    Raises:
        ValueError: the results were computed on different users (the message names the
            models that differ), or a setting is out of range.
        KeyError: a requested metric is missing from a result.
    """
    names = _check_results(results)
    if test not in _TESTS:
        raise ValueError(f"test must be one of {sorted(_TESTS)} (got {test!r})")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1) (got {alpha})")
    if ci is not None and not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1) or None (got {ci})")
    n_users = _check_same_users(results)
    metric_names = _metric_names(results, metrics)
    items = list(results.values())

    table: dict[str, list[Any]] = {}
    best: dict[str, str] = {}
    for m in metric_names:
        means = [float(r.per_user[m].to_numpy(dtype=np.float64).mean()) for r in items]
        b = int(np.argmax(means))  # the first maximum: ties go to the model listed first
        best[m] = names[b]
        table[m] = means
        if ci is not None:
            bounds = [
                bootstrap_ci(r, m, n_resamples=n_boot, confidence=ci, seed=seed) for r in items
            ]
            table[m + LOW] = [lo for lo, _ in bounds]
            table[m + HIGH] = [hi for _, hi in bounds]
        pvalues = [
            float("nan") if j == b else float(paired_test(r, items[b], m)[_TESTS[test]])
            for j, r in enumerate(items)
        ]
        table[m + PVALUE] = pvalues
        # NaN (too few users) compares False: never marked
        table[m + SIGNIFICANT] = [bool(p < alpha) for p in pvalues]
    frame = pd.DataFrame(table, index=pd.Index(names, name="model"))
    frame.attrs.update(
        metrics=metric_names, best=best, n_users=n_users, ci=ci, n_boot=int(n_boot),
        alpha=float(alpha), test=test,
    )  # fmt: skip
    return frame


def _table_metrics(df: pd.DataFrame) -> list[str]:
    listed = df.attrs.get("metrics")
    if listed:
        return [m for m in listed if m in df.columns]
    suffixes = (LOW, HIGH, PVALUE, SIGNIFICANT)
    return [c for c in df.columns if not str(c).endswith(suffixes)]


def format_table(
    df: pd.DataFrame,
    *,
    digits: int = 4,
    ci_digits: int = 2,
    markdown: bool = True,
    legend: bool = True,
) -> str:
    """Render a :func:`compare` frame as a Markdown (or plain aligned) text table.

    Each cell reads ``0.3180 [0.30, 0.33]*``: the mean with ``digits`` decimals, the bootstrap
    interval with ``ci_digits`` decimals (when the frame has one) and ``*`` when the model is
    significantly different from the best model of that column (``_sig``). In Markdown the best
    model's cell is bold. With ``legend`` a line under the table says what ``*`` and the
    brackets mean. Needs no ``tabulate``.

    Args:
        df: the frame :func:`compare` returns (other frames with one column per metric, and
            optional ``_low`` / ``_high`` / ``_sig`` columns, work too).
        digits, ci_digits: decimals of the mean and of the interval bounds.
        markdown: a pipe table (default) or plain space-aligned columns.
        legend: append the explanation line.
    """
    metrics = _table_metrics(df)
    if not metrics:
        raise ValueError(f"expected a frame with metric columns (got columns {list(df.columns)})")
    best = df.attrs.get("best", {})
    header = [str(df.index.name or "model"), *metrics]
    rows = []
    for name, row in df.iterrows():
        cells = [str(name)]
        for m in metrics:
            value = row[m]
            cell = "nan" if pd.isna(value) else f"{float(value):.{digits}f}"
            lo, hi = row.get(m + LOW), row.get(m + HIGH)
            if lo is not None and hi is not None and not (pd.isna(lo) or pd.isna(hi)):
                cell += f" [{float(lo):.{ci_digits}f}, {float(hi):.{ci_digits}f}]"
            if bool(row.get(m + SIGNIFICANT, False)):
                cell += "*"
            if markdown and best.get(m) == name:
                cell = f"**{cell}**"
            cells.append(cell)
        rows.append(cells)
    widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]
    if markdown:

        def line(cells: list[str]) -> str:
            padded = [
                c.ljust(widths[0]) if j == 0 else c.rjust(widths[j]) for j, c in enumerate(cells)
            ]
            return "| " + " | ".join(padded) + " |"

        rule = (
            "| "
            + " | ".join(
                ("-" * widths[0]) if j == 0 else ("-" * (widths[j] - 1) + ":")
                for j in range(len(widths))
            )
            + " |"
        )
        lines = [line(header), rule, *(line(r) for r in rows)]
    else:
        lines = [
            "  ".join(c.ljust(widths[0]) if j == 0 else c.rjust(widths[j]) for j, c in enumerate(r))
            for r in [header, *rows]
        ]
    if legend:
        notes = []
        if any(m + SIGNIFICANT in df.columns for m in metrics):
            alpha = df.attrs.get("alpha", 0.05)
            test = _TEST_NAMES.get(df.attrs.get("test", "t"), "paired test")
            n = df.attrs.get("n_users")
            over = f" over {n} users" if n is not None else ""
            notes.append(f"* p < {alpha:g} against the best model of the column ({test}{over})")
        if any(m + LOW in df.columns for m in metrics):
            ci = df.attrs.get("ci")
            level = f"{100 * ci:g}% " if ci else ""
            n_boot = df.attrs.get("n_boot")
            notes.append(
                f"[low, high]: {level}bootstrap interval of the mean"
                + (f" ({n_boot} resamples)" if n_boot else "")
            )
        if markdown and best:
            notes.append("bold: best model")
        if notes:
            lines += ["", "; ".join(notes) + "."]
    return "\n".join(lines)


# ---------------------------------------------------------------------- plotting helpers
def _figure(
    ncols: int = 1, *, width: float = 5.0, height: float = 3.6
) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _finish(fig: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150)
        logger.info("wrote %s", path)
    return fig


def _value(result: Any, metric: str) -> float:
    """A metric's mean from an :class:`EvalResult` or a ``{metric: value}`` mapping."""
    if isinstance(result, EvalResult):
        return float(result[metric])
    if isinstance(result, Mapping):
        if metric not in result:
            raise KeyError(f"no metric {metric!r}; expected one of {list(result)}")
        return float(result[metric])
    raise TypeError(
        f"expected an EvalResult or a mapping of metric means (got {type(result).__name__})"
    )


# ---------------------------------------------------------------------- metric vs K
def plot_metric_at_k(
    results: Mapping[str, EvalResult],
    metric: str = "recall",
    *,
    path: str | Path | None = None,
) -> Figure:
    """``metric@K`` against K, one line per model (one axes).

    Args:
        results: ``{model name: EvalResult}`` evaluated at several cut-offs (``ks=(5, 10, 20,
            50)``); any ``metric@K`` among a result's means is used, so ``coverage`` and
            ``avg_pop`` work too.
        metric: a metric name without ``@K`` (``"recall"``, ``"ndcg"``, ...); ``"recall@20"``
            is read as ``"recall"``.
        path: where to save the figure (format from the suffix).
    """
    names = _check_results(results)
    base = metric.split("@", 1)[0]
    fig, (ax,) = _figure()
    all_ks: set[int] = set()
    for name, result in zip(names, results.values(), strict=True):
        points = sorted(
            (int(k), float(v))
            for key, v in result.mean.items()
            for b, _, k in [key.partition("@")]
            if b == base and k.isdigit()
        )
        if not points:
            raise KeyError(f"model {name!r} has no {base}@K; its metrics are {sorted(result.mean)}")
        if len(points) == 1:
            logger.warning("model %r was evaluated at one cut-off only (K=%d)", name, points[0][0])
        ks, values = zip(*points, strict=True)
        all_ks.update(ks)
        ax.plot(ks, values, marker="o", label=name)
    ax.set_xticks(sorted(all_ks))
    ax.set_xlabel("K (list length)")
    ax.set_ylabel(f"{base}@K")
    ax.set_title(f"{base}@K by model")
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path)


# ---------------------------------------------------------------------- training curves
def _history_frame(history: Any) -> pd.DataFrame:
    if isinstance(history, pd.DataFrame):
        return history
    if hasattr(history, "history_"):  # a fitted Recommender
        frame = history.history_
        if frame is None:
            raise ValueError(
                f"{type(history).__name__} has no training history (not fitted, or a baseline "
                "fitted in closed form)"
            )
        return frame
    if callable(getattr(history, "history_frame", None)):  # a TrainState
        return history.history_frame()
    raise TypeError(
        "expected a history DataFrame, a fitted Recommender or a TrainState "
        f"(got {type(history).__name__})"
    )


def _valid_columns(frame: pd.DataFrame, metrics: Sequence[str] | str | None) -> list[str]:
    if metrics is not None:
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        cols = [m if m.startswith("valid_") else f"valid_{m}" for m in metrics]
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            have = [c for c in frame.columns if str(c).startswith("valid_")]
            raise KeyError(f"the history has no column {missing}; validation columns: {have}")
        return cols
    valid = [c for c in frame.columns if str(c).startswith("valid_")]
    stopped_on = str(frame.attrs.get("metric") or "")  # "valid_ndcg@20" (or "ndcg@20")
    if stopped_on:
        col = stopped_on if stopped_on.startswith("valid_") else f"valid_{stopped_on}"
        if col in valid:
            return [col]
    main = [c for c in valid if str(c).split("_", 1)[1].startswith(("recall@", "ndcg@"))]
    return main or valid


def plot_training(
    history: Any,
    *,
    metrics: Sequence[str] | str | None = None,
    losses: Sequence[str] = ("loss",),
    path: str | Path | None = None,
) -> Figure:
    """Training loss and validation metrics per epoch.

    Args:
        history: the fit loop's history frame (``kgrec.train.fit``'s return value,
            ``TrainState.history_frame()``, ``history.csv`` read back), a fitted
            :class:`~kgrec.recommender.Recommender` (its ``history_``) or a ``TrainState``.
        metrics: validation metrics to draw (``"ndcg@20"`` or ``"valid_ndcg@20"``); default
            the early-stopping metric when the frame records it (``attrs["metric"]``), else
            every ``valid_recall@K`` / ``valid_ndcg@K`` column.
        losses: loss columns for the left axes, default ``("loss",)`` (the total; ``bpr``,
            ``reg``, ``aux`` are its parts).
        path: where to save the figure.

    Returns:
        A figure with two axes (loss; validation metrics, with the best epoch marked when the
        frame records it), or one when the history has no validation column.
    """
    from matplotlib.ticker import MaxNLocator

    frame = _history_frame(history)
    if len(frame) == 0:
        raise ValueError("the history is empty (no epoch was trained)")
    missing = [c for c in losses if c not in frame.columns]
    if missing:
        raise KeyError(f"the history has no column {missing}; its columns: {list(frame.columns)}")
    valid = _valid_columns(frame, metrics)
    epochs = frame["epoch"].to_numpy() if "epoch" in frame else np.arange(len(frame))
    fig, axes = _figure(2 if valid else 1)
    ax = axes[0]
    for col in losses:
        ax.plot(epochs, frame[col].to_numpy(dtype=np.float64), label=col)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title("loss")
    ax.grid(alpha=0.3)
    if len(losses) > 1:
        ax.legend()
    if valid:
        ax = axes[1]
        for col in valid:
            ax.plot(
                epochs,
                frame[col].to_numpy(dtype=np.float64),
                marker=".",
                label=col[len("valid_") :],
            )
        best_epoch = frame.attrs.get("best_epoch")
        if best_epoch is not None:
            ax.axvline(
                best_epoch,
                color="grey",
                linestyle="--",
                linewidth=1,
                label=f"best epoch {best_epoch}",
            )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation metric")
        ax.set_title("validation")
        ax.grid(alpha=0.3)
        ax.legend()
    return _finish(fig, path)


# ---------------------------------------------------------------------- popularity bias
def _recommended_items(
    recs: Any, train: RecDataset, k: int, users: Sequence[Any] | None
) -> np.ndarray:
    """Item indices of every top-k slot, flattened (padding ``-1`` dropped)."""
    if isinstance(recs, pd.DataFrame):
        if "item" not in recs.columns:
            raise KeyError(
                f"expected a recommendation frame with an 'item' column (got {list(recs.columns)})"
            )
        frame = recs[recs["rank"] <= k] if "rank" in recs.columns else recs
        return np.asarray(train.items.to_index(frame["item"].tolist()), dtype=np.int64)
    if hasattr(recs, "recommend"):  # a fitted Recommender (or FusedRecommender)
        if users is None:
            active = np.unique(train.interactions["user"].to_numpy())
            users = train.users.to_raw(active).tolist()
        users = list(users)
        parts = []
        for start in range(0, len(users), 1024):  # bounds the [users, items] score matrix
            frame = recs.recommend(users[start : start + 1024], k=k)
            parts.append(np.asarray(train.items.to_index(frame["item"].tolist()), dtype=np.int64))
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
    top = np.asarray(recs)
    if top.ndim != 2 or not np.issubdtype(top.dtype, np.integer):
        raise TypeError(
            "expected a fitted Recommender, a recommend() frame or an integer [users, k] array of "
            f"item indices (got {type(recs).__name__}"
            + (f" of dtype {top.dtype}, shape {top.shape})" if hasattr(top, "shape") else ")")
        )
    top = top[:, :k].reshape(-1)
    if top.size and top.max() >= train.num_items:
        raise ValueError(f"item indices must be < {train.num_items} (got {top.max()})")
    return top[top >= 0]


def plot_popularity_bias(
    recs: Any,
    train: RecDataset,
    *,
    k: int = 20,
    users: Sequence[Any] | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Does the model recommend the popular items more than their popularity warrants?

    Left: one point per item, its training interactions (x) against the number of top-``k``
    lists it appears in (y), both on symmetric-log axes so cold (0) items show; the dashed line
    is exposure proportional to popularity (``times recommended = pop · slots / interactions``):
    points above it are over-recommended. Right: the mean training popularity of the catalogue
    (all items), of the training interactions (the items users consumed) and of the
    recommended items (every top-``k`` slot).

    Args:
        recs: a fitted :class:`~kgrec.recommender.Recommender` (top-``k`` lists are computed for
            ``users``, seen items excluded), a :meth:`~kgrec.recommender.Recommender.recommend`
            frame (raw ``item`` ids; ``rank <= k`` kept when it has ``rank``), or an int array
            ``[n_users, >= k]`` of item indices (``-1`` pads).
        train: the training part popularity is counted on (its id maps translate raw ids).
        k: list length, default 20.
        users: raw user ids to recommend to (a Recommender only); default every user with a
            training interaction.
        path: where to save the figure.

    Returns:
        A figure with two axes: the scatter (one collection, one line) and three bars.
    """
    if int(k) < 1:
        raise ValueError(f"k must be >= 1 (got {k})")
    rec_items = _recommended_items(recs, train, int(k), users)
    if rec_items.size == 0:
        raise ValueError("no recommended item to count (empty lists)")
    pop = np.bincount(train.interactions["item"].to_numpy(), minlength=train.num_items).astype(
        np.float64
    )
    times = np.bincount(rec_items, minlength=train.num_items).astype(np.float64)
    fig, (ax, bars) = _figure(2)

    ax.scatter(pop, times, s=8, alpha=0.5, linewidths=0)
    total = pop.sum()
    xs = np.array([0.0, max(pop.max(), 1.0)])
    ax.plot(xs, xs * (rec_items.size / total if total else 0.0), "--", color="grey", linewidth=1,
            label="exposure ∝ popularity")  # fmt: skip
    ax.set_xscale("symlog", linthresh=1)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xlabel("training interactions of the item")
    ax.set_ylabel(f"top-{k} lists containing the item")
    ax.set_title("item popularity vs. exposure")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")

    means = {
        "catalogue": float(pop.mean()),
        "interactions": float((pop**2).sum() / total) if total else 0.0,
        f"recommended\n(top-{k})": float(pop[rec_items].mean()),
    }
    heights = list(means.values())
    drawn = bars.bar(range(len(means)), heights, color=["#999999", "#6a8caf", "#d1495b"])
    bars.bar_label(drawn, labels=[f"{h:.1f}" for h in heights])
    bars.set_ylim(0, 1.2 * max(max(heights), 1e-9))  # room for the labels and the note
    bars.set_xticks(range(len(means)), list(means))
    bars.set_ylabel("mean training interactions per item")
    bars.set_title("popularity of recommended items")
    coverage = np.count_nonzero(times) / max(train.num_items, 1)
    bars.text(0.02, 0.97, f"coverage@{k}: {coverage:.1%}", transform=bars.transAxes, va="top")
    return _finish(fig, path)


# ---------------------------------------------------------------------- warm / cold views
def _view_frame(results_by_view: Any, metric: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rows models, columns views, values the metric; plus each view's user count if known."""
    if isinstance(results_by_view, pd.DataFrame):
        return results_by_view.astype(np.float64), {}
    if not isinstance(results_by_view, Mapping) or not results_by_view:
        raise TypeError(
            "expected {model: {view: EvalResult}} (or {view: EvalResult} for one model) or a "
            f"DataFrame (got {type(results_by_view).__name__})"
        )
    if all(isinstance(v, EvalResult) for v in results_by_view.values()):
        results_by_view = {"": results_by_view}  # one model's evaluate_views(...)
    values: dict[str, dict[str, float]] = {}
    users: dict[str, int] = {}
    for model, views in results_by_view.items():
        if not isinstance(views, Mapping):
            raise TypeError(
                f"expected a mapping {{view: EvalResult}} for model {model!r} (got {type(views).__name__})"
            )
        values[str(model)] = {str(view): _value(r, metric) for view, r in views.items()}
        for view, r in views.items():
            if isinstance(r, EvalResult):
                users.setdefault(str(view), r.num_users)
    frame = pd.DataFrame.from_dict(values, orient="index")
    return frame, users


def plot_warm_cold(
    results_by_view: Mapping[str, Mapping[str, Any]] | pd.DataFrame,
    metric: str = "recall@20",
    *,
    path: str | Path | None = None,
) -> Figure:
    """Grouped bars of a metric on the warm / cold views of a split: one group per view, one
    bar per model.

    The views are those of :func:`kgrec.evaluate.protocol.evaluation_views` (``test``,
    ``test_warm``, ``test_cold`` ranked among all items, ``test_cold_only`` ranked among the
    cold items), drawn in that order; a model without a view gets no bar there.

    Args:
        results_by_view: ``{model: {view: EvalResult}}``, e.g.
            ``{name: evaluate_views(rec, split) for name, rec in recs.items()}``; a single
            model's ``{view: EvalResult}``; inner values may also be ``{metric: mean}`` dicts
            (a ``kgrec train`` run's ``metrics.json``); or a DataFrame with models as rows and
            views as columns holding the metric.
        metric: the metric drawn, e.g. ``"recall@20"``.
        path: where to save the figure.
    """
    frame, users = _view_frame(results_by_view, metric)
    if frame.empty:
        raise ValueError("no model or view to draw")
    order = [v for v in _VIEW_ORDER if v in frame.columns]
    order += [v for v in frame.columns if v not in order]
    frame = frame[order]
    n_models, n_views = frame.shape
    fig, (ax,) = _figure(width=max(5.0, 1.2 + 0.5 * n_models * n_views))
    width = 0.8 / n_models
    x = np.arange(n_views, dtype=np.float64)
    for j, (model, row) in enumerate(frame.iterrows()):
        heights = row.to_numpy(dtype=np.float64)
        keep = ~np.isnan(heights)
        offset = (j - (n_models - 1) / 2) * width
        ax.bar(x[keep] + offset, heights[keep], width=width, label=str(model) or None)
    labels = [f"{v}\n({users[v]} users)" if v in users else str(v) for v in order]
    ax.set_xticks(x, labels)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} on warm and cold items")
    ax.grid(axis="y", alpha=0.3)
    if n_models > 1 or str(frame.index[0]):
        ax.legend()
    return _finish(fig, path)
