"""Convert CSV / TSV files with a column mapping into a processed kgrec folder.

A thin wrapper over ``kgrec convert csv`` (the same options; ``--help`` lists them)::

    python datasets/convert_csv.py ratings.csv data/mine --user-col userId --item-col movieId --rating-col rating --kg-path kg.tsv
"""

import sys

from kgrec.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", "csv", *sys.argv[1:]]))
