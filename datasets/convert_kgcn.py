"""Convert a KGCN / RippleNet-style folder (ratings, kg.txt, item_index2entity_id.txt) into a processed kgrec folder.

python datasets/convert_kgcn.py path/to/music out/music-kgcn
"""

from __future__ import annotations

import argparse
import json
import sys

from kgrec.data.readers import read


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="the KGCN data folder")
    parser.add_argument("output", nargs="?", help="the processed folder to write (kgrec.data.io)")
    parser.add_argument(
        "--ratings-file", help="default: ratings_final.txt, ratings.dat or user_artists.dat"
    )
    parser.add_argument("--kg-file", help="default: kg.txt, else kg_final.txt")
    parser.add_argument(
        "--rating-threshold", type=float, help="keep ratings >= this (KGCN used 4 for MovieLens)"
    )
    parser.add_argument("--duplicates", choices=["first", "last", "sum", "max", "mean", "error"])
    parser.add_argument(
        "--on-error", choices=["raise", "skip"], help="skip (and count) malformed lines"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="read and print statistics, write nothing"
    )
    args = parser.parse_args(argv)
    if args.output is None and not args.dry_run:
        parser.error("give an output folder, or --dry-run")
    dataset = read(
        "kgcn",
        args.input,
        ratings_file=args.ratings_file,
        kg_file=args.kg_file,
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
