"""Peak memory of KGAT on Amazon-Book's collaborative graph plus a 1M-triple synthetic KG.

Usage::

    python benchmarks/kgat_memory.py [--data /work/shared/datasets/amazon-book-kgat]
        [--triples 1000000] [--batches 5] [--batch-size 4096] [--threads 2] [--set kg_weight=1.0]

Reads KGAT's Amazon-Book split with ``read_kgat_split`` (70,679 users, 24,915 items, 652,514
training pairs; its ``kg_final.txt`` is not distributed, so the KG is synthetic): a seeded
(numpy ``default_rng(seed)``) KG of ``--triples`` triples whose heads are the items' entities
and whose tails are drawn from all entities of ``entity_list.txt``, over the relations of
``relation_list.txt``, all uniform. Builds the training graph and its collaborative KG, computes
the attention once, then trains KGAT through the one fit loop for ``--batches`` batches (the
graph holds every training pair; the loop runs over the first ``batches * batch_size`` pairs)
and prints the peak RSS (``resource.getrusage``) after each stage. The target: under 8 GB.
By default the paper's configuration is used (TransR on, ``kg_weight=1``, dropout 0.1), the
memory-heaviest one.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # no OpenMP spin-waiting on a shared CPU

import argparse  # noqa: E402
import ast  # noqa: E402
import dataclasses  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from kgrec.data.idmap import IdMap  # noqa: E402
from kgrec.data.readers.kgat import read_kgat_split  # noqa: E402
from kgrec.graph import build_graph  # noqa: E402
from kgrec.graph.ckg import collaborative_kg  # noqa: E402
from kgrec.models.kgat import KGAT  # noqa: E402
from kgrec.train import fit  # noqa: E402


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", default="/work/shared/datasets/amazon-book-kgat")
    parser.add_argument("--triples", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a KGAT hyper-parameter (default: kg_weight=1.0 dropout=0.1)")  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hyper = {"kg_weight": 1.0, "dropout": 0.1}
    for item in args.set:
        key, _, value = item.partition("=")
        hyper[key] = ast.literal_eval(value)
    t0 = time.perf_counter()

    def stage(name: str) -> None:
        print(
            f"{time.perf_counter() - t0:7.1f} s  peak RSS {peak_gb():5.2f} GB  after {name}",
            flush=True,
        )

    ds, rows = read_kgat_split(args.data)
    stage(f"reading {ds} ({len(rows['train'])} train / {len(rows['test'])} test pairs)")

    # ---- a seeded synthetic KG: heads = the items' entities, tails = any listed entity
    rng = np.random.default_rng(args.seed)
    item_ent = ds.item_entity[ds.item_entity >= 0]
    relations = IdMap(
        pd.read_csv(Path(args.data) / "relation_list.txt", sep=" ")["remap_id"].to_numpy(),
        name="relation",
    )
    n_rel = len(relations)
    head = item_ent[rng.integers(0, len(item_ent), args.triples)]
    rel = rng.integers(0, n_rel, args.triples)
    tail = rng.integers(0, ds.num_entities, args.triples)
    triples = pd.DataFrame({"head": head, "relation": rel, "tail": tail}).drop_duplicates(
        ignore_index=True
    )
    ds = dataclasses.replace(ds, relations=relations, triples=triples.astype(np.int64))
    train = ds.subset(rows["train"], name="amazon-book-train")
    stage(f"synthetic KG: {len(triples)} triples, {n_rel} relations, {ds.num_entities} entities")

    graph = build_graph(train)
    stage("build_graph")
    ckg = collaborative_kg(graph)
    stage(f"collaborative_kg: {ckg}")
    torch.manual_seed(args.seed)
    enc = KGAT.from_data(graph, **hyper)
    n_params = sum(p.numel() for p in enc.parameters())
    t1 = time.perf_counter()
    enc.refresh_attention(graph)
    stage(
        f"KGAT({hyper}) with {n_params / 1e6:.1f} M parameters; attention over {ckg.num_edges} edges in {time.perf_counter() - t1:.1f} s"
    )

    few = train.subset(np.arange(min(args.batches * args.batch_size, train.num_interactions)))
    hist = fit(
        enc, graph, few, epochs=1, batch_size=args.batch_size, seed=args.seed, progress=False
    )
    secs = float(hist["seconds"].iloc[0])
    stage(
        f"training {args.batches} batches of {args.batch_size} ({secs / args.batches:.2f} s / batch, loss {hist['loss'].iloc[0]:.4f})"
    )
    verdict = "PASS" if peak_gb() < 8 else "FAIL"
    print(f"peak RSS {peak_gb():.2f} GB (target < 8 GB): {verdict}")


if __name__ == "__main__":
    main()
