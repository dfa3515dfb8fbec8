"""Run one RecBole 1.2.1 model on the shared split and print one JSON line (the peer side).

Executed with RecBole's own python (its venv: see ``setup_recbole.sh``), never imported by
kgrec. It writes RecBole atomic files for the fixed split into a temporary folder
(``<name>.train.inter`` / ``.valid.inter`` / ``.test.inter`` with header
``user_id:token item_id:token``, plus ``<name>.kg`` and ``<name>.link`` copied from the KG
dataset), reads them through RecBole's ``benchmark_filename: [train, valid, test]`` option, and
trains with the common hyper-parameters of ``shared/BENCHMARKS.md`` (embedding 64, batch 2048,
Adam lr 1e-3, one uniform negative, L2 1e-4 for LightGCN / KGAT, LightGCN 3 layers, seed 2026,
full ranking, model selection on valid NDCG@20).

Usage (from any folder; everything RecBole writes goes to a temporary folder)::

    $RECBOLE_PYTHON benchmarks/peers/recbole_runner.py --model LightGCN --stopping-step 10
    $RECBOLE_PYTHON benchmarks/peers/recbole_runner.py --model KGAT --dataset-only

The last stdout line is the JSON result:
``{"tool": "recbole", "model", "test_recall@20", "test_ndcg@20", "best_valid_ndcg@20",
"epochs", "best_epoch", "sec_per_epoch" (median), "valid_eval_sec" (median), "fit_sec",
"peak_rss_mb", ...}``. ``--dataset-only`` instead times ``create_dataset`` +
``data_preparation`` (and the KG model's graph construction) and reports peak RSS.

DGL adapter: RecBole's KGAT calls the DGL 0.6 forms ``dgl.edge_subgraph(g, eids,
preserve_nodes=True)`` and ``g.adjacency_matrix(transpose=False, scipy_fmt="coo")``; DGL 1.1.3
spells them ``relabel_nodes=False`` and ``g.adj_external(...)``. :func:`apply_dgl_adapter` wraps
both at run time in this process only; RecBole's files stay unmodified.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Before torch is imported: RecBole reloads its checkpoints with plain torch.load.
os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
os.environ.setdefault("DGLBACKEND", "pytorch")

DEFAULT_SPLIT = "/work/shared/benchmarks/ml-100k-kg"
DEFAULT_KG = "/work/shared/datasets/ml-100k-kg"
KG_MODELS = {"KGAT", "CKE", "KGCN", "KGIN", "KGNNLS", "KTUP", "MKR", "RippleNet", "CFKG"}
DATASET_NAME = "kgsplit"  # not "ml-100k": RecBole would load its own ml-100k.yaml presets


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


def apply_dgl_adapter() -> bool:
    """Let RecBole's DGL-0.6 calls run on DGL 1.1.3 (this process only). False: no DGL."""
    try:
        import dgl
    except Exception:  # noqa: BLE001 - DGL is optional; KGAT will fail with its own message
        return False
    if getattr(dgl, "_kgrec_bench_adapted", False):
        return True
    original_edge_subgraph = dgl.edge_subgraph

    def edge_subgraph(graph, edges, *args, preserve_nodes=None, **kwargs):
        if preserve_nodes is not None:
            kwargs.setdefault("relabel_nodes", not preserve_nodes)
        return original_edge_subgraph(graph, edges, *args, **kwargs)

    original_adjacency = dgl.DGLGraph.adjacency_matrix

    def adjacency_matrix(self, transpose=None, ctx=None, scipy_fmt=None, etype=None):
        if transpose is None and scipy_fmt is None and ctx is None:
            return original_adjacency(self, etype)  # the DGL 1.x sparse-matrix form
        options = {"transpose": bool(transpose), "scipy_fmt": scipy_fmt, "etype": etype}
        if ctx is not None:
            options["ctx"] = ctx
        return self.adj_external(**options)

    dgl.edge_subgraph = edge_subgraph
    dgl.DGLGraph.adjacency_matrix = adjacency_matrix
    dgl._kgrec_bench_adapted = True
    return True


def write_atomic_files(split_dir: Path, kg_dir: Path | None, out_dir: Path, name: str) -> dict[str, int]:
    """``<name>.{train,valid,test}.inter`` from the split's tsv files; ``.kg``/``.link`` copied."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for part in ("train", "valid", "test"):
        src = split_dir / f"{part}.tsv"
        n = 0
        with src.open() as fin, (out_dir / f"{name}.{part}.inter").open("w") as fout:
            fout.write("user_id:token\titem_id:token\n")
            for line in fin:
                line = line.rstrip("\r\n")
                if not line:
                    continue
                user, item = line.split("\t")[:2]
                fout.write(f"{user}\t{item}\n")
                n += 1
        counts[part] = n
    if kg_dir is not None:
        for ext in ("kg", "link"):
            found = sorted(kg_dir.glob(f"*.{ext}"))
            if len(found) != 1:
                raise SystemExit(f"expected one *.{ext} file in {kg_dir} (got {[p.name for p in found]})")
            shutil.copyfile(found[0], out_dir / f"{name}.{ext}")
    return counts


def build_config_dict(args: argparse.Namespace, data_root: Path, work: Path) -> dict:
    cfg = {
        "data_path": str(data_root),
        "checkpoint_dir": str(work / "saved"),
        "benchmark_filename": ["train", "valid", "test"],
        "load_col": {"inter": ["user_id", "item_id"]},
        "use_gpu": False,
        "device": "cpu",
        "worker": 0,
        "seed": args.seed,
        "reproducibility": True,
        "show_progress": False,
        "state": "WARNING",
        "epochs": args.epochs,
        "train_batch_size": 2048,
        "learner": "adam",
        "learning_rate": args.lr,
        "train_neg_sample_args": {"distribution": "uniform", "sample_num": 1, "alpha": 1.0, "dynamic": False, "candidate_num": 0},
        "eval_step": 1,
        "stopping_step": args.stopping_step,
        "eval_args": {"group_by": "user", "order": "RO", "split": {"RS": [0.8, 0.1, 0.1]}, "mode": "full"},
        "metrics": ["Recall", "NDCG"],
        "topk": [20],
        "valid_metric": "NDCG@20",
        "valid_metric_bigger": True,
        "eval_batch_size": 4096,
        "embedding_size": 64,
    }
    model = args.model
    if model == "LightGCN":
        cfg.update(n_layers=3, reg_weight=args.reg)
    elif model == "KGAT":
        cfg.update(reg_weight=args.reg)
    if model in KG_MODELS:
        cfg["load_col"] = {
            "inter": ["user_id", "item_id"],
            "kg": ["head_id", "relation_id", "tail_id"],
            "link": ["item_id", "entity_id"],
        }
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="LightGCN", help="RecBole model name: BPR, LightGCN, KGAT, CKE, ...")
    parser.add_argument("--split", default=DEFAULT_SPLIT, help="folder with train/valid/test.tsv")
    parser.add_argument("--kg", default=DEFAULT_KG, help="folder with one *.kg and one *.link file")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--stopping-step", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--reg", type=float, default=1e-4, help="reg_weight of LightGCN / KGAT")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dataset-only", action="store_true", help="time dataset construction only")
    parser.add_argument("--verbose", action="store_true", help="RecBole's log on stderr")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO if args.verbose else logging.WARNING)
    sys.argv = sys.argv[:1]  # RecBole's Config also parses "--key=value" from the command line

    t_start = time.perf_counter()
    import torch

    torch.set_num_threads(args.threads)
    adapted = apply_dgl_adapter() if args.model in KG_MODELS else False
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    import_sec = time.perf_counter() - t_start
    rss_after_imports = current_rss_mb()

    kg_dir = Path(args.kg) if args.model in KG_MODELS else None
    result: dict = {"tool": "recbole", "model": args.model, "threads": args.threads}
    work = Path(tempfile.mkdtemp(prefix="recbole-peer-"))
    old_cwd = os.getcwd()
    try:
        os.chdir(work)  # RecBole writes log_tensorboard/ and saved/ relative to the cwd
        data_root = work / "data"
        write_atomic_files(Path(args.split), kg_dir, data_root / DATASET_NAME, DATASET_NAME)
        config = Config(model=args.model, dataset=DATASET_NAME, config_dict=build_config_dict(args, data_root, work))
        init_seed(config["seed"], config["reproducibility"])
        torch.set_num_threads(args.threads)  # init_seed may touch torch settings; keep 2 threads

        t0 = time.perf_counter()
        dataset = create_dataset(config)
        t1 = time.perf_counter()
        train_data, valid_data, test_data = data_preparation(config, dataset)
        t2 = time.perf_counter()
        init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
        model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
        t3 = time.perf_counter()
        result.update(
            import_sec=round(import_sec, 3),
            rss_after_imports_mb=round(rss_after_imports, 1),
            create_dataset_sec=round(t1 - t0, 4),
            data_preparation_sec=round(t2 - t1, 4),
            model_init_sec=round(t3 - t2, 4),
            dataset_sec=round(t2 - t0, 4),
            dataset_and_graph_sec=round(t3 - t0, 4),
            num_users=int(dataset.user_num - 1),
            num_items=int(dataset.item_num - 1),
            dgl_adapter=adapted,
        )
        if args.dataset_only:
            result["peak_rss_mb"] = round(peak_rss_mb(), 1)
            print(json.dumps(result), flush=True)
            return

        trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
        train_secs: list[float] = []
        valid_secs: list[float] = []
        valid_scores: list[float] = []
        train_epoch, valid_epoch = trainer._train_epoch, trainer._valid_epoch

        def timed_train_epoch(*a, **k):
            s = time.perf_counter()
            out = train_epoch(*a, **k)
            train_secs.append(time.perf_counter() - s)
            return out

        def timed_valid_epoch(*a, **k):
            s = time.perf_counter()
            score, res = valid_epoch(*a, **k)
            valid_secs.append(time.perf_counter() - s)
            valid_scores.append(float(score))
            return score, res

        trainer._train_epoch, trainer._valid_epoch = timed_train_epoch, timed_valid_epoch
        t4 = time.perf_counter()
        best_score, _ = trainer.fit(train_data, valid_data, saved=True, show_progress=False, verbose=args.verbose)
        t5 = time.perf_counter()
        trainer._valid_epoch = valid_epoch  # the test pass is not a validation epoch
        test = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
        t6 = time.perf_counter()

        best_epoch, best = -1, -float("inf")
        for epoch, score in enumerate(valid_scores):  # RecBole's early_stopping: ties update
            if score >= best:
                best, best_epoch = score, epoch
        result.update(
            {
                "test_recall@20": float(test["recall@20"]),
                "test_ndcg@20": float(test["ndcg@20"]),
                "best_valid_ndcg@20": float(best_score),
                "epochs": len(train_secs),
                "best_epoch": best_epoch,
                "sec_per_epoch": statistics.median(train_secs) if train_secs else None,
                "valid_eval_sec": statistics.median(valid_secs) if valid_secs else None,
                "test_eval_sec": round(t6 - t5, 4),
                "fit_sec": round(t5 - t4, 3),
                "total_sec": round(t6 - t0, 3),
                "peak_rss_mb": round(peak_rss_mb(), 1),
            }
        )
        print(json.dumps(result), flush=True)
    finally:
        os.chdir(old_cwd)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
