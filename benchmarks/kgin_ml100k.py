"""KGIN on the shared ml-100k-kg split: test Recall@20 / NDCG@20, epochs, seconds per epoch.

Protocol of ``shared/BENCHMARKS.md``: the fixed 80/10/10 split, full ranking, early stopping on
valid NDCG@20 (patience 10 by default), test scored once with the best-valid weights. Beside
KGIN the script measures, in the same process and on the same machine state:

- EASE (closed form, λ=500) and MF: the simple baselines every KG model must be shown next to;
- a few LightGCN epochs (no validation), for a seconds-per-epoch ratio that survives machine
  load (absolute times drift; RecBole's KGAT took 13.65 s / epoch on an idle machine like this
  one, and kgrec's LightGCN an order of magnitude less than RecBole's 2.0 s).

Usage (from the repository root)::

    .venv/bin/python benchmarks/kgin_ml100k.py                      # defaults, + peers
    .venv/bin/python benchmarks/kgin_ml100k.py --skip-peers --hyper num_layers=2 --lr 5e-3
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import statistics
import time
from pathlib import Path

import torch

SPLIT = Path("/work/shared/benchmarks/ml-100k-kg")
KG_DATA = Path("/work/shared/datasets/ml-100k-kg")


def parse_hyper(items: list[str]) -> dict:
    """``["num_layers=2", "normalize=False"]`` -> ``{"num_layers": 2, "normalize": False}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"expected --hyper KEY=VALUE (got {item!r})")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def load():
    from kgrec.data.readers.recbole import read_recbole
    from kgrec.data.split import load_split_files

    ds = read_recbole(KG_DATA, name="ml-100k", item_features=[], user_features=[])
    return load_split_files(
        SPLIT / "train.tsv", SPLIT / "valid.tsv", SPLIT / "test.tsv", dataset=ds
    )


def fit_kgin(split, args) -> dict:
    import kgrec.models.kgin  # noqa: F401  (registers "kgin" until kgrec.models imports it)
    from kgrec.recommender import Recommender

    fit_options = {
        k: v
        for k, v in dict(epochs=args.epochs, lr=args.lr, reg_weight=args.reg, patience=args.patience).items()
        if v is not None
    }
    hyper = parse_hyper(args.hyper)
    t0 = time.perf_counter()
    rec = Recommender("kgin", seed=args.seed, progress=False, **fit_options, **hyper)
    rec.fit(split.train, valid=split.valid)
    fit_sec = time.perf_counter() - t0
    hist = rec.history_
    test = rec.evaluate(split.test).mean
    return {
        "model": "kgin",
        "hyper": hyper,
        "fit": fit_options,
        "epochs": len(hist),
        "best_epoch": hist.attrs.get("best_epoch"),
        "best_valid_ndcg@20": hist.attrs.get("best_value"),
        "sec_per_epoch": statistics.median(hist["seconds"]),
        "valid_eval_sec": statistics.median(hist["eval_seconds"]),
        "fit_sec": fit_sec,
        "test_recall@20": float(test["recall@20"]),
        "test_ndcg@20": float(test["ndcg@20"]),
    }


def baselines(split) -> list[dict]:
    from kgrec.recommender import Recommender

    rows = []
    for name, kw in (("ease", {"l2": 500.0}), ("mf", {})):
        t0 = time.perf_counter()
        rec = Recommender(name, progress=False, **kw).fit(split.train, valid=split.valid)
        test = rec.evaluate(split.test).mean
        row = {
            "model": name,
            "fit_sec": time.perf_counter() - t0,
            "test_recall@20": float(test["recall@20"]),
            "test_ndcg@20": float(test["ndcg@20"]),
        }
        if rec.history_ is not None:
            row["sec_per_epoch"] = statistics.median(rec.history_["seconds"])
            row["epochs"] = len(rec.history_)
        rows.append(row)
    return rows


def lightgcn_epoch_seconds(split, epochs: int) -> float:
    """Median seconds of a few LightGCN epochs through the same fit loop (no validation)."""
    from kgrec.graph import build_graph
    from kgrec.models import get_encoder
    from kgrec.train import fit

    graph = build_graph(split.train)
    enc = get_encoder("lightgcn").from_data(graph)
    hist = fit(enc, graph, split.train, epochs=epochs, progress=False)
    return statistics.median(hist["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=None, help="epoch cap (KGIN's default: 300)")
    parser.add_argument("--patience", type=int, default=None, help="early-stopping patience (default 10)")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--reg", type=float, default=None, help="L2 reg_weight")
    parser.add_argument("--hyper", action="append", default=[], help="KGIN hyper-parameter KEY=VALUE")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-peers", action="store_true", help="KGIN only (no EASE / MF / LightGCN)")
    parser.add_argument("--peer-epochs", type=int, default=5, help="LightGCN epochs timed for the ratio")
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument("--log", action="store_true", help="log every epoch (loss, valid NDCG@20)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.log:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    split = load()
    result = {"kgin": fit_kgin(split, args)}
    if not args.skip_peers:
        result["baselines"] = baselines(split)
        result["lightgcn_sec_per_epoch"] = lightgcn_epoch_seconds(split, args.peer_epochs)

    k = result["kgin"]
    print(
        f"KGIN {k['hyper'] or 'defaults'} {k['fit'] or ''}: {k['epochs']} epochs (best "
        f"{k['best_epoch']}), {k['sec_per_epoch']:.2f} s / epoch, valid eval "
        f"{k['valid_eval_sec']:.2f} s, fit {k['fit_sec']:.0f} s; best valid NDCG@20 "
        f"{k['best_valid_ndcg@20']:.4f}; test Recall@20 {k['test_recall@20']:.4f}, NDCG@20 "
        f"{k['test_ndcg@20']:.4f}"
    )
    for row in result.get("baselines", []):
        extra = f", {row['sec_per_epoch']:.2f} s / epoch" if "sec_per_epoch" in row else ""
        print(
            f"{row['model']:>8s}: test Recall@20 {row['test_recall@20']:.4f}, NDCG@20 "
            f"{row['test_ndcg@20']:.4f} (fit {row['fit_sec']:.1f} s{extra})"
        )
    if "lightgcn_sec_per_epoch" in result:
        lg = result["lightgcn_sec_per_epoch"]
        print(
            f"LightGCN epoch {lg:.3f} s in this run: KGIN / LightGCN = "
            f"{k['sec_per_epoch'] / lg:.1f}x; KGIN / RecBole KGAT's reference 13.65 s = "
            f"{k['sec_per_epoch'] / 13.65:.2f}x (absolute, machine load not controlled)"
        )
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
