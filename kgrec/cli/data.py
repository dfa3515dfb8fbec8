"""``kgrec convert``, ``kgrec info`` and ``kgrec split``."""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

from kgrec.data.io import load_dataset, read_manifest, save_dataset, save_split
from kgrec.data.readers import READERS, read
from kgrec.data.split import STRATEGIES, Split, split_dataset


def add_parsers(sub: argparse._SubParsersAction) -> None:
    formats = "\n".join(f"  {name:<10} {desc}" for name, (_, _, desc) in sorted(READERS.items()))
    p = sub.add_parser(
        "convert",
        help="convert a raw dataset into kgrec's processed format",
        description=f"Convert a raw dataset folder or file into kgrec's processed format.\n\nformats:\n{formats}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("format", choices=sorted(READERS), metavar="FORMAT", help="one of: " + ", ".join(sorted(READERS)))
    p.add_argument("input", type=Path, metavar="INPUT", help="raw dataset folder or file")
    p.add_argument("output", type=Path, metavar="OUTPUT", help="folder for the processed dataset")
    p.add_argument("--rating-threshold", type=float, help="keep interactions with rating >= this (implicit feedback)")
    p.add_argument("--duplicates", choices=["first", "last", "sum", "max", "mean", "error"], help="repeated (user, item) pairs")
    p.add_argument("--on-error", choices=["raise", "skip"], help="skip malformed rows (counted) instead of failing")
    p.add_argument("--name", help="dataset name (RecBole: the atomic files' prefix)")
    g = p.add_argument_group("csv options")
    g.add_argument("--user-col")
    g.add_argument("--item-col")
    g.add_argument("--rating-col")
    g.add_argument("--timestamp-col")
    g.add_argument("--weight-col")
    g.add_argument("--sep")
    g.add_argument("--kg-path", type=Path, help="KG triples file (head, relation, tail columns)")
    g.add_argument("--item-features-path", type=Path, help="item attribute table")
    g.add_argument("--item-id-col", help="item id column of the attribute table")
    g.add_argument("--item-feature-cols", nargs="+", help="attribute columns (default: all but the id)")
    g.add_argument("--feature-sep", help="separator of multi-valued attribute cells")
    g = p.add_argument_group("kgcn options")
    g.add_argument("--ratings-file", help="ratings file name inside INPUT (default: detected)")
    g = p.add_argument_group("rdf options")
    g.add_argument("--interactions", type=Path, help="interactions file (user, item columns) for RDF input")
    g.add_argument("--item-class", help="rdf:type class URI whose subjects are items")
    g.add_argument("--predicates", nargs="+", help="predicate URIs to keep (default: all)")
    g.add_argument("--literals", choices=["attribute", "drop"])
    g.add_argument("--item-id-predicate", help="predicate whose literal is an item's raw id")
    g.add_argument("--rdf-format", help="rdflib format name (default: from the suffix)")
    g.add_argument("--max-hops", type=int, help="keep triples at most this many hops from the items")
    p.set_defaults(func=run_convert)

    p = sub.add_parser("info", help="statistics of a processed dataset or split")
    p.add_argument("path", type=Path, metavar="PATH")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_info)

    p = sub.add_parser("split", help="split a processed dataset (seeded, leak-free)")
    p.add_argument("path", type=Path, metavar="PATH", help="processed dataset folder")
    p.add_argument("output", type=Path, metavar="OUTPUT", help="folder for the split")
    p.add_argument("--strategy", choices=STRATEGIES, default="random")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--ratios", type=float, nargs=3, default=(0.8, 0.1, 0.1), metavar=("TRAIN", "VALID", "TEST"))
    p.set_defaults(func=run_split)


def run_convert(args: argparse.Namespace) -> int:
    options = {
        "rating_threshold": args.rating_threshold,
        "duplicates": args.duplicates,
        "on_error": args.on_error,
        "name": args.name,
        "user_col": args.user_col,
        "item_col": args.item_col,
        "rating_col": args.rating_col,
        "timestamp_col": args.timestamp_col,
        "weight_col": args.weight_col,
        "sep": args.sep,
        "kg_path": args.kg_path,
        "item_features_path": args.item_features_path,
        "item_id_col": args.item_id_col,
        "item_feature_cols": args.item_feature_cols,
        "feature_sep": args.feature_sep,
        "ratings_file": args.ratings_file,
        "interactions": args.interactions,
        "item_class": args.item_class,
        "predicates": args.predicates,
        "literals": args.literals,
        "item_id_predicate": args.item_id_predicate,
        "format": args.rdf_format,
        "max_hops": args.max_hops,
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = read(args.format, args.input, **options)
    for w in caught:
        print(f"warning: {w.message}")
    save_dataset(dataset, args.output)
    print(f"wrote {dataset!r} to {args.output}")
    return 0


def info_dict(path: Path) -> dict:
    """What ``kgrec info --json`` prints: the counts, plus part sizes for a split."""
    manifest = read_manifest(path)
    obj = loaded = load_dataset(path)
    dataset = loaded.dataset if isinstance(loaded, Split) else obj
    out: dict = {"name": manifest.get("name"), "kind": manifest["kind"], **dataset.stats()}
    if dataset.report:
        out["report"] = dataset.report
    if isinstance(loaded, Split):
        out["parts"] = loaded.sizes()
        out["split"] = loaded.report
    return out


def run_info(args: argparse.Namespace) -> int:
    info = info_dict(args.path)
    if args.json:
        print(json.dumps(info))
        return 0
    for key, value in info.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for k, v in value.items():
                print(f"  {k}: {v}")
        else:
            print(f"{key}: {value}")
    return 0


def run_split(args: argparse.Namespace) -> int:
    dataset = load_dataset(args.path)
    if isinstance(dataset, Split):
        raise ValueError(f"{args.path} is already a split; split the processed dataset it came from")
    split = split_dataset(dataset, strategy=args.strategy, ratios=args.ratios, seed=args.seed)
    save_split(split, args.output)
    print(f"wrote {split!r} to {args.output}")
    return 0
