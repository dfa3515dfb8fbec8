"""``kgrec fuse RUN_DIR RUN_DIR ... --out RUN_DIR``: fuse trained runs into one recommender.

Each RUN_DIR comes from ``kgrec train`` (``RUN_DIR/model``, ``RUN_DIR/split``); all must share
one split. The fused run folder gets the same layout: ``metrics.json`` (with the same ``test``
keys as ``kgrec train``'s, the weights, and each member's test metrics beside), ``model/`` (the
saved :class:`~kgrec.fusion.FusedRecommender`) and ``split/``, so ``kgrec evaluate`` and
``kgrec recommend`` work on it too.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from kgrec import __version__


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fuse", help="fuse trained runs (weights tuned on valid, or reciprocal rank fusion)"
    )
    p.add_argument(
        "runs", nargs="+", type=Path, metavar="RUN_DIR", help="run folders of kgrec train"
    )
    p.add_argument("--out", type=Path, required=True, metavar="RUN_DIR")
    p.add_argument("--method", choices=("linear", "rrf"), default="linear")
    p.add_argument("--normalise", choices=("zscore", "rank", "none"), default="zscore")
    p.add_argument(
        "--weights",
        type=float,
        nargs="+",
        help="fixed weights, one per run (default: tuned on valid)",
    )
    p.add_argument("--rrf-k", type=float, default=60.0)
    p.add_argument("--ks", type=int, nargs="+", default=[10, 20])
    p.add_argument("--seed", type=int, default=2026)
    p.set_defaults(func=run_fuse)


def run_fuse(args: argparse.Namespace) -> int:
    from kgrec.cli.train import _print_metrics
    from kgrec.data.io import load_dataset, save_split
    from kgrec.evaluate.protocol import evaluate_views
    from kgrec.fusion import FusedRecommender
    from kgrec.recommender import Recommender

    for run in args.runs:
        if not (run / "model").is_dir() or not (run / "split").is_dir():
            raise FileNotFoundError(
                f"{run} is not a kgrec train run folder (expected {run}/model and {run}/split)"
            )
    members = [Recommender.load(run / "model") for run in args.runs]
    split = load_dataset(args.runs[0] / "split")
    for run in args.runs[1:]:
        other = load_dataset(run / "split")
        if other.train.checksum() != split.train.checksum():
            raise ValueError(
                f"{run} was trained on another split than {args.runs[0]}; fuse runs of one split"
            )
    ks = tuple(args.ks)
    fused = FusedRecommender(
        members, method=args.method, normalise=args.normalise, weights=args.weights,
        rrf_k=args.rrf_k, ks=ks, seed=args.seed,
    )  # fmt: skip
    start = time.perf_counter()
    fused.fit(split.valid)
    fit_seconds = time.perf_counter() - start
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    metrics: dict[str, Any] = {
        "model": "fusion",
        "config": fused.config(),
        "members": [str(run) for run in args.runs],
        "weights": fused.weights,
        "member_valid": fused.member_valid_,
        "kgrec_version": __version__,
        "dataset": {
            "name": split.dataset.name,
            "checksum": split.dataset.checksum(),
            **split.dataset.stats(),
        },
        "split": {"sizes": split.sizes(), "cold_items": int(len(split.cold_items()))},
        "fit_seconds": fit_seconds,
    }
    if split.valid is not None and len(split.valid.interactions):
        metrics["valid"] = fused.evaluate(split.valid, exclude=[split.train], ks=ks).mean
    for name, result in evaluate_views(fused, split, ks=ks).items():
        metrics[name] = result.mean
        metrics[f"{name}_users"] = result.num_users
    metrics["members_test"] = {
        str(run): m.evaluate(split.test, ks=ks).mean
        for run, m in zip(args.runs, members, strict=True)
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float) + "\n")
    fused.save(out / "model")
    save_split(split, out / "split")
    weights = ", ".join(f"{w:.2f}" for w in fused.weights or [])
    _print_metrics(f"fusion ({args.method}, weights {weights}) on {split.dataset.name}",
                   {k: v for k, v in metrics.items() if k.startswith("test")})  # fmt: skip
    print(f"wrote {out / 'metrics.json'}")
    return 0
