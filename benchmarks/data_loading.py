"""Data-loading speed and memory: kgrec's readers + graph builds against RecBole's dataset build.

Usage (from the repository root)::

    python benchmarks/data_loading.py [--recbole-python PATH] [--skip-peer] [--repeat 3]

Each case runs in a fresh subprocess (this script re-invoked with ``--worker CASE``), timing
its phases with ``time.perf_counter`` and reporting peak RSS (``resource.getrusage``) and the
RSS after the imports, so memory compares process to process:

- ``kgrec-amazon-book``: ``read_kgat_split`` of ``datasets/amazon-book-kgat`` (652,514 training
  + 193,920 test pairs; parse + validate into a RecDataset), the train part
  (``dataset.subset``), ``kgrec.graph.build_graph`` (HeteroData + normalised CSR adjacency) and,
  when ``kgrec.graph.ckg`` exists, ``collaborative_kg(graph)``.
- ``kgrec-ml-100k-kg``: ``read_recbole`` of ``datasets/ml-100k-kg`` (.inter + .kg + .link, no
  item / user features, as RecBole's KG dataset reads them) + ``load_split_files`` of the shared
  split, then the same graph forms.
- ``recbole-ml-100k-kg`` (RecBole's venv, ``peers/recbole_runner.py --dataset-only``): the same
  split as atomic files (``benchmark_filename``), ``create_dataset`` + ``data_preparation`` with
  KGAT's config (KnowledgeBasedDataset + its dataloaders), then KGAT's model construction,
  which builds its graph forms (DGL CKG + normalised attention adjacency).

Ratios kgrec/RecBole are printed for the time (median over ``--repeat`` fresh processes) and
peak RSS. Target: kgrec at most 0.5x RecBole's time and no more memory.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECBOLE_RUNNER = REPO / "benchmarks" / "peers" / "recbole_runner.py"
DEFAULT_AMAZON = "/work/shared/datasets/amazon-book-kgat"
DEFAULT_ML = "/work/shared/datasets/ml-100k-kg"
DEFAULT_SPLIT = "/work/shared/benchmarks/ml-100k-kg"
TARGET_TIME_RATIO = 0.5
TARGET_RSS_RATIO = 1.0


def peak_rss_mb() -> float:
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


# ---------------------------------------------------------------------- workers (subprocess side)
def _graph_forms(train, phases: dict[str, float], extra: dict) -> None:
    from kgrec.graph import build_graph

    t0 = time.perf_counter()
    graph = build_graph(train)
    phases["build_graph"] = time.perf_counter() - t0
    extra["graph_nnz"] = int(graph.norm_adj.values().numel()) if hasattr(graph.norm_adj, "values") else None
    if importlib.util.find_spec("kgrec.graph.ckg") is not None:
        from kgrec.graph.ckg import collaborative_kg

        t0 = time.perf_counter()
        ckg = collaborative_kg(graph)
        phases["collaborative_kg"] = time.perf_counter() - t0
        extra["ckg_edges"] = int(getattr(ckg, "num_edges", 0) or 0)
    else:
        extra["collaborative_kg"] = "kgrec.graph.ckg not available: skipped"


def worker(case: str, args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    import kgrec.data  # noqa: F401 - the import cost is not the loader's
    import kgrec.graph  # noqa: F401
    from kgrec.data.readers.kgat import read_kgat_split
    from kgrec.data.readers.recbole import read_recbole
    from kgrec.data.split import load_split_files

    rss_imports = current_rss_mb()
    phases: dict[str, float] = {}
    extra: dict = {}
    if case == "kgrec-amazon-book":
        t0 = time.perf_counter()
        dataset, parts = read_kgat_split(args.amazon)
        phases["read_validate"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        train = dataset.subset(parts["train"], name="amazon-book:train")
        phases["split"] = time.perf_counter() - t0
        extra.update(users=train.num_users, items=train.num_items, entities=train.num_entities,
                     train_pairs=train.num_interactions, test_pairs=int(len(parts["test"])))  # fmt: skip
    elif case == "kgrec-ml-100k-kg":
        folder = Path(args.ml)
        name = sorted(folder.glob("*.inter"))[0].stem
        t0 = time.perf_counter()
        dataset = read_recbole(folder, name=name, item_features=[], user_features=[])
        phases["read_validate"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        split_dir = Path(args.split)
        split = load_split_files(*(split_dir / f"{p}.tsv" for p in ("train", "valid", "test")), dataset=dataset)
        train = split.train
        split.valid, split.test  # noqa: B018 - materialise every part, as RecBole does
        phases["split"] = time.perf_counter() - t0
        extra.update(users=train.num_users, items=train.num_items, entities=train.num_entities,
                     triples=int(len(train.triples)), train_pairs=train.num_interactions)  # fmt: skip
    else:
        raise SystemExit(f"unknown worker case {case!r}")
    _graph_forms(train, phases, extra)
    load = phases["read_validate"] + phases["split"]
    return {
        "case": case,
        "phases": {k: round(v, 4) for k, v in phases.items()},
        "load_sec": round(load, 4),
        "total_sec": round(sum(phases.values()), 4),
        "rss_after_imports_mb": round(rss_imports, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        **extra,
    }


# ---------------------------------------------------------------------- driver
def _last_json(stdout: str) -> dict | None:
    for line in reversed(stdout.strip().splitlines()):
        if line.strip().startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def _run(cmd: list[str]) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    print(f"$ {' '.join(cmd)}    [loadavg {os.getloadavg()[0]:.2f}]", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    out = _last_json(proc.stdout)
    if proc.returncode != 0 or out is None:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        return {"error": f"exit {proc.returncode}: {tail}"}
    return out


def _median_runs(cmd: list[str], repeat: int, time_key: str) -> dict:
    runs = [_run(cmd) for _ in range(repeat)]
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    best = sorted(ok, key=lambda r: r[time_key])[len(ok) // 2]  # the median run, all its fields
    best = dict(best)
    best["runs"] = len(ok)
    best["all_" + time_key] = [r[time_key] for r in ok]
    best["peak_rss_mb_max"] = max(r["peak_rss_mb"] for r in ok)
    return best


def _fmt(v, d=3):
    return "-" if v is None else (f"{v:.{d}f}" if isinstance(v, float) else str(v))


def _ratio(a, b):
    return "-" if a is None or b is None or not b else f"{a / b:.2f}"


def _table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=False)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--amazon", default=DEFAULT_AMAZON)
    parser.add_argument("--ml", default=DEFAULT_ML)
    parser.add_argument("--split", default=DEFAULT_SPLIT)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per case (median)")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--skip-amazon", action="store_true")
    parser.add_argument("--recbole-python", default=os.environ.get("KGREC_RECBOLE_PYTHON"),
                        help="python of RecBole's venv (default: $KGREC_RECBOLE_PYTHON)")  # fmt: skip
    parser.add_argument("--json-out", default=None)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(worker(args.worker, args)), flush=True)
        return

    me = [sys.executable, str(Path(__file__).resolve())]
    common = ["--amazon", args.amazon, "--ml", args.ml, "--split", args.split, "--threads", str(args.threads)]
    results: dict[str, dict] = {}
    if not args.skip_amazon:
        if Path(args.amazon, "train.txt").is_file():
            results["kgrec-amazon-book"] = _median_runs(me + ["--worker", "kgrec-amazon-book", *common], args.repeat, "total_sec")
        else:
            print(f"amazon-book-kgat skipped: no {args.amazon}/train.txt", file=sys.stderr)
    results["kgrec-ml-100k-kg"] = _median_runs(me + ["--worker", "kgrec-ml-100k-kg", *common], args.repeat, "total_sec")

    peer_note = None
    if args.skip_peer:
        peer_note = "skipped (--skip-peer)"
    elif not args.recbole_python:
        peer_note = "skipped: no RecBole python (pass --recbole-python or set KGREC_RECBOLE_PYTHON; see benchmarks/peers/setup_recbole.sh)"
    elif not os.access(args.recbole_python, os.X_OK):
        peer_note = f"skipped: {args.recbole_python} is not an executable python"
    else:
        cmd = [args.recbole_python, str(RECBOLE_RUNNER), "--model", "KGAT", "--dataset-only",
               "--split", args.split, "--kg", args.ml, "--threads", str(args.threads)]  # fmt: skip
        results["recbole-ml-100k-kg"] = _median_runs(cmd, args.repeat, "dataset_and_graph_sec")
    if peer_note:
        print(f"RecBole peer {peer_note}", file=sys.stderr)

    # ---- tables
    rows = []
    for case in ("kgrec-amazon-book", "kgrec-ml-100k-kg"):
        r = results.get(case)
        if r is None:
            continue
        if "error" in r:
            rows.append([case, r["error"][:80], "", "", "", "", "", ""])
            continue
        ph = r["phases"]
        rows.append([case, _fmt(ph.get("read_validate")), _fmt(ph.get("split")), _fmt(ph.get("build_graph")),
                     _fmt(ph.get("collaborative_kg")), _fmt(r["total_sec"]), _fmt(r["rss_after_imports_mb"], 0),
                     _fmt(r["peak_rss_mb"], 0)])  # fmt: skip
    _table(
        f"== kgrec data loading (seconds, median of {args.repeat} fresh processes; 2 threads) ==",
        ["case", "read+validate", "split", "build_graph", "collaborative_kg", "total", "RSS after imports MB", "peak RSS MB"],
        rows,
    )
    amazon = results.get("kgrec-amazon-book")
    if amazon and "error" not in amazon:
        print(
            f"amazon-book-kgat: {amazon.get('users')} users, {amazon.get('items')} items, "
            f"{amazon.get('train_pairs')} train pairs, {amazon.get('test_pairs')} test pairs; "
            f"kg: {'no kg_final.txt (id maps only)' if not Path(args.amazon, 'kg_final.txt').is_file() else 'kg_final.txt'}"
        )
        if "collaborative_kg" in amazon:
            print(f"note: {amazon['collaborative_kg']}")

    k = results.get("kgrec-ml-100k-kg")
    p = results.get("recbole-ml-100k-kg")
    if k and "error" not in k:
        if p is None or "error" in p:
            print(f"\nRecBole peer: {peer_note or (p or {}).get('error')}")
        else:
            kp = k["phases"]
            k_graph = kp.get("build_graph", 0.0) + kp.get("collaborative_kg", 0.0)
            k_delta = k["peak_rss_mb"] - k["rss_after_imports_mb"]
            p_delta = p["peak_rss_mb"] - p["rss_after_imports_mb"]
            rows = [
                ["load (read + validate + split) vs create_dataset + data_preparation",
                 _fmt(k["load_sec"]), _fmt(p["dataset_sec"]), _ratio(k["load_sec"], p["dataset_sec"])],
                ["graph forms: build_graph + collaborative_kg vs KGAT graph construction",
                 _fmt(k_graph), _fmt(p["model_init_sec"]), _ratio(k_graph, p["model_init_sec"])],
                ["total seconds", _fmt(k["total_sec"]), _fmt(p["dataset_and_graph_sec"]),
                 _ratio(k["total_sec"], p["dataset_and_graph_sec"])],
                ["peak RSS MB (whole process)", _fmt(k["peak_rss_mb"], 0), _fmt(p["peak_rss_mb"], 0),
                 _ratio(k["peak_rss_mb"], p["peak_rss_mb"])],
                ["RSS after imports MB", _fmt(k["rss_after_imports_mb"], 0), _fmt(p["rss_after_imports_mb"], 0),
                 _ratio(k["rss_after_imports_mb"], p["rss_after_imports_mb"])],
                ["peak RSS above imports MB (the data's own)", _fmt(k_delta, 0), _fmt(p_delta, 0), _ratio(k_delta, p_delta)],
            ]  # fmt: skip
            _table(
                "== ml-100k-kg (shared split + KG): kgrec vs RecBole 1.2.1 (KGAT's dataset) ==",
                ["", "kgrec", "RecBole", "kgrec/RecBole"],
                rows,
            )
            time_ratio = k["total_sec"] / p["dataset_and_graph_sec"]
            rss_ratio = k["peak_rss_mb"] / p["peak_rss_mb"]
            print(
                f"target: time <= {TARGET_TIME_RATIO}x RecBole: {'PASS' if time_ratio <= TARGET_TIME_RATIO else 'FAIL'} "
                f"({time_ratio:.2f}x); peak RSS <= {TARGET_RSS_RATIO}x: {'PASS' if rss_ratio <= TARGET_RSS_RATIO else 'FAIL'} "
                f"({rss_ratio:.2f}x)"
            )
            if "all_total_sec" in k:
                print(f"kgrec totals per process: {k['all_total_sec']}; RecBole: {p.get('all_dataset_and_graph_sec')}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
