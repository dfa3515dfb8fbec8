"""kgrec.report: the comparison table against hand-computed values, and every plot's shape."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from kgrec.data.split import split_dataset
from kgrec.data.synthetic import make_synthetic
from kgrec.evaluate import EvalResult, bootstrap_ci, paired_test
from kgrec.evaluate.protocol import evaluate_views
from kgrec.recommender import Recommender
from kgrec.report import (
    compare,
    format_table,
    plot_metric_at_k,
    plot_popularity_bias,
    plot_training,
    plot_warm_cold,
)

matplotlib.use("Agg")


def result(columns: dict[str, list[float]], users: list[int] | None = None) -> EvalResult:
    """An EvalResult built directly from per-user values (index: local user ids)."""
    n = len(next(iter(columns.values())))
    per_user = pd.DataFrame(columns, index=pd.Index(users or list(range(n)), name="user"))
    mean = {c: float(per_user[c].mean()) for c in per_user.columns}
    ks = tuple(sorted({int(c.split("@")[1]) for c in columns}))
    return EvalResult(mean=mean, per_user=per_user, num_users=n, ks=ks)


# 8 users; "strong" beats "weak" on every user (a clear difference), "close" differs from
# "strong" on two users only, in both directions (no significant difference)
STRONG = [0.9, 0.8, 1.0, 0.7, 0.9, 0.6, 0.8, 1.0]
WEAK = [0.1, 0.2, 0.0, 0.3, 0.1, 0.2, 0.0, 0.1]
CLOSE = [1.0, 0.8, 1.0, 0.7, 0.9, 0.6, 0.6, 1.0]


@pytest.fixture()
def results() -> dict[str, EvalResult]:
    return {
        "weak": result({"recall@20": WEAK, "ndcg@20": [v / 2 for v in WEAK]}),
        "strong": result({"recall@20": STRONG, "ndcg@20": [v / 2 for v in STRONG]}),
        "close": result({"recall@20": CLOSE, "ndcg@20": [v / 2 for v in CLOSE]}),
    }


def test_compare_means_intervals_and_best(results) -> None:
    table = compare(results, n_boot=200, seed=1)
    assert list(table.index) == ["weak", "strong", "close"]
    assert table.loc["weak", "recall@20"] == pytest.approx(sum(WEAK) / 8)
    assert table.loc["strong", "recall@20"] == pytest.approx(sum(STRONG) / 8)
    assert table.loc["close", "ndcg@20"] == pytest.approx(sum(CLOSE) / 16)
    assert table.attrs["best"] == {"recall@20": "strong", "ndcg@20": "strong"}
    assert table.attrs["metrics"] == ["recall@20", "ndcg@20"] and table.attrs["n_users"] == 8
    lo, hi = bootstrap_ci(results["weak"], "recall@20", n_resamples=200, seed=1)
    assert (table.loc["weak", "recall@20_low"], table.loc["weak", "recall@20_high"]) == (lo, hi)
    assert lo <= table.loc["weak", "recall@20"] <= hi


@pytest.mark.parametrize("test", ["t", "wilcoxon"])
def test_marker_appears_exactly_when_p_below_alpha(results, test: str) -> None:
    table = compare(results, metrics=["recall@20"], n_boot=50, test=test)
    key = "t_pvalue" if test == "t" else "wilcoxon_pvalue"
    assert np.isnan(table.loc["strong", "recall@20_p"]) and not table.loc["strong", "recall@20_sig"]
    marks = {}
    for name in ("weak", "close"):
        p = paired_test(results[name], results["strong"], "recall@20")[key]
        assert table.loc[name, "recall@20_p"] == pytest.approx(p)
        assert bool(table.loc[name, "recall@20_sig"]) == (p < 0.05)
        marks[name] = bool(table.loc[name, "recall@20_sig"])
    assert marks == {"weak": True, "close": False}
    # the same p-values with a looser / stricter alpha
    p_weak = table.loc["weak", "recall@20_p"]
    strict = compare(results, metrics=["recall@20"], ci=None, test=test, alpha=p_weak / 2)
    assert not strict.loc["weak", "recall@20_sig"]
    assert "recall@20_low" not in strict.columns


def test_format_table_cells(results) -> None:
    table = compare(results, metrics=["recall@20"], n_boot=100)
    text = format_table(table)
    lines = text.splitlines()
    assert lines[0].startswith("| model") and "recall@20" in lines[0]
    assert set(lines[1]) <= {"|", "-", ":", " "}
    weak = next(line for line in lines if line.startswith("| weak"))
    lo, hi = table.loc["weak", ["recall@20_low", "recall@20_high"]]
    assert f"{sum(WEAK) / 8:.4f} [{lo:.2f}, {hi:.2f}]*" in weak
    close = next(line for line in lines if line.startswith("| close"))
    assert re.search(r"\d\.\d{4} \[\d\.\d\d, \d\.\d\d\] \|", close)  # no marker
    assert "**0.8375" in next(line for line in lines if line.startswith("| strong"))
    assert "p < 0.05" in text and "95% bootstrap" in text
    plain = format_table(table, markdown=False, legend=False, digits=3)
    assert "|" not in plain and "*" in plain and len(plain.splitlines()) == 4
    assert f"{sum(WEAK) / 8:.3f} [" in plain


def test_mismatched_users_raise_naming_the_models(results) -> None:
    results["other"] = result({"recall@20": STRONG[:6], "ndcg@20": STRONG[:6]})
    with pytest.raises(
        ValueError, match=r"different users.*'other' \(6 users\) lacks 2 users of 'weak'"
    ):
        compare(results)
    shifted = result({"recall@20": WEAK, "ndcg@20": WEAK}, users=list(range(2, 10)))
    with pytest.raises(ValueError, match="'shifted'"):
        compare({"weak": results["weak"], "shifted": shifted})
    # the same users in another order pair up fine
    order = list(reversed(range(8)))
    reordered = result({"recall@20": [WEAK[u] for u in order], "ndcg@20": WEAK}, users=order)
    compare({"weak": results["weak"], "reordered": reordered}, metrics=["recall@20"], ci=None)
    del results["other"]
    with pytest.raises(KeyError, match="mrr@20"):
        compare(results, metrics=["mrr@20"])


# ---------------------------------------------------------------------- plots
def at_ks(scale: float) -> EvalResult:
    cols = {f"recall@{k}": [scale * k / 50, scale * k / 100] for k in (5, 10, 20, 50)}
    cols.update({f"ndcg@{k}": [scale * 0.1, scale * 0.2] for k in (5, 10, 20, 50)})
    return result(cols)


def test_plot_metric_at_k(tmp_path) -> None:
    res = {"a": at_ks(1.0), "b": at_ks(0.5), "c": at_ks(0.25)}
    fig = plot_metric_at_k(res, "recall", path=tmp_path / "k.png")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert len(ax.lines) == 3
    xs, ys = ax.lines[0].get_data()
    assert list(xs) == [5, 10, 20, 50]
    assert list(ys) == pytest.approx([res["a"][f"recall@{k}"] for k in (5, 10, 20, 50)])
    assert (tmp_path / "k.png").stat().st_size > 0
    with pytest.raises(KeyError, match="mrr"):
        plot_metric_at_k(res, "mrr")


def test_plot_training_from_a_frame_and_a_recommender(tmp_path) -> None:
    history = pd.DataFrame(
        {
            "epoch": [0, 1, 2],
            "loss": [0.7, 0.5, 0.4],
            "valid_ndcg@20": [0.1, 0.2, 0.15],
            "valid_recall@20": [0.2, 0.3, 0.3],
        }
    )
    history.attrs.update(best_epoch=1, metric="valid_ndcg@20")  # as kgrec.train.fit records it
    fig = plot_training(history, path=tmp_path / "t.svg")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 1
    assert len(fig.axes[1].lines) == 2  # the stopping metric and the best-epoch marker
    assert (tmp_path / "t.svg").read_text().startswith("<?xml")
    fig = plot_training(history, metrics=["recall@20", "valid_ndcg@20"], losses=["loss"])
    assert len(fig.axes[1].lines) == 3
    only_loss = plot_training(history[["epoch", "loss"]])
    assert len(only_loss.axes) == 1
    with pytest.raises(KeyError, match="valid_mrr@20"):
        plot_training(history, metrics="mrr@20")

    ds = make_synthetic(num_users=40, num_items=50, seed=1)
    split = split_dataset(ds, seed=1)
    rec = Recommender("mf", epochs=2, ks=(20,), progress=False).fit(split)
    fig = plot_training(rec)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines[0].get_xdata()) == 2
    assert fig.axes[1].lines[0].get_label() == "ndcg@20"  # the early-stopping metric only
    with pytest.raises(ValueError, match="no training history"):
        plot_training(Recommender("pop").fit(split))


def test_plot_popularity_bias(tmp_path) -> None:
    ds = make_synthetic(num_users=40, num_items=50, seed=1)
    rec = Recommender("pop").fit(ds)
    fig = plot_popularity_bias(rec, ds, k=5, path=tmp_path / "pop.pdf")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    scatter, bars = fig.axes
    assert len(scatter.collections) == 1 and len(scatter.lines) == 1
    assert len(bars.patches) == 3
    pop = np.bincount(ds.interactions["item"].to_numpy(), minlength=ds.num_items)
    heights = [p.get_height() for p in bars.patches]
    assert heights[0] == pytest.approx(pop.mean())
    # MostPopular recommends the most popular unseen items: far above the catalogue mean
    assert heights[2] > heights[0]
    assert (tmp_path / "pop.pdf").stat().st_size > 0
    # the same counts from a recommend() frame and from an index array
    frame = rec.recommend(ds.users.raw_ids.tolist(), k=5)
    from_frame = plot_popularity_bias(frame, ds, k=5)
    assert from_frame.axes[1].patches[2].get_height() == pytest.approx(heights[2])
    top = np.array([[0, 1, -1], [1, 2, 3]])
    from_array = plot_popularity_bias(top, ds, k=3)
    assert from_array.axes[1].patches[2].get_height() == pytest.approx(pop[[0, 1, 1, 2, 3]].mean())


def test_plot_warm_cold(tmp_path) -> None:
    split = split_dataset(
        make_synthetic(num_users=60, num_items=80, seed=2), strategy="cold-item", seed=2
    )
    views = {
        name: evaluate_views(Recommender(name).fit(split), split, ks=(20,))
        for name in ("pop", "attrknn")
    }
    # a cold-item split holds out whole items: its test part is all cold (no warm view)
    assert set(views["pop"]) == {"test", "test_cold", "test_cold_only"}
    fig = plot_warm_cold(views, metric="recall@20", path=tmp_path / "wc.png")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert len(ax.containers) == 2 and len(ax.patches) == 2 * 3
    labels = [t.get_text().split("\n")[0] for t in ax.get_xticklabels()]
    assert labels == ["test", "test_cold", "test_cold_only"]
    assert ax.containers[0].patches[0].get_height() == pytest.approx(
        views["pop"]["test"]["recall@20"]
    )
    assert (tmp_path / "wc.png").stat().st_size > 0
    # a frame (models x views), mean dicts with a missing view, one model's views
    frame = pd.DataFrame(
        {"test_cold": [0.1, np.nan], "test": [0.2, 0.3], "test_warm": [0.25, 0.35]},
        index=["a", "b"],
    )
    ax = plot_warm_cold(frame).axes[0]
    assert len(ax.patches) == 5
    assert [t.get_text() for t in ax.get_xticklabels()] == ["test", "test_warm", "test_cold"]
    means = {
        "a": {"test": {"recall@20": 0.2}},
        "b": {"test": {"recall@20": 0.3}, "test_cold": {"recall@20": 0.1}},
    }
    assert len(plot_warm_cold(means).axes[0].patches) == 3
    assert len(plot_warm_cold(views["pop"]).axes[0].patches) == 3
