"""``kgrec demo``: the README's main job on the embedded synthetic dataset.

Generates the synthetic KG dataset, splits it, builds the training graph, then trains and
evaluates every model of ``--models`` with the same split and prints one comparison table
(:func:`kgrec.report.compare`: test metrics with bootstrap confidence intervals and a paired
test against the best model).
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
    from kgrec.report import compare, format_table

    table = compare(results, metrics=("recall@20", "ndcg@20"), test="wilcoxon")
    table = table.sort_values("ndcg@20", ascending=False)
    print()
    print("test metrics (full ranking, train and valid items masked; [95% bootstrap interval],")
    print("* = differs from the best model by the paired Wilcoxon test, p < 0.05)")
    print(format_table(table, markdown=False, legend=False))
    print("seconds to fit and evaluate: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    if args.out is not None:
        from kgrec.data.io import save_split

        args.out.mkdir(parents=True, exist_ok=True)
        save_split(split, args.out / "split")
        table.assign(seconds=pd.Series(timings)).to_csv(args.out / "comparison.csv")
        (args.out / "metrics.json").write_text(json.dumps({k: r.mean for k, r in results.items()}, indent=2))
        print(f"wrote {args.out / 'comparison.csv'}")
    return 0
