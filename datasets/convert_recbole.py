"""Convert RecBole atomic files (.inter / .item / .user / .kg / .link) into a processed kgrec folder.

python datasets/convert_recbole.py path/to/ml-100k out/ml-100k-kg --name ml-100k
"""

from __future__ import annotations

import argparse
import json
import sys

from kgrec.data.readers.recbole import read_recbole


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="the folder holding <name>.inter and friends")
    parser.add_argument("output", nargs="?", help="the processed folder to write (kgrec.data.io)")
    parser.add_argument(
        "--name", help="the file stem; default: the only *.inter file in the folder"
    )
    parser.add_argument(
        "--rating-threshold", type=float, help="keep ratings >= this (implicit feedback)"
    )
    parser.add_argument(
        "--duplicates", default="first", choices=["first", "last", "sum", "max", "mean", "error"]
    )
    parser.add_argument(
        "--on-error",
        default="raise",
        choices=["raise", "skip"],
        help="skip (and count) malformed lines",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="read and print statistics, write nothing"
    )
    args = parser.parse_args(argv)
    if args.output is None and not args.dry_run:
        parser.error("give an output folder, or --dry-run")
    # kgrec.data.readers.read() cannot pass name= (its own first parameter), so call the reader
    dataset = read_recbole(
        args.input,
        name=args.name,
        rating_threshold=args.rating_threshold,
        duplicates=args.duplicates,
        on_error=args.on_error,
    )
    print(json.dumps({"name": dataset.name, **dataset.stats(), "report": dataset.report}, indent=2))
    if not args.dry_run:
        from kgrec.data.io import save_dataset

        print(f"written to {save_dataset(dataset, args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
