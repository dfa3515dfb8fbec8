"""Convert delimited files (CSV / TSV) with a column mapping into a processed kgrec folder.

    python datasets/convert_csv.py ratings.csv out/my-data --user-col userId --item-col movieId \
        --rating-col rating --timestamp-col timestamp --kg-path kg.tsv
"""

from __future__ import annotations

import argparse
import json
import sys

from kgrec.data.readers.csv import read_csv


def _list(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="+", help="interaction file(s) with the same columns")
    parser.add_argument("--output", "-o", help="the processed folder to write (kgrec.data.io)")
    parser.add_argument("--user-col", required=True)
    parser.add_argument("--item-col", required=True)
    parser.add_argument("--rating-col")
    parser.add_argument("--timestamp-col")
    parser.add_argument("--weight-col")
    parser.add_argument("--sep", help="field separator; default: tab for .tsv, comma otherwise")
    parser.add_argument(
        "--no-header", action="store_true", help="files have no header: columns are 0, 1, ..."
    )
    parser.add_argument("--encoding", default="utf-8")
    parser.add_argument("--item-features-path")
    parser.add_argument("--item-id-col")
    parser.add_argument(
        "--item-feature-cols", type=_list, help="comma list; default: all but the id"
    )
    parser.add_argument("--user-features-path")
    parser.add_argument("--user-id-col")
    parser.add_argument("--user-feature-cols", type=_list)
    parser.add_argument("--feature-sep", help="split multi-valued feature cells on this")
    parser.add_argument("--kg-path", help="triples with head, relation, tail columns")
    parser.add_argument("--kg-cols", type=_list, default=["head", "relation", "tail"])
    parser.add_argument("--item-entity-path", help="item -> entity links with item, entity columns")
    parser.add_argument("--rating-threshold", type=float)
    parser.add_argument(
        "--duplicates", default="first", choices=["first", "last", "sum", "max", "mean", "error"]
    )
    parser.add_argument("--name")
    parser.add_argument(
        "--dry-run", action="store_true", help="read and print statistics, write nothing"
    )
    args = parser.parse_args(argv)
    if args.output is None and not args.dry_run:
        parser.error("give --output, or --dry-run")

    def col(value: str | None) -> str | int | None:
        return int(value) if value is not None and args.no_header else value

    def cols(values: list[str] | None) -> list[str | int] | None:
        return [col(v) for v in values] if values is not None else None

    dataset = read_csv(
        args.input if len(args.input) > 1 else args.input[0],
        user_col=col(args.user_col),
        item_col=col(args.item_col),
        rating_col=col(args.rating_col),
        timestamp_col=col(args.timestamp_col),
        weight_col=col(args.weight_col),
        sep=args.sep,
        header=not args.no_header,
        encoding=args.encoding,
        item_features_path=args.item_features_path,
        item_id_col=col(args.item_id_col),
        item_feature_cols=cols(args.item_feature_cols),
        user_features_path=args.user_features_path,
        user_id_col=col(args.user_id_col),
        user_feature_cols=cols(args.user_feature_cols),
        feature_sep=args.feature_sep,
        kg_path=args.kg_path,
        kg_cols=tuple(cols(args.kg_cols)),
        item_entity_path=args.item_entity_path,
        rating_threshold=args.rating_threshold,
        duplicates=args.duplicates,
        name=args.name,
    )
    print(json.dumps({"name": dataset.name, **dataset.stats(), "report": dataset.report}, indent=2))
    if not args.dry_run:
        from kgrec.data.io import save_dataset

        print(f"written to {save_dataset(dataset, args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
