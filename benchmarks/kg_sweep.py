"""Hyper-parameter sweep of KG encoders on the shared ml-100k-kg split, selected on VALID only.

Usage::

    python benchmarks/kg_sweep.py --configs configs.json [--device cuda] [--workers 6]
        [--budget 420] [--out results]

``configs.json`` is a list of ``{"model": "kgat", "kg": "freebase", "hyper": {...}, "fit":
{...}}``. Each configuration is trained with the one fit loop (early stopping on valid
NDCG@20, patience 10) on ``--device``; a row per configuration (best valid NDCG@20, best
epoch, epochs run, median s / epoch, and test Recall@20 / NDCG@20 of the best-valid weights,
for the record only) goes to ``<out>/sweep.jsonl`` and each epoch's record to
``<out>/progress.jsonl``. Workers are separate processes
(configurations ``i::workers``); a worker starts no new configuration after ``--budget``
seconds. This is how the encoders' ``fit_defaults`` were chosen: by valid NDCG@20.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch


def _load(data: str, split: str, kg: str) -> Any:
    from kgrec.data.readers.recbole import read_recbole
    from kgrec.data.split import load_split_files

    ds = read_recbole(data, name="ml-100k", item_features=[] if kg == "freebase" else None)
    folder = Path(split)
    return load_split_files(
        folder / "train.tsv", folder / "valid.tsv", folder / "test.tsv", dataset=ds
    )


def run_config(
    cfg: dict[str, Any],
    split: Any,
    graph: Any,
    device: str,
    seed: int,
    progress: Path | None = None,
) -> dict[str, Any]:
    import kgrec.models.cke  # noqa: F401
    import kgrec.models.kgat  # noqa: F401
    from kgrec.evaluate import FullRankingEvaluator
    from kgrec.models import get_encoder
    from kgrec.train import Callback, fit, make_score_fn

    class Progress(Callback):
        """Append each epoch's record to ``progress`` (one JSON line), so a killed run still
        leaves its valid curve behind."""

        def on_epoch_end(self, state: Any) -> None:
            if progress is not None:
                with progress.open("a") as f:
                    f.write(json.dumps({"id": cfg.get("id"), **state.history[-1]}) + "\n")

    cls = get_encoder(cfg["model"])
    torch.manual_seed(seed)
    enc = cls.from_data(graph, **cfg.get("hyper", {})).to(device)
    options = {**getattr(cls, "fit_defaults", {}), **cfg.get("fit", {})}
    options.setdefault("patience", 10)
    t0 = time.perf_counter()
    hist = fit(
        enc, graph, split.train, valid=split.valid,
        evaluator=FullRankingEvaluator(ks=(20,), seed=seed), metric="ndcg@20",
        seed=seed, progress=False, callbacks=[Progress()], **options,
    )  # fmt: skip
    fit_s = time.perf_counter() - t0
    test = FullRankingEvaluator(ks=(20,), seed=seed).evaluate(
        make_score_fn(enc, graph), target=split.test, exclude=[split.train, split.valid]
    )
    return {
        **cfg,
        "best_valid_ndcg@20": hist.attrs["best_value"],
        "best_epoch": hist.attrs["best_epoch"],
        "epochs": len(hist),
        "s_per_epoch": statistics.median(hist["seconds"].tolist()),
        "fit_s": fit_s,
        "test_recall@20": test.mean["recall@20"],
        "test_ndcg@20": test.mean["ndcg@20"],
        "valid_curve": [round(v, 4) for v in hist["valid_ndcg@20"].tolist()],
    }


def worker(args: argparse.Namespace) -> None:
    from kgrec.graph import build_graph

    torch.set_num_threads(args.threads)
    configs = json.loads(Path(args.configs).read_text())
    for i, cfg in enumerate(configs):
        cfg.setdefault("id", i)
    configs = configs[args.worker :: args.workers]
    out = Path(args.out) / "sweep.jsonl"  # short appends from several workers: one file
    progress = Path(args.out) / "progress.jsonl"
    start = time.perf_counter()
    cache: dict[str, Any] = {}
    for cfg in configs:
        if time.perf_counter() - start > args.budget:
            print(f"worker {args.worker}: budget spent, skipping {cfg}", flush=True)
            continue
        kg = cfg.get("kg", "freebase")
        if kg not in cache:
            split = _load(args.data, args.split, kg)
            cache[kg] = (split, build_graph(split.train))
        split, graph = cache[kg]
        try:
            row = run_config(cfg, split, graph, args.device, args.seed, progress)
        except Exception as exc:  # a failed configuration is a result too
            row = {**cfg, "error": repr(exc)}
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(
            f"worker {args.worker}: {cfg} -> valid {row.get('best_valid_ndcg@20')} "
            f"(epoch {row.get('best_epoch')}, {row.get('s_per_epoch')} s/epoch)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--configs", required=True)
    parser.add_argument("--data", default="/work/shared/datasets/ml-100k-kg")
    parser.add_argument("--split", default="/work/shared/benchmarks/ml-100k-kg")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--worker", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--budget", type=float, default=float("inf"))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", default="sweep_results")
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.worker is not None:
        worker(args)
        return
    procs = [
        subprocess.Popen([sys.executable, *sys.argv, "--worker", str(i)], env=os.environ.copy())
        for i in range(args.workers)
    ]
    sys.exit(max(p.wait() for p in procs))


if __name__ == "__main__":
    main()
