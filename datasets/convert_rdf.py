"""Convert an RDF graph (Turtle, N-Triples, RDF/XML) plus an interactions file into a processed kgrec folder.

A thin wrapper over ``kgrec convert rdf`` (the same options; ``--help`` lists them)::

    python datasets/convert_rdf.py kg.ttl data/mine --interactions ratings.csv --item-class http://schema.org/Movie
"""

import sys

from kgrec.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", "rdf", *sys.argv[1:]]))
