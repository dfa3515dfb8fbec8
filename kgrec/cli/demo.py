"""``kgrec demo``: the README's main job on the embedded synthetic dataset.

Generates the synthetic KG dataset, splits it, builds the training graph, then trains and
evaluates every model of ``--models`` with the same split and prints one comparison table
(test metrics with bootstrap confidence intervals and a paired test against the best model).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from kgrec.data.split import split_dataset
from kgrec.data.synthetic import make_synthetic
from kgrec.graph import build_graph

DEFAULT_MODELS = ("random", "pop", "itemknn", "ease", "mf", "lightgcn")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="generate the synthetic KG dataset, split it, train and compare models")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    p.add_argument("--epochs", type=int, default=100, help="cap on training epochs of graph encoders (keeps the demo short)")
    p.add_argument("--out", type=Path, default=None, help="folder for the split and the comparison (optional)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_demo)


def compare(results: dict[str, object], *, metric: str = "ndcg@20") -> pd.DataFrame:
    """One row per model: mean metrics, a 95% bootstrap interval and a paired test vs the best."""
    from kgrec.evaluate import bootstrap_ci, paired_test

    best = max(results, key=lambda name: results[name].mean[metric])  # type: ignore[attr-defined]
    rows = []
    for name, result in results.items():
        low, high = bootstrap_ci(result, metric, seed=0)
        row = {
            "model": name,
            "recall@20": result.mean["recall@20"],  # type: ignore[attr-defined]
            metric: result.mean[metric],  # type: ignore[attr-defined]
            f"{metric} 95% CI": f"[{low:.4f}, {high:.4f}]",
        }
        if name == best:
            row["p vs best"] = float("nan")
        else:
            row["p vs best"] = paired_test(result, results[best], metric)["wilcoxon_p"]  # type: ignore[arg-type]
        rows.append(row)
    return pd.DataFrame(rows).sort_values(metric, ascending=False).reset_index(drop=True)


def run_demo(args: argparse.Namespace) -> int:
    from kgrec.recommender import Recommender

    dataset = make_synthetic(seed=args.seed)
    print(f"dataset: {dataset!r}")
    split = split_dataset(dataset, strategy="random", seed=args.seed)
    print(f"split (random, seed {args.seed}): {split.sizes()}")
    graph = build_graph(split.train)
    print("training graph:")
    for edge_type in graph.edge_types:
        print(f"  {'-'.join(edge_type):<28} {graph[edge_type].num_edges:>8} edges")
    print()
    results = {}
    timings = {}
    for name in args.models:
        start = time.perf_counter()
        options = {"epochs": args.epochs} if args.epochs else {}
        rec = Recommender(name, seed=args.seed, progress=False if args.no_progress else None, **options)
        rec.fit(split.train, valid=split.valid)
        results[name] = rec.evaluate(split.test)
        timings[name] = time.perf_counter() - start
        print(f"  {name:<10} fitted and evaluated in {timings[name]:6.1f} s: "
              f"test NDCG@20 {results[name].mean['ndcg@20']:.4f}")
    table = compare(results)
    table["seconds"] = table["model"].map(timings)
    print()
    print("test metrics (full ranking, train and valid items masked; p: Wilcoxon vs the best model)")
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
        print(table.to_string(index=False))
    if args.out is not None:
        from kgrec.data.io import save_split

        args.out.mkdir(parents=True, exist_ok=True)
        save_split(split, args.out / "split")
        table.to_csv(args.out / "comparison.csv", index=False)
        (args.out / "metrics.json").write_text(json.dumps({k: r.mean for k, r in results.items()}, indent=2))
        print(f"wrote {args.out / 'comparison.csv'}")
    return 0
