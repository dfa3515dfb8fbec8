"""Seconds per training epoch of MF and LightGCN on the shared ml-100k split (CPU, 2 threads).

Usage: python benchmarks/epoch_speed.py [--data /work/shared/benchmarks/ml-100k-kg] [--epochs 5]

Prints the one-layer propagation time, the 3-layer forward and forward+backward times, and
the median seconds per epoch (dim 64, batch 2048, Adam 1e-3, reg 1e-4, uniform negatives) of
each encoder through the one fit loop. Reference on the same kind of machine (BENCHMARKS.md):
RecBole BPR-MF 0.18 s / epoch, RecBole LightGCN 2.01 s / epoch, CSR propagation 0.47 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd
import torch

from kgrec.data.dataset import RecDataset
from kgrec.graph import build_graph
from kgrec.models import MF, LightGCN
from kgrec.nn import propagate
from kgrec.train import fit


def _time(fn, repeat: int) -> float:
    for _ in range(5):
        fn()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/work/shared/benchmarks/ml-100k-kg")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    frame = pd.read_csv(
        Path(args.data) / "train.tsv", sep="\t", header=None, names=["user", "item"]
    )
    t0 = time.perf_counter()
    train = RecDataset.from_frames(frame, name="ml-100k-train")
    graph = build_graph(train)
    build_s = time.perf_counter() - t0
    adj = graph.norm_adj
    print(
        f"train: {train.num_users} users, {train.num_items} items, {train.num_interactions} pairs; "
        f"graph {adj.shape[0]} nodes, {adj._nnz()} nnz, built in {build_s:.3f} s"
    )

    x = torch.randn(adj.shape[0], 64)
    print(
        f"propagation (one CSR product, d=64): {_time(lambda: propagate(adj, x), 200) * 1e3:.3f} ms"
    )
    model = LightGCN.from_data(graph, embedding_dim=64, num_layers=3)
    print(f"LightGCN forward (3 layers): {_time(lambda: model(graph), 100) * 1e3:.3f} ms")

    def fwd_bwd() -> None:
        u, i = model(graph)
        (u.sum() + i.sum()).backward()

    print(f"LightGCN forward + backward: {_time(fwd_bwd, 100) * 1e3:.3f} ms")

    for cls in (MF, LightGCN):
        torch.manual_seed(2026)
        encoder = cls.from_data(graph, embedding_dim=64)
        history = fit(
            encoder, graph, train, epochs=args.epochs, batch_size=2048, lr=1e-3,
            reg_weight=1e-4, seed=2026, progress=False,
        )  # fmt: skip
        secs = history["seconds"].tolist()
        print(
            f"{cls.__name__:8s} median {statistics.median(secs):.3f} s/epoch over {len(secs)} epochs "
            f"(all: {', '.join(f'{s:.3f}' for s in secs)}); final loss {history['loss'].iloc[-1]:.4f}"
        )


if __name__ == "__main__":
    main()
