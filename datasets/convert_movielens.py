"""Convert a raw MovieLens folder (ml-100k, ml-1m, ml-latest, ml-25m) into a processed kgrec folder.

python datasets/convert_movielens.py path/to/ml-1m out/ml-1m --rating-threshold 4
python datasets/convert_movielens.py path/to/ml-100k --dry-run      # statistics only
"""

from __future__ import annotations

import argparse
import json
import sys

from kgrec.data.readers.movielens import ITEM_FEATURES, USER_FEATURES, VARIANTS, read_movielens


def _names(text: str) -> tuple[str, ...]:
    return tuple(t for t in text.split(",") if t)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="the extracted MovieLens folder")
    parser.add_argument("output", nargs="?", help="the processed folder to write (kgrec.data.io)")
    parser.add_argument(
        "--variant", choices=sorted(VARIANTS), help="default: detected from the files"
    )
    parser.add_argument(
        "--rating-threshold", type=float, help="keep ratings >= this (implicit feedback)"
    )
    parser.add_argument(
        "--duplicates", default="first", choices=["first", "last", "sum", "max", "mean", "error"]
    )
    parser.add_argument(
        "--item-features", type=_names, default=ITEM_FEATURES, help=f"comma list of {ITEM_FEATURES}"
    )
    parser.add_argument(
        "--user-features",
        type=_names,
        default=("age", "gender", "occupation"),
        help=f"comma list of {USER_FEATURES}",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="read and print statistics, write nothing"
    )
    args = parser.parse_args(argv)
    if args.output is None and not args.dry_run:
        parser.error("give an output folder, or --dry-run")
    dataset = read_movielens(
        args.input,
        variant=args.variant,
        rating_threshold=args.rating_threshold,
        duplicates=args.duplicates,
        item_features=args.item_features,
        user_features=args.user_features,
    )
    print(json.dumps({"name": dataset.name, **dataset.stats(), "report": dataset.report}, indent=2))
    if not args.dry_run:
        from kgrec.data.io import save_dataset

        print(f"written to {save_dataset(dataset, args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
