"""Fit one kgrec model on the shared split in a process of its own and print one JSON line.

The kgrec side of ``benchmarks/peer_compare.py``, run as ``python -m
benchmarks.peers.kgrec_runner`` from the repository root so that its peak RSS is measured the
same way as RecBole's (``resource.getrusage`` of a fresh process). The last stdout line is the
JSON result, with the same keys as ``recbole_runner.py``: ``test_recall@20``, ``test_ndcg@20``,
``best_valid_ndcg@20``, ``epochs``, ``best_epoch`` (0-based), ``sec_per_epoch`` (median of the
history's ``seconds``), ``valid_eval_sec`` (median of ``eval_seconds``), ``fit_sec``,
``peak_rss_mb``. A model kgrec does not have yet prints ``{"error": ...}`` and exits with 3.

Usage::

    python -m benchmarks.peers.kgrec_runner --model lightgcn --patience 10 [--lr 1e-3]
        [--reg 1e-4] [--epochs 300] [--hyper num_layers=3 --hyper init_std=0.1] [--eval-pass]

``--eval-pass`` (encoders only) also times one full evaluation pass on the fitted embeddings:
the bound (all users x all items matmul + top-20) against kgrec's ``FullRankingEvaluator``
on the validation part, as the fit loop runs it.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

DEFAULT_SPLIT = "/work/shared/benchmarks/ml-100k-kg"
DEFAULT_KG = "/work/shared/datasets/ml-100k-kg"
KG_MODELS = {"kgat", "cke", "kgin", "kgcn", "ripplenet"}
EXIT_UNAVAILABLE = 3


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def parse_hyper(items: list[str]) -> dict:
    """``["num_layers=3", "init_std=0.1"]`` -> ``{"num_layers": 3, "init_std": 0.1}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--hyper expects key=value (got {item!r})")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def load_split(split_dir: Path, kg_dir: Path | None):
    """The shared split; with ``kg_dir`` resolved against the KG-linked RecBole dataset."""
    from kgrec.data.split import load_split_files

    files = [split_dir / f"{p}.tsv" for p in ("train", "valid", "test")]
    if kg_dir is None:
        return load_split_files(*files, name=split_dir.name)
    from kgrec.data.readers.recbole import read_recbole

    inter = sorted(kg_dir.glob("*.inter"))
    if len(inter) != 1:
        raise SystemExit(f"expected one *.inter file in {kg_dir} (got {[p.name for p in inter]})")
    dataset = read_recbole(kg_dir, name=inter[0].stem, item_features=[], user_features=[])
    return load_split_files(*files, dataset=dataset, name=split_dir.name)


def _median_seconds(fn, repeat: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def eval_pass(rec, split, repeat: int) -> dict:
    """Full evaluation pass on the fitted embeddings: the matmul + top-20 bound vs kgrec."""
    import torch

    from kgrec.evaluate import FullRankingEvaluator
    from kgrec.graph import build_graph

    train, valid = split.train, split.valid
    encoder = rec.encoder
    graph = build_graph(train)
    encoder.eval()
    with torch.inference_mode():
        user_emb, item_emb = encoder(graph)
    users = torch.arange(user_emb.shape[0])
    rows = torch.from_numpy(train.interactions["user"].to_numpy(dtype="int64", copy=True))
    cols = torch.from_numpy(train.interactions["item"].to_numpy(dtype="int64", copy=True))

    def bound() -> None:
        with torch.inference_mode():
            torch.topk(user_emb @ item_emb.T, 20, dim=1)

    def bound_masked() -> None:
        with torch.inference_mode():
            scores = user_emb @ item_emb.T
            scores[rows, cols] = -torch.inf
            torch.topk(scores, 20, dim=1)

    def forward() -> None:
        with torch.inference_mode():
            encoder(graph)

    def score_fn(u):
        return user_emb[u] @ item_emb.T

    loop_eval = FullRankingEvaluator(ks=rec.ks, seed=rec.seed)  # what the fit loop runs
    lean_eval = FullRankingEvaluator(ks=(20,), metrics=("recall", "ndcg"), seed=rec.seed)
    out = {
        "users": int(users.numel()),
        "items": int(item_emb.shape[0]),
        "bound_ms": 1e3 * _median_seconds(bound, repeat),
        "bound_masked_ms": 1e3 * _median_seconds(bound_masked, repeat),
        "forward_ms": 1e3 * _median_seconds(forward, repeat),
        "evaluator_ms": 1e3 * _median_seconds(lambda: loop_eval.evaluate(score_fn, target=valid, exclude=[train]), repeat),
        "evaluator_lean_ms": 1e3
        * _median_seconds(lambda: lean_eval.evaluate(score_fn, target=valid, exclude=[train]), repeat),
        "evaluator_ks": list(loop_eval.ks),
        "evaluator_metrics": list(loop_eval.metrics),
        "valid_users": int(valid.interactions["user"].nunique()),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lightgcn")
    parser.add_argument("--split", default=DEFAULT_SPLIT, help="folder with train/valid/test.tsv")
    parser.add_argument("--kg", default=DEFAULT_KG, help="RecBole folder of the KG-linked dataset (KG models)")
    parser.add_argument("--epochs", type=int, default=None, help="epoch cap (default: kgrec's)")
    parser.add_argument("--patience", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--reg", type=float, default=None, help="reg_weight (L2)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--hyper", action="append", default=[], metavar="KEY=VALUE", help="model hyper-parameter")
    parser.add_argument("--eval-pass", action="store_true", help="also time one full evaluation pass")
    parser.add_argument("--eval-repeat", type=int, default=20)
    parser.add_argument("--history", default=None, help="write the fit history to this CSV")
    args = parser.parse_args()

    t_start = time.perf_counter()
    import torch

    torch.set_num_threads(args.threads)
    from kgrec.recommender import BASELINES, Recommender, model_names

    import_sec = time.perf_counter() - t_start
    rss_after_imports = current_rss_mb()
    name = args.model.lower()
    result: dict = {"tool": "kgrec", "model": name, "threads": args.threads, "loadavg_start": os.getloadavg()[0]}
    if name not in model_names():
        result["error"] = f"kgrec has no model {name!r} yet (valid: {', '.join(model_names())})"
        print(json.dumps(result), flush=True)
        sys.exit(EXIT_UNAVAILABLE)

    t0 = time.perf_counter()
    split = load_split(Path(args.split), Path(args.kg) if name in KG_MODELS else None)
    train, valid, test = split.train, split.valid, split.test
    t1 = time.perf_counter()
    options = {
        k: v
        for k, v in dict(epochs=args.epochs, patience=args.patience, lr=args.lr, reg_weight=args.reg, batch_size=args.batch_size).items()
        if v is not None
    }
    hyper = parse_hyper(args.hyper)
    if name in BASELINES:
        options = {}  # closed-form: no fit-loop settings
    rec = Recommender(name, seed=args.seed, progress=False, **options, **hyper)
    rec.fit(train, valid=valid)
    t2 = time.perf_counter()
    res = rec.evaluate(test)
    t3 = time.perf_counter()
    result.update(
        {
            "config": rec.config(),
            "import_sec": round(import_sec, 3),
            "rss_after_imports_mb": round(rss_after_imports, 1),
            "load_sec": round(t1 - t0, 4),
            "num_users": int(train.num_users),
            "num_items": int(train.num_items),
            "test_recall@20": float(res.mean["recall@20"]),
            "test_ndcg@20": float(res.mean["ndcg@20"]),
            "fit_sec": round(t2 - t1, 3),
            "test_eval_sec": round(t3 - t2, 4),
        }
    )
    history = rec.history_
    if history is not None and len(history):
        result.update(
            {
                "best_valid_ndcg@20": history.attrs.get("best_value"),
                "epochs": int(len(history)),
                "best_epoch": history.attrs.get("best_epoch"),
                "sec_per_epoch": float(statistics.median(history["seconds"])),
                "valid_eval_sec": float(statistics.median(history["eval_seconds"])) if "eval_seconds" in history else None,
                "train_sec_total": float(history["seconds"].sum()),
                "eval_sec_total": float(history["eval_seconds"].sum()) if "eval_seconds" in history else None,
            }
        )
        if args.history:
            history.to_csv(args.history, index=False)
    else:
        result["valid_ndcg@20"] = float(rec.evaluate(valid, exclude=[train]).mean["ndcg@20"])
    if args.eval_pass and rec.is_encoder:
        result["eval_pass"] = eval_pass(rec, split, args.eval_repeat)
    result["total_sec"] = round(time.perf_counter() - t0, 3)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["loadavg_end"] = os.getloadavg()[0]
    print(json.dumps(result, default=float), flush=True)


if __name__ == "__main__":
    main()
