"""Convert a KGAT-style folder (train.txt, test.txt, kg_final.txt, *_list.txt) into a processed kgrec folder.

    python datasets/convert_kgat.py path/to/amazon-book out/amazon-book-kgat --raw-ids org

The processed dataset holds train and test interactions together; keep the original split
with ``kgrec.data.readers.kgat.read_kgat_split``.
"""

from __future__ import annotations

import argparse
import json
import sys

from kgrec.data.readers import read


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="the KGAT data folder")
    parser.add_argument("output", nargs="?", help="the processed folder to write (kgrec.data.io)")
    parser.add_argument(
        "--raw-ids", choices=["remap", "org"], help="keep remapped ints (default) or original ids"
    )
    parser.add_argument(
        "--on-error", choices=["raise", "skip"], help="skip (and count) malformed lines"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="read and print statistics, write nothing"
    )
    args = parser.parse_args(argv)
    if args.output is None and not args.dry_run:
        parser.error("give an output folder, or --dry-run")
    dataset = read("kgat", args.input, raw_ids=args.raw_ids, on_error=args.on_error)
    print(json.dumps({"name": dataset.name, **dataset.stats(), "report": dataset.report}, indent=2))
    if not args.dry_run:
        from kgrec.data.io import save_dataset

        print(f"written to {save_dataset(dataset, args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
