"""Grid over kgrec fit settings on the shared split, chosen on validation NDCG@20 only.

Usage (from the repository root)::

    python benchmarks/tune_defaults.py --model lightgcn --grid lr=1e-3,5e-3,1e-2 \
        --grid patience=10,20 --grid init_std=None,0.1 [--epochs 300]

``--grid KEY=V1,V2,...``: ``lr``, ``reg``, ``patience``, ``epochs``, ``batch_size`` are fit
settings; any other key is a model hyper-parameter (``init_std``, ``num_layers``, ...). Each
combination runs ``python -m benchmarks.peers.kgrec_runner`` in a fresh process, one at a
time, and the table is sorted by best valid NDCG@20 (test figures are shown, never used to
choose). ``fit s`` is the wall time of ``Recommender.fit`` (all epochs + validation).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_compare import REPO, _fmt, print_table, run_json  # noqa: E402

FIT_KEYS = {"lr": "--lr", "reg": "--reg", "patience": "--patience", "epochs": "--epochs", "batch_size": "--batch-size"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lightgcn")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2")
    parser.add_argument("--epochs", type=int, default=300, help="epoch cap unless gridded")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json-out", default=None)
    parser.add_argument("--history-dir", default=None, help="write each run's fit history CSV here")
    args = parser.parse_args()

    axes: list[tuple[str, list[str]]] = []
    for item in args.grid:
        key, _, values = item.partition("=")
        axes.append((key, [v for v in values.split(",") if v]))
    results = []
    for combo in itertools.product(*[vals for _, vals in axes]) if axes else [()]:
        setting = dict(zip([k for k, _ in axes], combo, strict=False))
        cmd = [sys.executable, "-m", "benchmarks.peers.kgrec_runner", "--model", args.model,
               "--threads", str(args.threads)]  # fmt: skip
        if "epochs" not in setting:
            cmd += ["--epochs", str(args.epochs)]
        for key, value in setting.items():
            cmd += [FIT_KEYS[key], value] if key in FIT_KEYS else ["--hyper", f"{key}={value}"]
        if args.history_dir:
            Path(args.history_dir).mkdir(parents=True, exist_ok=True)
            tag = "_".join(f"{k}{v}" for k, v in setting.items()) or "defaults"
            cmd += ["--history", str(Path(args.history_dir).resolve() / f"{args.model}_{tag}.csv")]
        r = run_json(cmd, cwd=REPO, label=f"kgrec {args.model} {setting}", timeout=None)
        r["setting"] = setting
        results.append(r)
        print(f"{setting}: valid {r.get('best_valid_ndcg@20')}, test {r.get('test_ndcg@20')}, "
              f"epochs {r.get('epochs')} (best {r.get('best_epoch')}), fit {r.get('fit_sec')} s", file=sys.stderr)  # fmt: skip
    results.sort(key=lambda r: -(r.get("best_valid_ndcg@20") or -1))
    rows = [
        [
            " ".join(f"{k}={v}" for k, v in r["setting"].items()) or "(defaults)",
            f"{r.get('epochs')} ({r.get('best_epoch')})",
            _fmt(r.get("best_valid_ndcg@20"), 4),
            _fmt(r.get("test_recall@20"), 4),
            _fmt(r.get("test_ndcg@20"), 4),
            _fmt(r.get("sec_per_epoch"), 3),
            _fmt(r.get("valid_eval_sec"), 3),
            _fmt(r.get("fit_sec"), 1),
            r.get("error", ""),
        ]
        for r in results
    ]
    print_table(
        f"== {args.model}: sorted by best valid NDCG@20 (chosen on valid only) ==",
        ["setting", "epochs (best)", "valid N@20", "test R@20", "test N@20", "s/epoch", "eval s", "fit s", "error"],
        rows,
    )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
