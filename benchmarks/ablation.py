"""Ablation of the fit loop's composable techniques on the shared ml-100k-kg split.

Each technique is switched on alone on top of the plain model (MF, LightGCN, and KGAT when it
is registered), over ``--seeds`` seeds, and compared with the plain model of the same encoder:

- ``popularity`` (pop^0.75 negatives), ``dns`` (8 candidates), ``mixed`` (half DNS),
- ``curriculum`` (mixed sampler, hard fraction 0 -> 1 linearly over 20 epochs),
  ``self_paced`` (DNS candidates 1 -> 8, advancing on validation plateaus),
- ``pretrain_mf`` (LightGCN / KGAT only), ``pretrain_transe``, ``pretrain_transr`` (KG
  embeddings of the items; user rows = mean of their training items),
- ``lr_warmup_cosine`` (5 warm-up epochs, cosine decay),
- ``sgl`` (edge-dropout views, weight 0.02), ``simgcl`` (noise views on the output, weight
  0.01; see ``kgrec.scoring.contrastive`` for the deviation from the paper),
- ``softmax`` (the full softmax ranking loss instead of BPR, with the encoder's
  ``loss_fit_defaults``), ``softmax_d256`` (the same at embedding 256, a candidate
  for the best configuration rather than a like-for-like technique),
Technique settings (weights of the contrastive terms, DNS candidates, learning rates) were
chosen on valid NDCG@20 in short single-seed trials; the test part never chose anything.

Protocol (``shared/BENCHMARKS.md``): full ranking, train masked for validation and train + valid
for test, model selection on valid NDCG@20 every epoch with patience 10, test scored once with
the best-valid weights. Embedding 64; each encoder's own ``fit_defaults`` (chosen on valid by
its authors: MF lr 1e-3 / L2 1e-2, LightGCN lr 1e-2 / L2 1e-3, KGAT lr 2e-3 / batch 4096;
batch 2048 otherwise), epoch cap ``--epochs``. KGAT (about 15-35 s per epoch on a shared
2-core machine) is included when registered; pass ``--models mf lightgcn`` to leave it out.

Significance: ``kgrec.evaluate.paired_test`` (paired t-test, Wilcoxon) on the per-user test
NDCG@20 **averaged over the seeds** (each user's mean over seeds for the technique vs for the
plain model; 943 pairs whatever the number of seeds). This asks whether the technique is better
for the users on average over training randomness; it does not inflate n by pooling seeds.

Fusion: the best configuration of each model family (by mean valid NDCG@20, never test) plus
EASE (l2 = 500) and ItemKNN (k = 200) are candidates; the three best by valid NDCG@20 are fused
per seed (``kgrec.fusion.FusedRecommender``: z-scored linear weights tuned on valid by
coordinate ascent, and weight-free RRF), and compared with the best single candidate. A last
row fuses the same three once, each encoder member being the mean of its runs over all seeds
(what a deployment that trains every seed would serve).

Usage (from the repository root)::

    .venv/bin/python benchmarks/ablation.py --seeds 5 --workers 1
    .venv/bin/python benchmarks/ablation.py --seeds 2 --models mf lightgcn --techniques plain dns sgl
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared"

#: technique -> (models it applies to or None for all, Recommender keyword arguments)
TECHNIQUES: dict[str, tuple[tuple[str, ...] | None, dict[str, Any]]] = {
    "plain": (None, {}),
    "popularity": (None, {"sampler": {"name": "popularity", "alpha": 0.75}}),
    "dns": (None, {"sampler": {"name": "dns", "num_candidates": 8}}),
    "mixed": (None, {"sampler": {"name": "mixed", "num_candidates": 8, "hard_fraction": 0.5}}),
    "curriculum": (None, {"sampler": {"name": "mixed", "num_candidates": 8},
                          "curriculum": {"name": "linear", "start": 0.0, "end": 1.0, "epochs": 20}}),
    "self_paced": (None, {"sampler": {"name": "dns", "num_candidates": 8},
                          "curriculum": {"name": "self_paced", "patience": 2}}),
    "pretrain_mf": (("lightgcn", "kgat"), {"pretrain": {"name": "mf", "lr": 1e-3}}),
    "pretrain_transe": (None, {"pretrain": {"name": "transe", "epochs": 5, "eval_triples": 200}}),
    "pretrain_transr": (None, {"pretrain": {"name": "transr", "epochs": 3, "eval_triples": 200}}),
    "lr_warmup_cosine": (None, {"lr_schedule": {"name": "cosine", "warmup_epochs": 5, "total_epochs": 120}}),
    "sgl": (None, {"augment": {"name": "sgl", "weight": 0.02, "temperature": 0.2, "drop_ratio": 0.1}}),
    "simgcl": (None, {"augment": {"name": "simgcl", "weight": 0.01, "temperature": 0.2, "eps": 0.1}}),
    "softmax": (None, {"loss": "softmax"}),
    "softmax_d256": (None, {"loss": "softmax", "embedding_dim": 256}),
}  # fmt: skip

#: per-model fit settings on top of the encoder's own ``fit_defaults`` (selected on valid
#: NDCG@20 by the model's authors: MF lr 1e-3 / L2 1e-2, LightGCN lr 1e-2 / L2 1e-3, KGAT
#: lr 2e-3 / batch 4096): the plain model is the project's default model
BASE: dict[str, dict[str, Any]] = {"mf": {}, "lightgcn": {}, "kgat": {}}

_DATA: dict[str, Any] = {}


def load_split(data_root: Path) -> Any:
    from kgrec.data.readers.recbole import read_recbole
    from kgrec.data.split import load_split_files

    ds = read_recbole(
        data_root / "datasets" / "ml-100k-kg", name="ml-100k", item_features=[], user_features=[]
    )
    b = data_root / "benchmarks" / "ml-100k-kg"
    return load_split_files(b / "train.tsv", b / "valid.tsv", b / "test.tsv", dataset=ds)


def _init_worker(threads: int, data_root: Path) -> None:
    torch.set_num_threads(threads)
    if "split" not in _DATA:  # a spawned worker (CUDA) starts without the parent's data
        _DATA["split"] = load_split(data_root)


def _run_key(task: dict[str, Any]) -> str:
    """File stem of a run in the cache: model, technique, seed and a hash of its settings
    (the encoder's own fit defaults included, so changing them invalidates its cached runs)."""
    import hashlib

    from kgrec.models import get_encoder

    cls = get_encoder(task["model"])
    settings = {
        **BASE.get(task["model"], {}),
        **TECHNIQUES[task["technique"]][1],
        "epochs": task["epochs"],
        "defaults": [cls.fit_defaults, cls.loss_fit_defaults],
    }
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return f"{task['model']}-{task['technique']}-{task['seed']}-{digest}"


def run_one(task: dict[str, Any]) -> dict[str, Any]:
    """Fit one (model, technique, seed); return metrics, per-user test values, embedding file.

    A run already in the cache folder (same model, technique, seed and settings) is loaded, not
    fitted again, so a long ablation can be run in several short invocations.
    """
    from kgrec.recommender import Recommender

    split = _DATA["split"]
    model, tech, seed = task["model"], task["technique"], task["seed"]
    stem = Path(task["emb_dir"]) / _run_key(task)
    if stem.with_suffix(".json").exists():
        cached = json.loads(stem.with_suffix(".json").read_text())
        per_user = pd.read_csv(stem.with_suffix(".csv"), index_col="user")
        return {**task, **cached, "per_user": per_user, "cached": True}
    if task.get("deadline") and time.perf_counter() > task["deadline"]:
        return {**task, "skipped": True}
    kwargs = {**BASE.get(model, {}), **TECHNIQUES[tech][1], "epochs": task["epochs"]}
    with tempfile.TemporaryDirectory() as run_dir:
        t0 = time.perf_counter()
        try:
            rec = Recommender(
                model, seed=seed, progress=False, run_dir=run_dir, device=task["device"], **kwargs
            )
            rec.fit(split.train, valid=split.valid)
        except Exception as exc:  # report, keep the table going
            return {**task, "error": f"{type(exc).__name__}: {exc}"}
        fit_s = time.perf_counter() - t0
    hist = rec.history_
    test = rec.evaluate(split.test, ks=(20,), metrics=("ndcg", "recall"))
    user_emb, item_emb = rec._embeddings()
    torch.save({"user": user_emb.cpu(), "item": item_emb.cpu()}, stem.with_suffix(".pt"))
    out = {
        "valid_ndcg@20": float(hist.attrs["best_value"]),
        "test_ndcg@20": float(test.mean["ndcg@20"]),
        "test_recall@20": float(test.mean["recall@20"]),
        "epochs_run": int(len(hist)),
        "best_epoch": int(hist.attrs["best_epoch"]),
        "fit_s": fit_s,
        "s_per_epoch": float(np.median(hist["seconds"])),
        "emb": str(stem.with_suffix(".pt")),
    }
    per_user = test.per_user[["ndcg@20", "recall@20"]]
    per_user.rename_axis("user").to_csv(stem.with_suffix(".csv"))
    stem.with_suffix(".json").write_text(json.dumps(out) + "\n")
    return {**task, **out, "per_user": per_user}


class EmbeddingMember:
    """A fitted encoder reduced to its embeddings (what the MF head scores with).

    Several runs (seeds) give the mean of their scores: ``mean_s <u_s, i_s>`` is the inner
    product of the concatenated tables, the user side divided by the number of runs.
    """

    def __init__(self, paths: list[str], train: Any, seen: list[Any]) -> None:
        embs = [torch.load(p, weights_only=True) for p in paths]
        self.user = torch.cat([e["user"] for e in embs], 1) / len(embs)
        self.item = torch.cat([e["item"] for e in embs], 1)
        self.train_data = train
        self._seen = seen

    def score_users(self, users: torch.Tensor) -> torch.Tensor:
        return self.user[users] @ self.item.T


def _result(per_user: pd.DataFrame, mean: dict[str, float]) -> Any:
    from kgrec.evaluate import EvalResult

    return EvalResult(mean=mean, per_user=per_user, num_users=len(per_user))


def seed_mean(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames).groupby(level=0).mean()


def fmt(x: float | None, nd: int = 4) -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{nd}f}"


def fmt_p(p: float) -> str:
    return "-" if p is None or np.isnan(p) else (f"{p:.1e}" if p < 1e-3 else f"{p:.3f}")


def main() -> None:
    from kgrec.evaluate import paired_test
    from kgrec.models import ENCODERS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=2026)
    parser.add_argument(
        "--models", nargs="+", default=None, help="default: mf lightgcn (+ kgat if registered)"
    )
    parser.add_argument(
        "--techniques", nargs="+", default=list(TECHNIQUES), choices=list(TECHNIQUES)
    )
    parser.add_argument(
        "--epochs", type=int, default=300, help="epoch cap (patience 10 stops earlier)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="parallel processes (one heavy job: keep 1 on 2 cores)",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads per process")
    parser.add_argument(
        "--device",
        default="cpu",
        help="where encoders train: cpu, cuda, cuda:N (runs cached on another device are reused)",
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        default=DEFAULT_DATA,
        help="folder holding datasets/ and benchmarks/",
    )
    parser.add_argument(
        "--time-budget",
        type=float,
        default=None,
        help="seconds; runs not started by then are skipped",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="keep each run here and reuse it on the next invocation (run in parts)",
    )
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    if args.models and "kgat" in args.models and "kgat" not in ENCODERS:
        try:  # asked for explicitly: import it even where kgrec.models does not (yet)
            import kgrec.models.kgat  # noqa: F401
        except ImportError as exc:
            print(f"cannot import kgrec.models.kgat: {exc}", file=sys.stderr)
    models = args.models or ["mf", "lightgcn"] + (["kgat"] if "kgat" in ENCODERS else [])
    missing = [m for m in models if m not in ENCODERS]
    if missing:
        print(
            f"skipping unregistered models {missing} (registered: {sorted(ENCODERS)})",
            file=sys.stderr,
        )
        models = [m for m in models if m in ENCODERS]
    techniques = ["plain"] + [t for t in args.techniques if t != "plain"]
    seeds = [args.first_seed + k for k in range(args.seeds)]
    t_start = time.perf_counter()
    split = load_split(args.data_root)
    _DATA["split"] = split
    emb_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="kgrec-ablation-"))
    emb_dir.mkdir(parents=True, exist_ok=True)
    tasks = [
        {
            "model": m, "technique": t, "seed": s, "epochs": args.epochs, "emb_dir": str(emb_dir),
            "device": args.device,
        }  # fmt: skip
        for m in models
        for t in techniques
        if TECHNIQUES[t][0] is None or m in TECHNIQUES[t][0]
        for s in seeds
    ]
    # seed by seed (a time budget leaves whole seeds), the slowest first within a seed
    cost = {"sgl": 3.0, "pretrain_mf": 1.5, "pretrain_transr": 1.5, "dns": 1.2, "self_paced": 1.2}
    model_cost = {"kgat": 20.0, "lightgcn": 3.0}
    tasks.sort(
        key=lambda t: (t["seed"], -cost.get(t["technique"], 1.0) * model_cost.get(t["model"], 1.0))
    )
    deadline = t_start + args.time_budget if args.time_budget else None
    for t in tasks:
        t["deadline"] = deadline
    print(f"{len(tasks)} runs: models {models}, techniques {techniques}, seeds {seeds}, "
          f"{args.workers} worker(s) x {args.threads} threads on {args.device}", file=sys.stderr,
          flush=True)  # fmt: skip
    results: list[dict[str, Any]] = []
    if args.workers > 1:
        # CUDA cannot be used in a forked child once the parent touched it: spawn there
        ctx = mp.get_context("spawn" if torch.device(args.device).type == "cuda" else "fork")
        init = (args.threads, args.data_root)
        with ctx.Pool(args.workers, initializer=_init_worker, initargs=init) as pool:
            for r in pool.imap_unordered(run_one, tasks):
                results.append(r)
                _progress(r, len(results), len(tasks), t_start)
    else:
        for task in tasks:
            r = run_one(task)
            results.append(r)
            _progress(r, len(results), len(tasks), t_start)
    skipped = [r for r in results if r.get("skipped")]
    results = [r for r in results if not r.get("skipped")]
    # a seed counts only where every run of it finished (so all rows compare the same seeds)
    done_seeds = [
        s
        for s in seeds
        if sum(r["seed"] == s for r in results) == sum(t["seed"] == s for t in tasks)
    ]
    if skipped:
        print(
            f"time budget reached: {len(skipped)} runs not started; complete seeds: {done_seeds}",
            file=sys.stderr,
        )
        results = [r for r in results if r["seed"] in done_seeds]
        seeds = done_seeds

    # ---------------------------------------------------------------- baselines
    from kgrec.recommender import Recommender

    baselines = {
        "ease": Recommender("ease", l2=500.0).fit(split.train, valid=split.valid),
        "itemknn": Recommender("itemknn", k=200).fit(split.train, valid=split.valid),
    }
    base_rows = {}
    for name, rec in baselines.items():
        v = rec.evaluate(split.valid, exclude=[split.train], ks=(20,), metrics=("ndcg", "recall"))
        t = rec.evaluate(split.test, ks=(20,), metrics=("ndcg", "recall"))
        base_rows[name] = {"valid": v.mean["ndcg@20"], "test": t, "rec": rec}

    # ---------------------------------------------------------------- the ablation table
    ok = [r for r in results if "error" not in r]
    errors = [r for r in results if "error" in r]
    by = {}
    for r in ok:
        by.setdefault((r["model"], r["technique"]), []).append(r)
    rows, summary = [], {}
    for m in models:
        plain = by.get((m, "plain"), [])
        plain_users = seed_mean([r["per_user"] for r in plain]) if plain else None
        for t in techniques:
            runs = sorted(by.get((m, t), []), key=lambda r: r["seed"])
            if not runs:
                continue
            users = seed_mean([r["per_user"] for r in runs])
            nd = np.array([r["test_ndcg@20"] for r in runs])
            rc = np.array([r["test_recall@20"] for r in runs])
            va = float(np.mean([r["valid_ndcg@20"] for r in runs]))
            delta = p_t = p_w = float("nan")
            if plain and t != "plain":
                delta = float(nd.mean() - np.mean([r["test_ndcg@20"] for r in plain]))
                test = paired_test(_result(users, {}), _result(plain_users, {}), "ndcg@20")
                p_t, p_w = test["t_pvalue"], test["wilcoxon_pvalue"]
            summary[(m, t)] = {"valid": va, "test": float(nd.mean()), "users": users, "runs": runs}
            rows.append([
                m, t, str(len(runs)), fmt(va), f"{nd.mean():.4f} ± {nd.std(ddof=1) if len(nd) > 1 else 0:.4f}",
                fmt(float(rc.mean())), ("-" if np.isnan(delta) else f"{delta:+.4f}"), fmt_p(p_t), fmt_p(p_w),
                f"{np.mean([r['epochs_run'] for r in runs]):.0f}", f"{np.mean([r['s_per_epoch'] for r in runs]):.2f}",
                f"{np.mean([r['fit_s'] for r in runs]):.0f}",
            ])  # fmt: skip
    header = ["model", "technique", "seeds", "valid N@20", "test N@20 (mean ± sd)", "test R@20",
              "Δ N@20 vs plain", "p (t)", "p (Wilcoxon)", "epochs", "s/epoch", "fit s"]  # fmt: skip
    print_table(
        "== ablation: each technique alone on top of the plain model (test scored once, best-valid weights) ==",
        header,
        rows,
    )
    print(
        "p-values: paired tests on per-user test NDCG@20 averaged over the seeds (943 users), technique vs plain."
    )
    brow = [
        [n, fmt(b["valid"]), fmt(b["test"].mean["ndcg@20"]), fmt(b["test"].mean["recall@20"])]
        for n, b in base_rows.items()
    ]
    print_table(
        "== closed-form baselines (deterministic) ==",
        ["model", "valid N@20", "test N@20", "test R@20"],
        brow,
    )

    # ---------------------------------------------------------------- fusion
    candidates: dict[str, dict[str, Any]] = {}
    for m in models:
        best = max(
            (k for k in summary if k[0] == m), key=lambda k: summary[k]["valid"], default=None
        )
        if best is not None:
            candidates[f"{m}:{best[1]}"] = {"valid": summary[best]["valid"], "key": best}
    for n, b in base_rows.items():
        candidates[n] = {"valid": b["valid"], "baseline": n}
    ranked = sorted(candidates, key=lambda c: -candidates[c]["valid"])
    top3 = ranked[:3]
    best_single = ranked[0]
    shown = ", ".join(f"{c} {candidates[c]['valid']:.4f}" for c in ranked)
    print(f"\nfusion candidates (best configuration per model, baselines) by valid N@20: {shown}")
    fusion_rows = []
    fusion_out: dict[str, Any] = {
        "candidates": {c: candidates[c]["valid"] for c in ranked},
        "top3": top3,
    }
    best_users = _candidate_users(candidates[best_single], summary, base_rows)
    for label, names, method in (("fusion top-3 (linear, z-score, tuned on valid)", top3, "linear"),
                                 ("fusion top-3 (RRF, k=60)", top3, "rrf"),
                                 ("fusion all candidates (linear)", ranked, "linear")):  # fmt: skip
        per_seed, frames, weights = [], [], []
        for s in seeds:
            fused = _fuse(names, candidates, summary, base_rows, split, seed=s, method=method)
            res = fused.evaluate(split.test, ks=(20,), metrics=("ndcg", "recall"))
            per_seed.append((res.mean["ndcg@20"], res.mean["recall@20"]))
            frames.append(res.per_user[["ndcg@20", "recall@20"]])
            weights.append(fused.weights)
        users = seed_mean(frames)
        test = paired_test(_result(users, {}), _result(best_users, {}), "ndcg@20")
        nd = np.array([p[0] for p in per_seed])
        w = np.mean(np.array(weights), 0)
        fusion_rows.append([label, " + ".join(names), f"{nd.mean():.4f} ± {nd.std(ddof=1) if len(nd) > 1 else 0:.4f}",
                            fmt(float(np.mean([p[1] for p in per_seed]))), f"{test['mean_diff']:+.4f}",
                            fmt_p(test["t_pvalue"]), fmt_p(test["wilcoxon_pvalue"]),
                            ", ".join(f"{x:.2f}" for x in w)])  # fmt: skip
        fusion_out[label] = {"test_ndcg@20": float(nd.mean()), "weights": w.tolist()}
    # every seed of an encoder member as one model (the mean of its seeds' scores), then fused
    for label, names in ((f"fusion top-3, encoders averaged over {len(seeds)} seeds (linear)", top3),
                         (f"fusion all, encoders averaged over {len(seeds)} seeds (linear)", ranked)):  # fmt: skip
        fused = _fuse(names, candidates, summary, base_rows, split, seed=seeds[0], method="linear", all_seeds=True)
        res = fused.evaluate(split.test, ks=(20,), metrics=("ndcg", "recall"))
        test = paired_test(_result(res.per_user[["ndcg@20", "recall@20"]], {}), _result(best_users, {}), "ndcg@20")
        fusion_rows.append([label, " + ".join(names), fmt(res.mean["ndcg@20"]), fmt(res.mean["recall@20"]),
                            f"{test['mean_diff']:+.4f}", fmt_p(test["t_pvalue"]), fmt_p(test["wilcoxon_pvalue"]),
                            ", ".join(f"{x:.2f}" for x in fused.weights)])  # fmt: skip
        fusion_out[label] = {"test_ndcg@20": float(res.mean["ndcg@20"]), "weights": list(map(float, fused.weights))}
    best_test = _candidate_test(candidates[best_single], summary, base_rows)
    fusion_rows.append(
        [
            f"best single by valid: {best_single}",
            best_single,
            fmt(best_test),
            "-",
            "-",
            "-",
            "-",
            "-",
        ]
    )
    print_table("== fusion vs the best single model (per seed; p: paired tests on seed-averaged per-user NDCG@20) ==",
                ["fusion", "members", "test N@20", "test R@20", "Δ vs best single", "p (t)", "p (Wilcoxon)", "mean weights"],
                fusion_rows)  # fmt: skip
    ease = base_rows["ease"]["test"].mean["ndcg@20"]
    all_kgrec = {f"{k[0]}:{k[1]}": v["test"] for k, v in summary.items()}
    best_cfg = max(all_kgrec, key=all_kgrec.get) if all_kgrec else None
    best_fused = max(
        fusion_out[lbl]["test_ndcg@20"] for lbl in fusion_out if lbl.startswith("fusion")
    )
    print(f"\nEASE test N@20 {ease:.4f}; target (+5%) {1.05 * ease:.4f}. Best single kgrec configuration "
          f"(by test, for the record only) {best_cfg} {all_kgrec.get(best_cfg, float('nan')):.4f} "
          f"({all_kgrec.get(best_cfg, float('nan')) / ease - 1:+.1%}); best fusion {best_fused:.4f} ({best_fused / ease - 1:+.1%}).")  # fmt: skip
    if errors:
        print("\nerrors:")
        for r in errors:
            print(f"  {r['model']} {r['technique']} seed {r['seed']}: {r['error']}")
    print(f"total wall time {time.perf_counter() - t_start:.0f} s")
    if args.json_out:
        plain_results = [{k: v for k, v in r.items() if k != "per_user"} for r in results]
        args.json_out.write_text(
            json.dumps({"runs": plain_results, "fusion": fusion_out}, indent=2, default=float)
            + "\n"
        )


def _candidate_users(
    cand: dict[str, Any], summary: dict[Any, Any], base_rows: dict[str, Any]
) -> pd.DataFrame:
    if "baseline" in cand:
        return base_rows[cand["baseline"]]["test"].per_user[["ndcg@20", "recall@20"]]
    return summary[cand["key"]]["users"]


def _candidate_test(
    cand: dict[str, Any], summary: dict[Any, Any], base_rows: dict[str, Any]
) -> float:
    if "baseline" in cand:
        return float(base_rows[cand["baseline"]]["test"].mean["ndcg@20"])
    return float(summary[cand["key"]]["test"])


def _fuse(names: list[str], candidates: dict[str, Any], summary: dict[Any, Any], base_rows: dict[str, Any],
          split: Any, *, seed: int, method: str, all_seeds: bool = False) -> Any:  # fmt: skip
    """Fuse the named candidates: an encoder member is its run of ``seed``, or with
    ``all_seeds`` the mean of every seed's scores (one member)."""
    from kgrec.fusion import FusedRecommender

    members = []
    for name in names:
        cand = candidates[name]
        if "baseline" in cand:
            members.append(base_rows[cand["baseline"]]["rec"])
        else:
            runs = summary[cand["key"]]["runs"]
            paths = [r["emb"] for r in runs] if all_seeds else [next(r["emb"] for r in runs if r["seed"] == seed)]
            members.append(EmbeddingMember(paths, split.train, [split.train, split.valid]))
    return FusedRecommender(members, method=method, ks=(20,), seed=seed).fit(split.valid)  # type: ignore[arg-type]


def _progress(r: dict[str, Any], done: int, total: int, t0: float) -> None:
    if r.get("skipped") or r.get("cached"):
        return
    if "error" in r:
        msg = f"ERROR {r['error']}"
    else:
        msg = (f"valid {r['valid_ndcg@20']:.4f} test {r['test_ndcg@20']:.4f} "
               f"({r['epochs_run']} ep, best {r['best_epoch']}, {r['fit_s']:.0f} s)")  # fmt: skip
    print(f"[{done}/{total} {time.perf_counter() - t0:.0f}s] {r['model']} {r['technique']} seed {r['seed']}: {msg}",
          file=sys.stderr, flush=True)  # fmt: skip


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    print(f"\n{title}")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
