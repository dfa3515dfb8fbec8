"""KGAT and CKE on the shared ml-100k-kg split, against RecBole's figures and simple baselines.

Usage::

    python benchmarks/kg_models.py [--models ease,mf,cke,kgat,kgat_paper] [--kg freebase|all]
        [--threads 2] [--set kgat.dropout=0.1] [--fit kgat.lr=1e-3] [--epochs N]
        [--timing-epochs 3] [--verbose] [--json rows.json]

Reads ``/work/shared/datasets/ml-100k-kg`` with ``read_recbole(folder, name="ml-100k")``
(``--kg freebase``: the Freebase KG only, ``item_features=[]``; ``--kg all``: plus the ``.item``
columns release year and genre as KG relations; user attributes are read in both cases and
become user -> attribute links) and the fixed split ``/work/shared/benchmarks/ml-100k-kg``.
Each model trains through ``Recommender(name)`` (its ``fit_defaults`` unless overridden) with
early stopping on valid NDCG@20 (patience 10); test is scored once with the best-valid weights.
``kgat_paper`` is KGAT with the paper's settings (3 layers, TransR on, dropout 0.1) at batch
2048 / lr 1e-3; ``kgat_recbole`` the configuration of RecBole's KGAT run (one layer of 64,
TransR on, dropout 0.1, batch 2048, lr 1e-3); ``kgat_b2048`` kgrec's defaults at batch 2048 /
lr 1e-3.

Printed per model: epochs (best), median s / epoch of the fit, median validation s, test
Recall@20 and NDCG@20, peak RSS; then ``--timing-epochs`` extra epochs timed without
validation, in wall and CPU seconds (for KGAT also at batch 2048, RecBole's batch size), and
the ratios against RecBole 1.2.1 on the same split (BENCHMARKS.md: KGAT 0.286 NDCG@20 at
13.65 s / epoch, CKE 0.279 at 6.28 s / epoch, BPR-MF 0.306 at 0.18 s) and EASE (0.348).
Wall times on a CPU shared with other jobs are inflated; the load average is printed, and
CPU seconds are the steadier figure. Model selection uses valid only.
"""

from __future__ import annotations

import os

# Before torch starts OpenMP: on a shared CPU, spin-waiting threads slow a 2-thread run by 10x
# or more (measured here: a toy fit took 109 s with the default policy, 1.1 s with PASSIVE).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import ast  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402

import kgrec.models.cke  # noqa: E402, F401  (registers "cke")
import kgrec.models.kgat  # noqa: E402, F401  (registers "kgat")
from kgrec.data.readers.recbole import read_recbole  # noqa: E402
from kgrec.data.split import load_split_files  # noqa: E402
from kgrec.recommender import Recommender  # noqa: E402
from kgrec.train import fit as fit_loop  # noqa: E402

#: RecBole 1.2.1 on this split, same kind of machine (BENCHMARKS.md): (NDCG@20, Recall@20, s / epoch)
RECBOLE = {
    "kgat": (0.286, 0.331, 13.65),
    "cke": (0.279, 0.325, 6.28),
    "mf": (0.306, 0.360, 0.18),
}
EASE_NDCG = 0.348
#: named variants: name -> (registered model, encoder hyper-parameters, fit options)
VARIANTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    # the paper's KGAT settings in the same code: TransR on, message dropout 0.1, and
    # BENCHMARKS.md's common batch 2048 / lr 1e-3
    "kgat_paper": ("kgat", {"kg_weight": 1.0, "dropout": 0.1}, {"batch_size": 2048, "lr": 1e-3}),
    # kgrec's defaults at the common batch size 2048 (lr 1e-3, as selected on valid)
    "kgat_b2048": ("kgat", {}, {"batch_size": 2048, "lr": 1e-3}),
    # the configuration of RecBole's KGAT run in BENCHMARKS.md: one layer of 64, TransR on,
    # message dropout 0.1, batch 2048, lr 1e-3 (the like-for-like time comparison)
    "kgat_recbole": (
        "kgat",
        {"layer_dims": (64,), "kg_weight": 1.0, "dropout": 0.1},
        {"batch_size": 2048, "lr": 1e-3},
    ),
}


def _parse_assignments(items: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, _, value = item.partition("=")
        model, _, name = key.partition(".")
        if not name or not _:
            raise SystemExit(f"expected MODEL.NAME=VALUE (got {item!r})")
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = value
        out.setdefault(model, {})[name] = parsed
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timing(rec: Recommender, split: Any, epochs: int, batch_size: int | None) -> dict[str, float]:
    """Wall and CPU seconds per training epoch of a copy of the fitted encoder (no validation),
    so the figure does not depend on when early stopping struck. CPU seconds (all threads)
    measure the work done; wall seconds also count waiting for a shared CPU."""
    enc = copy.deepcopy(rec.encoder)
    options = {**getattr(type(enc), "fit_defaults", {}), **rec.fit_options}
    options.pop("epochs", None)
    options.pop("patience", None)
    if batch_size is not None:
        options["batch_size"] = batch_size
    walls, cpus = [], []
    for _ in range(epochs):
        w, c = time.perf_counter(), time.process_time()
        fit_loop(enc, rec._graph, split.train, epochs=1, progress=False, **options)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return {
        "wall": statistics.median(walls),
        "cpu": statistics.median(cpus),
        "batch_size": options.get("batch_size", 2048),
    }


def run_model(
    name: str,
    split: Any,
    *,
    fit: dict[str, Any],
    hyper: dict[str, Any],
    seed: int,
    timing_epochs: int,
) -> dict[str, Any]:
    model, v_hyper, v_fit = VARIANTS.get(name, (name, {}, {}))
    hyper, fit = {**v_hyper, **hyper}, {**v_fit, **fit}
    torch.manual_seed(seed)
    rec = Recommender(
        model, seed=seed, patience=fit.pop("patience", 10), progress=False, **fit, **hyper
    )
    t0 = time.perf_counter()
    rec.fit(split.train, valid=split.valid)
    fit_s = time.perf_counter() - t0
    result = rec.evaluate(split.test)
    row: dict[str, Any] = {
        "model": name,
        "test_recall@20": result.mean["recall@20"],
        "test_ndcg@20": result.mean["ndcg@20"],
        "fit_s": fit_s,
        "peak_rss_mb": peak_rss_mb(),
        "hyper": hyper,
        "fit": fit,
    }
    hist = rec.history_
    if hist is not None and len(hist):
        row.update(
            epochs=len(hist),
            best_epoch=hist.attrs.get("best_epoch"),
            best_valid_ndcg20=hist.attrs.get("best_value"),
            s_per_epoch=statistics.median(hist["seconds"].tolist()),
            eval_s=statistics.median(hist["eval_seconds"].tolist())
            if "eval_seconds" in hist
            else None,
        )
        if timing_epochs:
            row["timing"] = timing(rec, split, timing_epochs, None)
            if model == "kgat" and row["timing"]["batch_size"] != 2048:
                row["timing_b2048"] = timing(rec, split, timing_epochs, 2048)
    return row


#: RecBole's model names and where its venv usually is (benchmarks/peers/setup_recbole.sh)
PEER_MODELS = {"kgat": "KGAT", "cke": "CKE"}
PEER_PYTHONS = ("/work/peers/recbole-venv/bin/python",)


def recbole_python(explicit: str | None) -> str | None:
    for candidate in (explicit, os.environ.get("KGREC_RECBOLE_PYTHON"), *PEER_PYTHONS):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def run_peer(python: str, model: str, *, epochs: int, threads: int) -> dict[str, Any] | None:
    """RecBole ``model`` for ``epochs`` epochs in its own venv (``benchmarks/peers/
    recbole_runner.py``), right before kgrec's run, so the time ratio is measured under the same
    load. Returns its JSON line plus the load average, or None when it fails."""
    load = os.getloadavg()[0]
    cmd = [python, "-m", "benchmarks.peers.recbole_runner", "--model", model, "--epochs", str(epochs),
           "--threads", str(threads)]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1]
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(
            f"peer RecBole {model} failed (rc {proc.returncode}): {proc.stderr[-500:]}", flush=True
        )
        return None
    out = json.loads(lines[-1])
    out["load_average"] = load
    out["process_cpu_s"] = cpu  # the whole run: imports, dataset, epochs, evaluations
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", default="/work/shared/datasets/ml-100k-kg")
    parser.add_argument("--split", default="/work/shared/benchmarks/ml-100k-kg")
    parser.add_argument("--models", default="ease,mf,cke,kgat,kgat_paper",
                        help=f"registered models or variants {sorted(VARIANTS)}")  # fmt: skip
    parser.add_argument("--timing-epochs", type=int, default=3,
                        help="extra epochs timed without validation (wall and CPU seconds)")  # fmt: skip
    parser.add_argument("--kg", choices=("freebase", "all"), default="freebase")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--epochs", type=int, default=None, help="epoch cap for every encoder")
    parser.add_argument("--set", action="append", default=[], metavar="MODEL.NAME=VALUE",
                        help="an encoder hyper-parameter, e.g. kgat.dropout=0.0")  # fmt: skip
    parser.add_argument("--fit", action="append", default=[], metavar="MODEL.NAME=VALUE",
                        help="a fit option (lr, reg_weight, batch_size, epochs, patience)")  # fmt: skip
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("--peer-epochs", type=int, default=0,
                        help="also time RecBole's KGAT / CKE for this many epochs right before "
                        "kgrec's run (needs RecBole's venv); 0: compare with BENCHMARKS.md only")  # fmt: skip
    parser.add_argument("--recbole-python", default=None, help="RecBole's python (default: "
                        "$KGREC_RECBOLE_PYTHON or /work/peers/recbole-venv/bin/python)")  # fmt: skip
    parser.add_argument("--verbose", action="store_true", help="log every epoch")
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(
            level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S"
        )
        logging.getLogger("kgrec.train").setLevel(logging.INFO)
    torch.set_num_threads(args.threads)
    hyper = _parse_assignments(args.set)
    fits = _parse_assignments(args.fit)

    t0 = time.perf_counter()
    features = [] if args.kg == "freebase" else None
    ds = read_recbole(args.data, name="ml-100k", item_features=features)
    folder = Path(args.split)
    split = load_split_files(
        folder / "train.tsv", folder / "valid.tsv", folder / "test.tsv", dataset=ds
    )
    print(
        f"data ({args.kg} KG): {ds}; user links {len(ds.user_links)}; split "
        f"{split.sizes() if hasattr(split, 'sizes') else ''}; read in {time.perf_counter() - t0:.1f} s; "
        f"torch {torch.__version__}, {args.threads} threads, OMP_WAIT_POLICY="
        f"{os.environ.get('OMP_WAIT_POLICY')}, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )

    rows = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        fit = dict(fits.get(name, {}))
        if args.epochs is not None and name not in ("ease", "itemknn", "pop", "random"):
            fit.setdefault("epochs", args.epochs)
        base = VARIANTS.get(name, (name,))[0]
        peer = None
        if args.peer_epochs and base in PEER_MODELS:
            python = recbole_python(args.recbole_python)
            if python is None:
                print("no RecBole venv found: comparing with BENCHMARKS.md only", flush=True)
            else:
                peer = run_peer(
                    python, PEER_MODELS[base], epochs=args.peer_epochs, threads=args.threads
                )
        load = os.getloadavg()[0]
        row = run_model(
            name, split, fit=fit, hyper=dict(hyper.get(name, {})), seed=args.seed,
            timing_epochs=args.timing_epochs,
        )  # fmt: skip
        row["load_average"] = load
        if peer is not None:
            row["peer"] = peer
        rows.append(row)
        line = f"{name:6s} (load {load:.1f}) test R@20 {row['test_recall@20']:.4f}  N@20 {row['test_ndcg@20']:.4f}"
        if "epochs" in row:
            line += (
                f"  epochs {row['epochs']} (best {row['best_epoch']}, valid N@20 "
                f"{row['best_valid_ndcg20']:.4f})  {row['s_per_epoch']:.2f} s/epoch  eval "
                f"{row['eval_s']:.2f} s"
            )
        line += f"  fit {row['fit_s']:.1f} s  peak RSS {row['peak_rss_mb']:.0f} MB"
        for key in ("timing", "timing_b2048"):
            if key in row:
                t = row[key]
                line += (
                    f"\n       timed epochs (batch {t['batch_size']}, no validation): "
                    f"{t['wall']:.2f} s wall, {t['cpu']:.2f} CPU-s ({args.threads} threads)"
                )
        if peer is not None:
            line += (
                f"\n       RecBole {PEER_MODELS[base]} timed just before (load {peer['load_average']:.1f}): "
                f"{peer['sec_per_epoch']:.2f} s/epoch over {peer['epochs']} epochs (its whole run: "
                f"{peer['process_cpu_s']:.0f} CPU-s incl. start-up, data and evaluations)"
            )
            for key in ("timing", "timing_b2048"):
                if key in row:
                    t = row[key]
                    line += f"; kgrec batch {t['batch_size']} wall x{t['wall'] / peer['sec_per_epoch']:.3f}"
        if base in RECBOLE:
            ndcg, _, secs = RECBOLE[base]
            line += f"\n       vs RecBole {base}: NDCG x{row['test_ndcg@20'] / ndcg:.3f}"
            if "s_per_epoch" in row:
                line += (
                    f", s/epoch x{row['s_per_epoch'] / secs:.3f} (RecBole {secs} s at batch 2048)"
                )
            for key in ("timing", "timing_b2048"):
                if key in row:
                    t = row[key]
                    line += f"; timed batch {t['batch_size']}: wall x{t['wall'] / secs:.3f}"
        line += f"; vs EASE NDCG x{row['test_ndcg@20'] / EASE_NDCG:.3f}"
        print(line, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
