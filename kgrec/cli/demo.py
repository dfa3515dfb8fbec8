"""``kgrec demo``: the README's main job on the embedded synthetic dataset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kgrec.data.split import split_dataset
from kgrec.data.synthetic import make_synthetic
from kgrec.graph import build_graph


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="generate the synthetic KG dataset, split it, build the graph, train and compare")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--out", type=Path, default=None, help="folder for the split and results (optional)")
    p.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    dataset = make_synthetic(seed=args.seed)
    print(f"dataset: {dataset!r}")
    print(json.dumps(dataset.stats(), indent=2))
    split = split_dataset(dataset, strategy="random", seed=args.seed)
    print(f"split: {split.sizes()}")
    graph = build_graph(split.train)
    print("graph (built from the training part only):")
    for edge_type in graph.edge_types:
        print(f"  {'-'.join(edge_type):<28} {graph[edge_type].num_edges:>8} edges")
    print(f"  normalised user-item adjacency: {tuple(graph.norm_adj.shape)}, {graph.norm_adj._nnz()} non-zeros")
    if args.out is not None:
        from kgrec.data.io import save_split

        save_split(split, args.out / "split")
        print(f"wrote the split to {args.out / 'split'}")
    return 0
