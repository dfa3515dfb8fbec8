"""``kgrec explain RUN_DIR --user ID --item ID``: why a trained run recommends an item to a user.

Prints the knowledge-graph paths from the user's training items to the item, best first
(:meth:`kgrec.recommender.Recommender.explain`); RUN_DIR is a ``kgrec train`` run folder (its
``model/``) or a saved recommender folder itself.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain", help="knowledge-graph paths explaining why a trained run recommends an item"
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run folder of kgrec train")
    p.add_argument("--user", required=True, help="raw user id")
    p.add_argument("--item", required=True, help="raw item id")
    p.add_argument("--max-paths", type=int, default=5, help="paths shown at most (default 5)")
    p.add_argument(
        "--max-hops",
        type=int,
        default=3,
        help="knowledge-graph edges between a training item and the item (default 3)",
    )
    p.add_argument("--json", action="store_true", help="one JSON record per path")
    p.set_defaults(func=run_explain)


def _raw_id(ids: Any, text: str, what: str) -> Any:
    """The raw id as the dataset types it (integer ids are given as text on the command line)."""
    if ids.is_str:
        return text
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{what} ids of this dataset are integers (got {text!r})") from None


def run_explain(args: argparse.Namespace) -> int:
    from kgrec.recommender import Recommender

    folder: Path = args.run_dir
    model_dir = folder / "model" if (folder / "model").is_dir() else folder
    rec: Any = Recommender.load(model_dir)
    train = rec.train_data
    user = _raw_id(train.users, args.user, "user")
    item = _raw_id(train.items, args.item, "item")
    options = {"max_paths": args.max_paths, "max_hops": args.max_hops}
    if hasattr(rec, "explain"):
        explanation = rec.explain(user, item, **options)
    else:  # a fused run: paths scored by node degree on the shared training data
        from kgrec.explain import explain

        explanation = explain(train, user, item, **options)
    if args.json:
        print(json.dumps([p.to_dict() for p in explanation], default=str))
    else:
        print(explanation)
    return 0
