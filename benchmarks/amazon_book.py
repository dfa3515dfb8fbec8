"""kgrec on KGAT's Amazon-Book split (its collaborative part), beside the simple baselines.

Data: ``datasets/amazon-book-kgat`` (KGAT's ``train.txt`` / ``test.txt``: 70,679 users, 24,915
items, 652,514 training and 193,920 test pairs; the KG file is not in ``../shared``, so only the
collaborative encoders run here). The papers that publish figures on this split have no
validation part and select on test; here a validation part is carved out of train
(:func:`kgrec.data.split.hold_out_valid`: 10% of each user's training pairs, seed 2026), early
stopping watches it (patience 10) and test is scored once with the best-valid weights. Full
ranking over all items, train and valid masked for test (RecBole's metric definitions).

Each run is ``MODEL`` or ``MODEL:TECHNIQUE`` with the techniques of ``ablation.py`` (``mf``,
``mf:softmax``, ``lightgcn:dns``, ...), on ``--device``, stopped by ``--epochs`` or by the
per-run ``--time-budget`` (the fit keeps its best-valid weights; the table says which stopped
it). Baselines (EASE, ItemKNN, MostPop) are fitted on the CPU. Published figures on this split
(Recall@20 / NDCG@20, selected on test, KGIN paper): MF 0.1300 / 0.0678, CKE 0.1342 / 0.0698,
KGAT 0.1487 / 0.0799, KGIN 0.1687 / 0.0915.

Usage (from the repository root)::

    .venv/bin/python benchmarks/amazon_book.py --runs mf mf:softmax --baselines ease pop
    python benchmarks/amazon_book.py --device cuda --workers 4 --time-budget 600 \\
        --runs mf mf:softmax lightgcn lightgcn:softmax --baselines ease itemknn pop
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ablation import TECHNIQUES, fmt  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = {  # KGIN paper, Table 2 (corrected NDCG), selected on test
    "MF (published)": (0.1300, 0.0678),
    "CKE (published)": (0.1342, 0.0698),
    "KGAT (published)": (0.1487, 0.0799),
    "KGIN (published)": (0.1687, 0.0915),
}
_DATA: dict[str, Any] = {}


def load_split(data_root: Path, *, seed: int = 2026) -> Any:
    """KGAT's train / test parts with a validation part held out of train."""
    from kgrec.data.readers.kgat import read_kgat_split
    from kgrec.data.split import Split, hold_out_valid

    dataset, rows = read_kgat_split(data_root / "datasets" / "amazon-book-kgat")
    fixed = Split(dataset=dataset, parts={"train": rows["train"], "test": rows["test"]})
    return hold_out_valid(fixed, fraction=0.1, seed=seed)


def _init_worker(threads: int, data_root: Path, seed: int) -> None:
    torch.set_num_threads(threads)
    if "split" not in _DATA:  # a spawned worker (CUDA) starts without the parent's data
        _DATA["split"] = load_split(data_root, seed=seed)


def run_one(task: dict[str, Any]) -> dict[str, Any]:
    """Fit one ``MODEL[:TECHNIQUE]`` and score test once with its best-valid weights."""
    from kgrec.recommender import Recommender

    split = _DATA["split"]
    model, _, tech = task["run"].partition(":")
    kwargs = dict(TECHNIQUES[tech or "plain"][1])
    t0 = time.perf_counter()
    try:
        rec = Recommender(
            model, seed=task["seed"], epochs=task["epochs"], max_seconds=task["time_budget"],
            device=task["device"], progress=False, **kwargs,
        )  # fmt: skip
        rec.fit(split.train, valid=split.valid)
        fit_s = time.perf_counter() - t0
        test = rec.evaluate(split.test, ks=(20,), metrics=("recall", "ndcg"))
    except Exception as exc:  # report it, keep the table going
        return {**task, "error": f"{type(exc).__name__}: {exc}"}
    hist = rec.history_
    return {
        **task,
        "valid_ndcg@20": float(hist.attrs["best_value"]),
        "test_recall@20": float(test.mean["recall@20"]),
        "test_ndcg@20": float(test.mean["ndcg@20"]),
        "epochs_run": len(hist),
        "best_epoch": int(hist.attrs["best_epoch"]),
        "stop": hist.attrs.get("stop_reason") or "epoch cap",
        "s_per_epoch": float(np.median(hist["seconds"])),
        "eval_s": float(np.median(hist["eval_seconds"])),
        "fit_s": fit_s,
    }


def fit_baseline(name: str, split: Any) -> dict[str, Any]:
    from kgrec.recommender import Recommender

    hyper = {"ease": {"l2": 500.0}, "itemknn": {"k": 200}}.get(name, {})
    t0 = time.perf_counter()
    rec = Recommender(name, **hyper).fit(split.train, valid=split.valid)
    fit_s = time.perf_counter() - t0
    valid = rec.evaluate(split.valid, exclude=[split.train], ks=(20,), metrics=("ndcg",))
    test = rec.evaluate(split.test, ks=(20,), metrics=("recall", "ndcg"))
    return {
        "run": name, "valid_ndcg@20": valid.mean["ndcg@20"], "test_recall@20": test.mean["recall@20"],
        "test_ndcg@20": test.mean["ndcg@20"], "fit_s": fit_s,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", default=["mf", "mf:softmax"], help="MODEL[:TECHNIQUE]")
    parser.add_argument("--baselines", nargs="*", default=["ease", "itemknn", "pop"])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--time-budget", type=float, default=None, help="seconds per run")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=1, help="runs in parallel (processes)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per process")
    parser.add_argument(
        "--baseline-threads", type=int, default=None, help="torch threads of the baselines (default --threads)"
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    for run in args.runs:
        tech = run.partition(":")[2]
        if tech and tech not in TECHNIQUES:
            parser.error(f"unknown technique {tech!r} in {run!r}; valid: {', '.join(TECHNIQUES)}")

    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    split = _DATA["split"] = load_split(args.data_root, seed=args.seed)
    print(f"split {split.sizes()} ({time.perf_counter() - t_start:.1f} s to read and split)", file=sys.stderr)
    tasks = [
        {"run": r, "seed": args.seed, "epochs": args.epochs, "time_budget": args.time_budget,
         "device": args.device}
        for r in args.runs
    ]  # fmt: skip
    rows: list[dict[str, Any]] = []

    def done(r: dict[str, Any]) -> None:
        rows.append(r)
        shown = r.get("error") or f"test N@20 {fmt(r['test_ndcg@20'])}, R@20 {fmt(r['test_recall@20'])}"
        print(f"[{time.perf_counter() - t_start:.0f}s] {r['run']}: {shown}", file=sys.stderr, flush=True)

    if args.workers > 1 and len(tasks) > 1:
        # CUDA cannot be used in a forked child once the parent touched it: spawn there
        ctx = mp.get_context("spawn" if torch.device(args.device).type == "cuda" else "fork")
        init = (args.threads, args.data_root, args.seed)
        with ctx.Pool(min(args.workers, len(tasks)), initializer=_init_worker, initargs=init) as pool:
            for task in tasks:
                pool.apply_async(run_one, (task,), callback=done)
            torch.set_num_threads(args.baseline_threads or args.threads)
            for name in args.baselines:  # on the CPU meanwhile
                done(fit_baseline(name, split))
            pool.close()
            pool.join()
    else:
        for task in tasks:
            done(run_one(task))
        for name in args.baselines:
            done(fit_baseline(name, split))

    print(f"\n== Amazon-Book (KGAT split), valid held out of train, device {args.device} ==")
    print("run | valid N@20 | test R@20 | test N@20 | epochs (best) | stopped by | s/epoch | eval s | fit s")
    print("----|------------|-----------|-----------|---------------|------------|---------|--------|------")
    for r in rows:
        if "error" in r:
            print(f"{r['run']} | error: {r['error']}")
            continue
        epochs = f"{r['epochs_run']} ({r['best_epoch']})" if "epochs_run" in r else "-"
        print(f"{r['run']} | {fmt(r['valid_ndcg@20'])} | {fmt(r['test_recall@20'])} | "
              f"{fmt(r['test_ndcg@20'])} | {epochs} | {r.get('stop', 'closed form')} | "
              f"{fmt(r.get('s_per_epoch'), 2)} | {fmt(r.get('eval_s'), 2)} | {fmt(r['fit_s'], 1)}")  # fmt: skip
    for name, (recall, ndcg) in PUBLISHED.items():
        print(f"{name} | - | {recall:.4f} | {ndcg:.4f} | - | selected on test | - | - | -")
    print(f"total wall time {time.perf_counter() - t_start:.0f} s")
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
