"""``kgrec train``, ``kgrec evaluate`` and ``kgrec recommend``.

A run folder holds ``metrics.json`` (config, history, valid and test metrics, versions,
dataset checksum), ``model/`` (the saved :class:`~kgrec.recommender.Recommender`) and ``split/``
(the split it was trained and tested on), so ``evaluate`` and ``recommend`` need nothing else.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from kgrec import __version__
from kgrec.data.split import Split

#: CLI flag -> (type, help); each maps one-to-one onto a Recommender keyword argument
HYPER_FLAGS: dict[str, tuple[type, str]] = {
    "epochs": (int, "maximum training epochs"),
    "batch_size": (int, "training batch size"),
    "lr": (float, "Adam learning rate"),
    "reg_weight": (float, "L2 weight on the batch's ego embeddings"),
    "patience": (int, "epochs without validation improvement before stopping"),
    "max_seconds": (float, "training time budget: stop after the epoch that spends it"),
    "loss": (str, "ranking loss of graph encoders: bpr, softmax, sampled_softmax"),
    "num_negatives": (int, "negatives drawn per positive (bpr, sampled_softmax)"),
    "device": (str, "where graph encoders train: cpu (default), cuda, cuda:N, or auto"),
    "embedding_dim": (int, "embedding size of graph encoders"),
    "num_layers": (int, "propagation layers of graph encoders"),
    "l2": (float, "EASE regularisation"),
    "k": (int, "ItemKNN neighbours"),
    # cold start through attribute links (mf, lightgcn, kglightgcn; on by default in *-attr)
    "attributes": (bool, "add each item's mean attribute embedding to its id embedding"),
    "id_dropout": (float, "probability of dropping an item's id embedding while training"),
    "user_id_dropout": (float, "probability of dropping a user's id embedding while training"),
    "min_links": (int, "attribute values linked to fewer items are ignored"),
    # training techniques (kgrec.train.recipe); their options come through --config tables
    "sampler": (str, "negative sampler: uniform, popularity, dns, mixed"),
    "curriculum": (str, "hardness curriculum of the sampler: linear, step, self_paced"),
    "augment": (str, "contrastive auxiliary loss: sgl, simgcl"),
    "pretrain": (str, "pretrain then fine-tune: mf, transe, transr (history in RUN_DIR/train/pretrain)"),
    "lr_schedule": (str, "learning-rate decay after warm-up: constant, cosine, linear, exponential, step"),
}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from kgrec.recommender import model_names

    p = sub.add_parser("train", help="train a model, early-stop on valid, evaluate once on test")
    p.add_argument("dataset", metavar="DATASET_PATH", help="processed dataset or split folder, or 'synthetic'")
    p.add_argument("--model", required=True, help="one of: " + ", ".join(model_names()))
    p.add_argument("--out", type=Path, required=True, metavar="RUN_DIR")
    p.add_argument("--split-files", nargs=3, type=Path, metavar=("TRAIN", "VALID", "TEST"),
                   help="fixed split: tab-separated 'user item' files with raw ids")
    p.add_argument("--strategy", default="random", help="split strategy when DATASET_PATH is not split yet")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--config", type=Path, help="TOML or YAML file whose keys are these flags' names")
    p.add_argument("--ks", type=int, nargs="+", default=[10, 20])
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    for name, (typ, help_text) in HYPER_FLAGS.items():
        flag = "--" + name.replace("_", "-")
        if typ is bool:  # --attributes / --no-attributes; absent: the model's default
            p.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            p.add_argument(flag, dest=name, type=typ, help=help_text)
    p.set_defaults(func=run_train)

    p = sub.add_parser("evaluate", help="evaluate a trained run on its test part again")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--k", type=int, nargs="+", default=[10, 20])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_evaluate)

    p = sub.add_parser("recommend", help="top-k recommendations of a trained run for one user")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--user", required=True, help="raw user id")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_recommend)


def read_config(path: Path) -> dict[str, Any]:
    """Keys of a TOML / YAML file; each must be a ``kgrec train`` option name."""
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text) or {}
    else:
        import tomllib

        data = tomllib.loads(text)
    allowed = set(HYPER_FLAGS) | {"model", "seed", "ks", "strategy"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"{path}: unknown option(s) {unknown}; valid options: {sorted(allowed)}")
    return data


def load_training_split(dataset: str, *, split_files: list[Path] | None, strategy: str, seed: int) -> Split:
    """The split ``kgrec train`` uses: fixed files, a saved split, or a fresh seeded split."""
    from kgrec.data.io import load_dataset
    from kgrec.data.split import load_split_files, split_dataset
    from kgrec.data.synthetic import make_synthetic

    base: Any = make_synthetic(seed=seed) if dataset == "synthetic" else load_dataset(dataset)
    if split_files:
        full = base.dataset if isinstance(base, Split) else base
        return load_split_files(*split_files, dataset=full, name=full.name)
    if isinstance(base, Split):
        return base
    return split_dataset(base, strategy=strategy, seed=seed)  # type: ignore[arg-type]


def run_train(args: argparse.Namespace) -> int:
    from kgrec.data.io import save_split
    from kgrec.evaluate.protocol import evaluate_views
    from kgrec.recommender import Recommender

    options: dict[str, Any] = read_config(args.config) if args.config else {}
    for name in HYPER_FLAGS:
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    options.pop("model", None)  # the command line names the model
    model = args.model
    seed = int(options.pop("seed", args.seed))
    ks = tuple(options.pop("ks", args.ks))
    strategy = options.pop("strategy", args.strategy)
    split = load_training_split(args.dataset, split_files=args.split_files, strategy=strategy, seed=seed)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    rec = Recommender(
        model, seed=seed, ks=ks, run_dir=out / "train", progress=False if args.no_progress else None, **options
    )
    start = time.perf_counter()
    rec.fit(split.train, valid=split.valid)
    fit_seconds = time.perf_counter() - start
    results = evaluate_views(rec, split, ks=ks)
    metrics: dict[str, Any] = {
        "model": rec.model,
        "config": rec.config(),
        "kgrec_version": __version__,
        "dataset": {"name": split.dataset.name, "checksum": split.dataset.checksum(), **split.dataset.stats()},
        "split": {"sizes": split.sizes(), "cold_items": int(len(split.cold_items()))},
        "fit_seconds": fit_seconds,
        "device": str(rec.device),
    }
    if split.valid is not None and len(split.valid.interactions):
        metrics["valid"] = rec.evaluate(split.valid, exclude=[split.train], ks=ks).mean
    for name, result in results.items():
        metrics[name] = result.mean
        metrics[f"{name}_users"] = result.num_users
    if rec.history_ is not None:
        hist = rec.history_
        metrics["history"] = json.loads(hist.to_json(orient="records"))
        metrics["best_epoch"] = hist.attrs.get("best_epoch")
        metrics["seconds_per_epoch"] = float(np.median(hist["seconds"])) if "seconds" in hist else None
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float) + "\n")
    rec.save(out / "model")
    save_split(split, out / "split")
    _print_metrics(f"{rec.model} on {split.dataset.name}", {k: v for k, v in metrics.items() if k.startswith("test")})
    print(f"wrote {out / 'metrics.json'}")
    return 0


def _print_metrics(title: str, parts: dict[str, Any]) -> None:
    print(title)
    for name, values in parts.items():
        if isinstance(values, dict):
            shown = ", ".join(f"{k}={v:.4f}" for k, v in values.items() if "@" in k and k.split("@")[0] in ("recall", "ndcg"))
            print(f"  {name:<16} {shown}")


def run_evaluate(args: argparse.Namespace) -> int:
    from kgrec.data.io import load_dataset
    from kgrec.evaluate.protocol import evaluate_views
    from kgrec.recommender import Recommender

    rec = Recommender.load(args.run_dir / "model")
    split = load_dataset(args.run_dir / "split")
    results = {name: r.mean for name, r in evaluate_views(rec, split, ks=tuple(args.k)).items()}
    if args.json:
        print(json.dumps(results))
    else:
        _print_metrics(f"{rec.model} ({args.run_dir})", results)
    return 0


def run_recommend(args: argparse.Namespace) -> int:
    from kgrec.recommender import Recommender

    rec = Recommender.load(args.run_dir / "model")
    users = rec.train_data.users
    user: Any = args.user
    if not users.is_str:
        try:
            user = int(args.user)
        except ValueError:
            raise ValueError(f"user ids of this dataset are integers (got {args.user!r})") from None
    frame = rec.recommend([user], k=args.k)
    if args.json:
        print(frame.to_json(orient="records"))
    else:
        print(frame.to_string(index=False))
    return 0
