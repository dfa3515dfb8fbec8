"""kgrec against RecBole 1.2.1 on the shared ml-100k-kg split: quality, speed and memory ratios.

Usage (from the repository root)::

    python benchmarks/peer_compare.py                       # mf, lightgcn + references
    python benchmarks/peer_compare.py --models mf lightgcn kgat cke --epochs-cap 60
    python benchmarks/peer_compare.py --skip-peer           # kgrec only
    KGREC_RECBOLE_PYTHON=/path/to/recbole-venv/bin/python python benchmarks/peer_compare.py

For each model, kgrec runs first and RecBole second, one process at a time (2 CPU cores, torch
with 2 threads each): ``python -m benchmarks.peers.kgrec_runner`` in kgrec's environment, then
``benchmarks/peers/recbole_runner.py`` with RecBole's python (``--recbole-python``, default the
``KGREC_RECBOLE_PYTHON`` environment variable; without it the peer is skipped with a message).
Each prints one JSON line; this script prints one table per model with kgrec, RecBole and
kgrec/RecBole for test Recall@20 and NDCG@20 (higher is better), seconds per epoch, validation
seconds, fit wall time and peak RSS (lower is better). Then:

- reference rows for kgrec's closed-form / count baselines (EASE, ItemKNN, MostPop; no peer
  run) against the BENCHMARKS.md figures (NDCG@20 0.348 / 0.307 / 0.156);
- one full evaluation pass on kgrec's LightGCN embeddings: the all-users x all-items matmul +
  top-20 bound against kgrec's evaluator, as a ratio to the bound.

Early stopping: kgrec with ``--patience`` (default 10), RecBole with ``stopping_step =
--peer-patience`` (default: the same); ``--epochs-cap`` caps both (default 300, both tools'
default). Absolute times drift with the machine's load: compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECBOLE_RUNNER = REPO / "benchmarks" / "peers" / "recbole_runner.py"
DEFAULT_SPLIT = "/work/shared/benchmarks/ml-100k-kg"
DEFAULT_KG = "/work/shared/datasets/ml-100k-kg"

#: kgrec encoder name -> RecBole model name
PEER_MODEL = {"mf": "BPR", "lightgcn": "LightGCN", "kgat": "KGAT", "cke": "CKE"}
#: closed-form / count references: BENCHMARKS.md test Recall@20, NDCG@20 (no peer run)
REFERENCES = {"ease": (0.392, 0.348), "itemknn": (0.355, 0.307), "pop": (0.179, 0.156)}
REFERENCE_LABEL = {"ease": "EASE (l2=500)", "itemknn": "ItemKNN (cosine, k=200)", "pop": "MostPop"}
#: BENCHMARKS.md RecBole figures (test NDCG@20) for orientation in the summary
PUBLISHED_PEER_NDCG = {"mf": 0.306, "lightgcn": 0.231, "kgat": 0.286, "cke": 0.279}


# ---------------------------------------------------------------------- subprocesses
def _clean_env() -> dict[str, str]:
    """The environment without this venv's variables, so neither side's packages leak."""
    env = dict(os.environ)
    for key in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CONDA_PREFIX"):
        env.pop(key, None)
    return env


def _last_json(stdout: str) -> dict | None:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def run_json(cmd: list[str], *, cwd: Path, label: str, timeout: float | None) -> dict:
    """Run ``cmd`` (stderr passes through), return its last JSON stdout line (+ wall, rc)."""
    print(f"$ {' '.join(cmd)}    [loadavg {os.getloadavg()[0]:.2f}]", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, env=_clean_env(), stdout=subprocess.PIPE, text=True, timeout=timeout
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"error": f"{label}: timed out after {timeout} s"}
    wall = time.perf_counter() - t0
    result = _last_json(proc.stdout)
    if result is None:
        tail = "\n".join(proc.stdout.strip().splitlines()[-5:])
        return {"error": f"{label}: exit {proc.returncode}, no JSON result line. {tail}"}
    result.setdefault("returncode", proc.returncode)
    if proc.returncode != 0 and "error" not in result:
        result["error"] = f"{label}: exit {proc.returncode}"
    result["process_wall_sec"] = round(wall, 3)
    return result


def run_kgrec(model: str, args: argparse.Namespace, *, eval_pass: bool = False) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.peers.kgrec_runner", "--model", model,
           "--split", args.split, "--kg", args.kg, "--threads", str(args.threads)]  # fmt: skip
    if model not in REFERENCES:
        cmd += ["--epochs", str(args.epochs_cap), "--patience", str(args.patience)]
        for key, flag in (("kgrec_lr", "--lr"), ("kgrec_reg", "--reg")):
            if getattr(args, key) is not None:
                cmd += [flag, str(getattr(args, key))]
        for item in args.kgrec_hyper:
            cmd += ["--hyper", item]
    if eval_pass:
        cmd.append("--eval-pass")
    return run_json(cmd, cwd=REPO, label=f"kgrec {model}", timeout=args.timeout)


def run_recbole(model: str, args: argparse.Namespace) -> dict:
    peer = PEER_MODEL[model]
    cmd = [args.recbole_python, str(RECBOLE_RUNNER), "--model", peer, "--split", args.split,
           "--kg", args.kg, "--epochs", str(args.epochs_cap), "--stopping-step",
           str(args.peer_patience), "--threads", str(args.threads)]  # fmt: skip
    return run_json(cmd, cwd=REPO, label=f"RecBole {peer}", timeout=args.timeout)


# ---------------------------------------------------------------------- formatting
def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ratio(a, b) -> str:
    if a is None or b is None or not b:
        return "-"
    return f"{a / b:.2f}"


def _epochs(r: dict) -> str | None:
    if r.get("epochs") is None:
        return None
    best = r.get("best_epoch")
    return f"{r['epochs']} ({best})" if best is not None else str(r["epochs"])


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=False)) + " |"
    print(f"\n{title}")
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) + " |")


def model_table(model: str, k: dict, p: dict | None, peer_note: str | None) -> None:
    peer = PEER_MODEL[model]
    p = p or {}
    rows = []
    spec = [
        ("test Recall@20", "test_recall@20", 4, "higher"),
        ("test NDCG@20", "test_ndcg@20", 4, "higher"),
        ("best valid NDCG@20", "best_valid_ndcg@20", 4, "higher"),
        ("seconds / epoch (median)", "sec_per_epoch", 3, "lower"),
        ("valid eval seconds (median)", "valid_eval_sec", 3, "lower"),
        ("test eval seconds", "test_eval_sec", 3, "lower"),
        ("fit wall seconds", "fit_sec", 1, "lower"),
        ("peak RSS MB", "peak_rss_mb", 0, "lower"),
    ]
    rows.append(["epochs (best, 0-based)", _fmt(_epochs(k)), _fmt(_epochs(p)), "-"])
    for label, key, digits, _better in spec:
        rows.append([label, _fmt(k.get(key), digits), _fmt(p.get(key), digits), _ratio(k.get(key), p.get(key))])
    title = f"== {model}: kgrec vs RecBole 1.2.1 {peer} =="
    if peer_note:
        title += f"  ({peer_note})"
    print_table(title, ["", "kgrec", f"RecBole {peer}", "kgrec/RecBole"], rows)
    if k.get("config"):
        print(f"kgrec config: {json.dumps(k['config'])}")


def eval_pass_table(k: dict, p: dict | None) -> None:
    ep = k.get("eval_pass")
    if not ep:
        return
    bound = ep["bound_ms"]
    rows = [
        ["bound: all users x all items matmul + top-20", f"{bound:.2f}", "1.00"],
        ["bound + train-item mask", f"{ep['bound_masked_ms']:.2f}", _ratio(ep["bound_masked_ms"], bound)],
        [
            f"kgrec FullRankingEvaluator (fit loop's: ks {ep['evaluator_ks']}, {len(ep['evaluator_metrics'])} metrics)",
            f"{ep['evaluator_ms']:.2f}",
            _ratio(ep["evaluator_ms"], bound),
        ],
        ["kgrec FullRankingEvaluator (ks [20], recall + ndcg)", f"{ep['evaluator_lean_ms']:.2f}", _ratio(ep["evaluator_lean_ms"], bound)],
        ["LightGCN forward (inference, 3 layers)", f"{ep['forward_ms']:.2f}", _ratio(ep["forward_ms"], bound)],
    ]
    if k.get("valid_eval_sec") is not None:
        ms = 1e3 * k["valid_eval_sec"]
        rows.append(["kgrec fit loop: valid eval per epoch (median, incl. forward)", f"{ms:.2f}", _ratio(ms, bound)])
    if p and p.get("valid_eval_sec") is not None:
        ms = 1e3 * p["valid_eval_sec"]
        rows.append(["RecBole LightGCN: valid eval per epoch (median)", f"{ms:.2f}", _ratio(ms, bound)])
    print_table(
        f"== full evaluation pass on kgrec LightGCN embeddings ({ep['users']} users x {ep['items']} items; "
        f"{ep['valid_users']} valid users) ==",
        ["pass", "ms (median)", "x bound"],
        rows,
    )


def reference_table(results: dict[str, dict]) -> None:
    rows = []
    for name, r in results.items():
        ref_recall, ref_ndcg = REFERENCES[name]
        if r.get("error"):
            rows.append([REFERENCE_LABEL[name], r["error"], "", "", "", "", "", ""])
            continue
        rows.append(
            [
                REFERENCE_LABEL[name],
                _fmt(r.get("fit_sec"), 2),
                _fmt(r.get("test_recall@20"), 4),
                _fmt(ref_recall, 3),
                _fmt(r.get("test_ndcg@20"), 4),
                _fmt(ref_ndcg, 3),
                _ratio(r.get("test_ndcg@20"), ref_ndcg),
                _fmt(r.get("peak_rss_mb"), 0),
            ]
        )
    print_table(
        "== reference rows: kgrec closed-form / count baselines vs BENCHMARKS.md figures (no peer run) ==",
        ["model", "fit s", "test R@20", "BENCH R@20", "test N@20", "BENCH N@20", "N@20 ratio", "peak RSS MB"],
        rows,
    )


# ---------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mf", "lightgcn"], help=f"from {sorted(PEER_MODEL)}")
    parser.add_argument("--references", nargs="*", default=list(REFERENCES), help=f"from {sorted(REFERENCES)}; none: skip")
    parser.add_argument("--epochs-cap", type=int, default=300)
    parser.add_argument("--patience", type=int, default=10, help="kgrec early-stopping patience")
    parser.add_argument("--peer-patience", type=int, default=None, help="RecBole stopping_step (default: --patience)")
    parser.add_argument("--skip-peer", action="store_true", help="run kgrec only")
    parser.add_argument("--recbole-python", default=os.environ.get("KGREC_RECBOLE_PYTHON"),
                        help="python of RecBole's venv (default: $KGREC_RECBOLE_PYTHON)")  # fmt: skip
    parser.add_argument("--split", default=DEFAULT_SPLIT)
    parser.add_argument("--kg", default=DEFAULT_KG, help="RecBole folder of ml-100k-kg (.inter/.kg/.link)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--kgrec-lr", type=float, default=None, help="override kgrec's lr")
    parser.add_argument("--kgrec-reg", type=float, default=None, help="override kgrec's reg_weight")
    parser.add_argument("--kgrec-hyper", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per subprocess")
    parser.add_argument("--json-out", default=None, help="also write every raw result to this JSON file")
    args = parser.parse_args()
    if args.peer_patience is None:
        args.peer_patience = args.patience
    unknown = [m for m in args.models if m not in PEER_MODEL]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {sorted(PEER_MODEL)}")
    unknown = [m for m in args.references if m not in REFERENCES]
    if unknown:
        parser.error(f"unknown reference(s) {unknown}; choose from {sorted(REFERENCES)}")
    if not Path(args.split, "train.tsv").is_file():
        sys.exit(f"no shared split at {args.split} (expected train/valid/test.tsv); pass --split")

    peer_skip = None
    if args.skip_peer:
        peer_skip = "skipped (--skip-peer)"
    elif not args.recbole_python:
        peer_skip = "skipped: no RecBole python (pass --recbole-python or set KGREC_RECBOLE_PYTHON; see benchmarks/peers/setup_recbole.sh)"
    elif not os.access(args.recbole_python, os.X_OK):
        peer_skip = f"skipped: {args.recbole_python} is not an executable python"
    if peer_skip:
        print(f"RecBole peer {peer_skip}", file=sys.stderr)

    print(
        f"# peer_compare: split {args.split}; torch threads {args.threads}; python {platform.python_version()}; "
        f"epochs cap {args.epochs_cap}, kgrec patience {args.patience}, RecBole stopping_step {args.peer_patience}"
    )
    raw: dict[str, dict] = {}
    for model in args.models:
        k = run_kgrec(model, args, eval_pass=(model == "lightgcn"))
        p = None
        note = peer_skip
        if k.get("error"):
            print(f"\n== {model}: kgrec {k['error']} ==")
            if k.get("returncode") == 3:  # kgrec lacks the model: no point running the peer
                raw[model] = {"kgrec": k}
                continue
        if peer_skip is None:
            p = run_recbole(model, args)
            if p.get("error"):
                note = p["error"]
                p = None
        raw[model] = {"kgrec": k, "recbole": p}
        if not k.get("error"):
            model_table(model, k, p, note)
            if model == "lightgcn":
                eval_pass_table(k, p)
        elif p:
            print(f"RecBole {PEER_MODEL[model]}: {json.dumps(p)}")
        sys.stdout.flush()

    if args.references:
        refs = {name: run_kgrec(name, args) for name in args.references}
        raw["references"] = refs
        reference_table(refs)

    if args.json_out:
        Path(args.json_out).write_text(json.dumps(raw, indent=2, default=float) + "\n")
        print(f"\nraw results: {args.json_out}")


if __name__ == "__main__":
    main()
