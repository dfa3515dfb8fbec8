"""Convert an RDF graph (Turtle, N-Triples, RDF/XML, ...) plus an interactions file into a processed kgrec folder.

    python datasets/convert_rdf.py movies.ttl ratings.csv out/movies-kg \
        --item-class http://schema.org/Movie --predicate http://schema.org/director
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from kgrec.data.readers.rdf import read_rdf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("graph", help="the RDF file")
    parser.add_argument(
        "interactions", help="CSV / TSV with user, item[, rating, timestamp, weight] columns"
    )
    parser.add_argument("output", nargs="?", help="the processed folder to write (kgrec.data.io)")
    parser.add_argument("--format", help="rdflib format; default: guessed from the suffix")
    parser.add_argument("--item-class", help="rdf:type class URI whose instances are the items")
    parser.add_argument("--item-links", help="CSV with columns item, uri linking item ids to URIs")
    parser.add_argument("--item-id-predicate", help="predicate whose literal is an item's raw id")
    parser.add_argument(
        "--predicate",
        action="append",
        dest="predicates",
        help="predicate to keep (repeatable); default: all but rdf:type",
    )
    parser.add_argument("--literals", choices=["attribute", "drop"], default="attribute")
    parser.add_argument(
        "--max-hops", type=int, help="keep triples at most this many hops from an item"
    )
    parser.add_argument("--rating-threshold", type=float)
    parser.add_argument(
        "--dry-run", action="store_true", help="read and print statistics, write nothing"
    )
    args = parser.parse_args(argv)
    if args.output is None and not args.dry_run:
        parser.error("give an output folder, or --dry-run")
    links = pd.read_csv(args.item_links, dtype=str) if args.item_links else None
    dataset = read_rdf(
        args.graph,
        args.interactions,
        item_class=args.item_class,
        item_links=links,
        item_id_predicate=args.item_id_predicate,
        predicates=args.predicates,
        literals=args.literals,
        format=args.format,
        max_hops=args.max_hops,
        rating_threshold=args.rating_threshold,
    )
    print(json.dumps({"name": dataset.name, **dataset.stats(), "report": dataset.report}, indent=2))
    if not args.dry_run:
        from kgrec.data.io import save_dataset

        print(f"written to {save_dataset(dataset, args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
