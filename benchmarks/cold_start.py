"""Cold-start items on ml-100k-kg-cold: kgrec's attribute models against LightFM, attribute-kNN
and random, side by side in one run; then the warm cost of the cold-start path on ml-100k-kg.

Usage (from the repository root)::

    .venv/bin/python benchmarks/cold_start.py                      # everything (~10 min)
    .venv/bin/python benchmarks/cold_start.py --models mf-attr     # one kgrec model
    .venv/bin/python benchmarks/cold_start.py --skip-warm --skip-lightfm
    KGREC_LIGHTFM_PYTHON=~/.cache/kgrec/lightfm-venv/bin/python .venv/bin/python benchmarks/cold_start.py

Data: ``read_recbole(shared/datasets/ml-100k-kg, name="ml-100k")`` with its default
``item_features`` (the ``.item`` columns release year and genre become KG triples ``item ->
class=Comedy``; ``--no-item-features`` drops them) and the fixed split
``shared/benchmarks/ml-100k-kg-cold/{train,valid,test}.tsv`` (336 items held out entirely;
valid and test hold different cold items). Views (``kgrec.evaluate.protocol``): **cold_all**
ranks the cold test pairs among all items (train and valid items of the user masked),
**cold_only** among the cold items only. Full ranking, random tie-breaking, Recall@20 / NDCG@20,
the same ``FullRankingEvaluator`` for every row (LightFM's full score matrix is evaluated here).

Model selection uses valid only. Valid holds only cold items, so every trained model (kgrec's and
LightFM) is selected on **valid NDCG@20 among the valid items** (``candidates`` = the items of
the valid part); kgrec models early-stop on it (patience 10). Then ``cold_scale`` (the new-item
boost of the cold path, eval-time only, see ``kgrec.models.coldstart``) is chosen on valid
NDCG@20 among **all** items from ``--cold-scales``: it does not change cold_only. The
attribute-kNN's ``min_links`` is chosen on valid cold-only NDCG@20 as well, and its default
(2) is printed beside it. LightFM (WARP, identity + KG attribute item features, rows normalised)
runs in its own venv (``benchmarks/peers/setup_lightfm.sh``) through
``benchmarks/peers/lightfm_runner.py``, writing its score matrix every 10 epochs up to
``--lightfm-epochs``; the epoch is chosen on valid the same way.

The warm check (``--skip-warm`` to skip) trains each encoder on ``shared/benchmarks/ml-100k-kg``
with and without the cold-start path (same fit settings, same seed, early stopping on valid
NDCG@20 among all items) and prints test NDCG@20 and the ratio (target >= 0.98).

Prints one table; ratios are against LightFM, attribute-kNN (tuned) and random of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_KG = SHARED / "datasets" / "ml-100k-kg"
DEFAULT_COLD = SHARED / "benchmarks" / "ml-100k-kg-cold"
DEFAULT_WARM = SHARED / "benchmarks" / "ml-100k-kg"
LIGHTFM_RUNNER = REPO / "benchmarks" / "peers" / "lightfm_runner.py"
DEFAULT_LIGHTFM_PYTHON = Path.home() / ".cache" / "kgrec" / "lightfm-venv" / "bin" / "python"
#: BENCHMARKS.md figures on this split (cold_all R@20, cold_only R@20), for orientation
PUBLISHED = {"random": (0.013, 0.064), "attrknn": (0.005, 0.088), "lightfm": (0.002, 0.121)}
#: hyper-parameters of the kgrec rows, chosen on the cold split's valid part (cold-only NDCG@20 of
#: mf-attr, lr 5e-3: min_links 2 -> 0.20, 5 -> 0.18, 10 -> 0.255, 20 -> 0.265, 50 -> 0.301,
#: 100 -> 0.276): only attributes shared by at least 50 items (genres, years, languages,
#: countries, frequent cast) carry over to new items; rarer ones are learned as a second id.
MODEL_HYPER: dict[str, dict[str, Any]] = {
    "mf-attr": {"min_links": 50},
    "lightgcn-attr": {"min_links": 50},
    "kglightgcn": {"min_links": 50},
}
#: epoch caps below --epochs for slow models
MODEL_EPOCHS = {"kgat": 20, "kglightgcn": 40}
#: kgrec encoder -> the same encoder without the cold-start path (warm check)
WARM_PAIRS = {
    "mf-attr": ("mf", {}),
    "lightgcn-attr": ("lightgcn", {}),
    "kglightgcn": ("kglightgcn", {"id_dropout": 0.0, "attribute_ego": False}),
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------- data
def load(args: argparse.Namespace, folder: Path) -> Any:
    from kgrec.data.readers.recbole import read_recbole
    from kgrec.data.split import load_split_files

    ds = read_recbole(args.kg, name="ml-100k", item_features=[] if args.no_item_features else None)
    return load_split_files(
        folder / "train.tsv", folder / "valid.tsv", folder / "test.tsv", dataset=ds
    )


class CandidateEvaluator:
    """The fit loop's evaluator interface, ranking among fixed candidate items only."""

    def __init__(self, evaluator: Any, candidates: np.ndarray) -> None:
        self.evaluator, self.candidates = evaluator, candidates

    def evaluate(self, score_fn: Any, *, target: Any, exclude: Any) -> Any:
        return self.evaluator.evaluate(
            score_fn, target=target, exclude=exclude, candidates=self.candidates
        )


def views(split: Any, score_fn: Any, evaluator: Any) -> dict[str, tuple[float, float]]:
    """``{view: (Recall@20, NDCG@20)}`` for test, cold_all and cold_only."""
    from kgrec.evaluate.protocol import evaluation_views

    names = {
        "test": "test",
        "test_cold": "cold_all",
        "test_cold_only": "cold_only",
        "test_warm": "warm",
    }
    out = {}
    for name, (target, cand) in evaluation_views(split).items():
        r = evaluator.evaluate(
            score_fn, target=target, exclude=[split.train, split.valid], candidates=cand
        )
        out[names[name]] = (r.mean["recall@20"], r.mean["ndcg@20"])
    return out


def valid_ndcg(split: Any, score_fn: Any, evaluator: Any, *, cold_only: bool) -> float:
    cand = np.unique(split.valid.interactions["item"].to_numpy()) if cold_only else None
    r = evaluator.evaluate(score_fn, target=split.valid, exclude=[split.train], candidates=cand)
    return float(r.mean["ndcg@20"])


# ---------------------------------------------------------------------- rows
def run_random(split: Any, evaluator: Any, seed: int) -> dict[str, Any]:
    from kgrec.models.baselines import RandomScorer

    model = RandomScorer(seed=seed).fit(split.train)
    return {"model": "random", **views(split, model.score_users, evaluator)}


def run_attrknn(split: Any, evaluator: Any, grid: list[int]) -> list[dict[str, Any]]:
    from kgrec.models.attribute_knn import AttributeKNN

    rows, best = [], None
    for min_links in grid:
        t0 = time.perf_counter()
        model = AttributeKNN(min_links).fit(split.train)
        fit_s = time.perf_counter() - t0
        v = valid_ndcg(split, model.score_users, evaluator, cold_only=True)
        row = {"model": f"attrknn(min_links={min_links})", "valid": v, "fit_s": fit_s,
               **views(split, model.score_users, evaluator)}  # fmt: skip
        if min_links == 2:
            row["model"] += " default"
            rows.append(row)
        if best is None or v > best["valid"]:
            best = row
    assert best is not None
    tuned = dict(best, model=best["model"].replace(" default", "") + " tuned")
    rows.append(tuned)
    return rows


def run_lightfm(split: Any, evaluator: Any, args: argparse.Namespace) -> dict[str, Any]:
    from kgrec.models.attribute_knn import item_attribute_matrix
    from kgrec.models.baselines import interaction_matrix

    python = args.lightfm_python
    if not python or not Path(python).exists():
        print(
            "LightFM skipped: set KGREC_LIGHTFM_PYTHON or --lightfm-python (create the venv with "
            "bash benchmarks/peers/setup_lightfm.sh)",
            file=sys.stderr,
        )
        return {"model": "lightfm", "error": "no LightFM venv"}
    train = split.train
    attrs = item_attribute_matrix(train)  # every KG attribute linked to each item
    features = sp.hstack([sp.identity(train.num_items, format="csr"), attrs]).tocsr()
    row_sum = np.asarray(features.sum(axis=1)).ravel()
    features = (sp.diags(1.0 / row_sum) @ features).tocsr().astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="kgrec-lightfm-") as tmp:
        inputs, out = Path(tmp) / "in", Path(tmp) / "out"
        inputs.mkdir()
        sp.save_npz(inputs / "train.npz", interaction_matrix(train).astype(np.float32).tocoo())
        sp.save_npz(inputs / "item_features.npz", features)
        cmd = [python, str(LIGHTFM_RUNNER), "--inputs", str(inputs), "--out", str(out),
               "--loss", "warp", "--epochs", str(args.lightfm_epochs), "--eval-every", "10",
               "--threads", str(args.threads), "--seed", str(args.seed)]  # fmt: skip
        print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
        }
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=False)
        wall = time.perf_counter() - t0
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            return {"model": "lightfm", "error": f"runner exit {proc.returncode}"}
        info = json.loads(lines[-1])
        best: tuple[float, int, str] | None = None
        for epoch, path in zip(info["epochs"], info["files"], strict=True):
            scores = torch.from_numpy(np.load(path))
            v = valid_ndcg(split, lambda u, s=scores: s[u], evaluator, cold_only=True)
            if best is None or v > best[0]:
                best = (v, epoch, path)
        assert best is not None
        scores = torch.from_numpy(np.load(best[2]))
        row = {"model": f"lightfm warp (epoch {best[1]} of {args.lightfm_epochs})", "valid": best[0],
               "s/epoch": info["seconds_per_epoch"], "fit_s": wall,
               **views(split, lambda u: scores[u], evaluator)}  # fmt: skip
    return row


def fit_encoder(
    name: str,
    split: Any,
    evaluator: Any,
    args: argparse.Namespace,
    *,
    hyper: dict[str, Any],
    cold_select: bool,
) -> tuple[Any, Any, Any]:
    from kgrec.graph import build_graph
    from kgrec.models import get_encoder
    from kgrec.train import fit

    graph = build_graph(split.train)
    torch.manual_seed(args.seed)
    cls = get_encoder(name)
    encoder = cls.from_data(graph, **hyper)
    epochs = min(args.epochs, MODEL_EPOCHS.get(name, args.epochs))
    options = {**getattr(cls, "fit_defaults", {}), "epochs": epochs, "patience": args.patience}
    if args.lr:
        options["lr"] = args.lr
    ev = evaluator
    if cold_select:
        ev = CandidateEvaluator(evaluator, np.unique(split.valid.interactions["item"].to_numpy()))
    history = fit(encoder, graph, split.train, valid=split.valid, evaluator=ev, seed=args.seed,
                  progress=False, **options)  # fmt: skip
    return encoder, graph, history


def run_kgrec(name: str, split: Any, evaluator: Any, args: argparse.Namespace) -> dict[str, Any]:
    from kgrec.train import make_score_fn

    t0 = time.perf_counter()
    hyper = MODEL_HYPER.get(name, {})
    encoder, graph, history = fit_encoder(
        name, split, evaluator, args, hyper=hyper, cold_select=True
    )
    fit_s = time.perf_counter() - t0
    row: dict[str, Any] = {
        "model": f"kgrec {name} {hyper or ''}".strip(),
        "valid": float(history.attrs["best_value"]),
        "epochs": f"{len(history)} ({history.attrs['best_epoch']})",
        "s/epoch": float(np.median(history["seconds"])),
        "fit_s": fit_s,
    }
    row.update(views(split, make_score_fn(encoder, graph), evaluator))
    if getattr(encoder, "attributes", None) is not None and hasattr(encoder, "cold_scale"):
        chosen = (valid_ndcg(split, make_score_fn(encoder, graph), evaluator, cold_only=False), 1.0)
        for gamma in args.cold_scales:
            encoder.cold_scale = gamma
            v = valid_ndcg(split, make_score_fn(encoder, graph), evaluator, cold_only=False)
            if v > chosen[0]:
                chosen = (v, gamma)
        encoder.cold_scale = chosen[1]
        boosted = views(split, make_score_fn(encoder, graph), evaluator)
        row["cold_scale"] = chosen[1]
        row["cold_all_boosted"] = boosted["cold_all"]
    return row


def run_warm_pair(
    name: str, args: argparse.Namespace, split: Any, evaluator: Any
) -> dict[str, Any]:
    from kgrec.train import make_score_fn

    base, base_hyper = WARM_PAIRS[name]
    out: dict[str, Any] = {"model": name, "without": f"{base} {base_hyper or ''}".strip()}
    for key, (model, hyper) in (
        ("with", (name, MODEL_HYPER.get(name, {}))),
        ("without", (base, base_hyper)),
    ):
        t0 = time.perf_counter()
        encoder, graph, history = fit_encoder(
            model, split, evaluator, args, hyper=hyper, cold_select=False
        )
        r = evaluator.evaluate(
            make_score_fn(encoder, graph), target=split.test, exclude=[split.train, split.valid]
        )
        out[f"{key}_ndcg"] = r.mean["ndcg@20"]
        out[f"{key}_recall"] = r.mean["recall@20"]
        out[f"{key}_epochs"] = f"{len(history)} ({history.attrs['best_epoch']})"
        out[f"{key}_s"] = time.perf_counter() - t0
    out["ratio"] = out["with_ndcg"] / out["without_ndcg"]
    return out


# ---------------------------------------------------------------------- printing
def _pair(v: Any) -> str:
    return f"{v[0]:.4f} / {v[1]:.4f}" if isinstance(v, tuple) else "-"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else ("inf (peer 0)" if a > 0 else "- (both 0)")


def print_table(rows: list[dict[str, Any]]) -> None:
    ok = [r for r in rows if "error" not in r]
    ref = {key: next((r for r in ok if r["model"].startswith(prefix)), None)
           for key, prefix in (("lightfm", "lightfm"), ("attrknn", "attrknn") , ("random", "random"))}  # fmt: skip
    ref["attrknn"] = next((r for r in ok if r["model"].endswith("tuned")), ref["attrknn"])
    print()
    print(
        "cold-item split ml-100k-kg-cold: Recall@20 / NDCG@20 (cold_all: among all items; cold_only: among cold items)"
    )
    header = f"{'model':<44} {'valid':>7} {'cold_all R/N':>17} {'cold_only R/N':>17} {'boost γ':>7} {'cold_all R/N boosted':>21} {'s/ep':>6} {'fit s':>7}"
    print(header)
    print("-" * len(header))
    for r in rows:
        if "error" in r:
            print(f"{r['model']:<44} {r['error']}")
            continue
        print(
            f"{r['model']:<44} {r.get('valid', float('nan')):>7.4f} {_pair(r.get('cold_all')):>17} "
            f"{_pair(r.get('cold_only')):>17} {r.get('cold_scale', ''):>7} "
            f"{_pair(r.get('cold_all_boosted')):>21} {r.get('s/epoch', float('nan')):>6.2f} "
            f"{r.get('fit_s', float('nan')):>7.1f}"
        )
    print(
        "boosted: cold_scale γ chosen on valid NDCG@20 among all items. Valid holds only new items,\n"
        "so a large γ wins: every cold item then outranks every warm one, and cold_all takes\n"
        "cold_only's ranking. The unboosted columns are the calibrated γ = 1."
    )
    print()
    print(
        "ratios of Recall@20 (cold_only; cold_all, unboosted and boosted) against the peers of this run:"
    )
    for r in ok:
        if not r["model"].startswith("kgrec"):
            continue
        parts = []
        for key, peer in ref.items():
            if peer is None:
                continue
            co = _ratio(r["cold_only"][0], peer["cold_only"][0])
            ca = _ratio(r["cold_all"][0], peer["cold_all"][0])
            cb = _ratio(r.get("cold_all_boosted", r["cold_all"])[0], peer["cold_all"][0])
            parts.append(f"vs {key}: cold_only {co}, cold_all {ca} / boosted {cb}")
        print(f"  {r['model']:<22} " + "; ".join(parts))
    print(f"published on this split (BENCHMARKS.md, cold_all / cold_only R@20): {PUBLISHED}")


def print_warm(pairs: list[dict[str, Any]]) -> None:
    print()
    print(
        "warm split ml-100k-kg: test NDCG@20 (Recall@20) with / without the cold-start path (target ratio >= 0.98)"
    )
    for p in pairs:
        print(
            f"  {p['model']:<14} with {p['with_ndcg']:.4f} ({p['with_recall']:.4f}) [{p['with_epochs']} ep, "
            f"{p['with_s']:.0f} s]   without ({p['without']}) {p['without_ndcg']:.4f} "
            f"({p['without_recall']:.4f}) [{p['without_epochs']} ep, {p['without_s']:.0f} s]   "
            f"ratio {p['ratio']:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", default=["mf-attr", "lightgcn-attr", "kglightgcn", "kgat"]
    )
    parser.add_argument("--kg", type=Path, default=DEFAULT_KG)
    parser.add_argument("--cold-split", type=Path, default=DEFAULT_COLD)
    parser.add_argument("--warm-split", type=Path, default=DEFAULT_WARM)
    parser.add_argument(
        "--no-item-features", action="store_true", help="drop the .item genre / year attributes"
    )
    parser.add_argument("--epochs", type=int, default=100, help="epoch cap of kgrec models")
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument(
        "--lr", type=float, default=5e-3, help="Adam lr of every kgrec model (0: their own)"
    )
    parser.add_argument("--cold-scales", type=float, nargs="+", default=[1.5, 2.0, 3.0, 4.0])
    parser.add_argument("--knn-grid", type=int, nargs="+", default=[2, 5, 10, 20, 50])
    parser.add_argument(
        "--lightfm-python",
        default=os.environ.get("KGREC_LIGHTFM_PYTHON", str(DEFAULT_LIGHTFM_PYTHON)),
        help="LightFM's venv python (default: $KGREC_LIGHTFM_PYTHON, else the setup script's default)",
    )
    parser.add_argument("--lightfm-epochs", type=int, default=100)
    parser.add_argument("--skip-lightfm", action="store_true")
    parser.add_argument("--skip-warm", action="store_true")
    parser.add_argument(
        "--warm-models", nargs="+", default=None, help="default: --models with a pair"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import kgrec.models  # noqa: F401  (registers the encoders)
    from kgrec.evaluate import FullRankingEvaluator
    from kgrec.models import ENCODERS

    try:  # the KG encoders of other modules register themselves when imported
        import kgrec.models.kgat  # noqa: F401
    except ImportError:
        pass
    evaluator = FullRankingEvaluator(ks=(20,), metrics=("recall", "ndcg"), seed=args.seed)
    t0 = time.perf_counter()
    split = load(args, args.cold_split)
    print(f"cold split: {split} ({len(split.cold_items())} cold items), loaded in "
          f"{time.perf_counter() - t0:.1f} s; torch threads {args.threads}", file=sys.stderr)  # fmt: skip

    rows: list[dict[str, Any]] = [run_random(split, evaluator, args.seed)]
    rows += run_attrknn(split, evaluator, args.knn_grid)
    if not args.skip_lightfm:
        rows.append(run_lightfm(split, evaluator, args))
    for name in args.models:
        if name not in ENCODERS:
            rows.append({"model": f"kgrec {name}", "error": "not registered"})
            continue
        print(f"training {name} on the cold split ...", file=sys.stderr, flush=True)
        try:
            rows.append(run_kgrec(name, split, evaluator, args))
        except Exception as exc:  # a model of another module may fail: report, go on
            rows.append({"model": f"kgrec {name}", "error": f"{type(exc).__name__}: {exc}"})
    print_table(rows)

    pairs: list[dict[str, Any]] = []
    if not args.skip_warm:
        warm = load(args, args.warm_split)
        for name in args.warm_models or [m for m in args.models if m in WARM_PAIRS]:
            print(f"warm check {name} ...", file=sys.stderr, flush=True)
            pairs.append(run_warm_pair(name, args, warm, evaluator))
        print_warm(pairs)
    print(f"\npeak RSS {peak_rss_mb():.0f} MB, load average {os.getloadavg()[0]:.2f}")
    if args.json_out:
        args.json_out.write_text(
            json.dumps({"cold": rows, "warm": pairs}, indent=2, default=str) + "\n"
        )


if __name__ == "__main__":
    main()
