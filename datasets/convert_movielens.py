"""Convert a raw MovieLens folder (ml-100k, ml-1m, ml-latest, ml-25m) into a processed kgrec folder.

A thin wrapper over ``kgrec convert movielens`` (the same options; ``--help`` lists them)::

    python datasets/convert_movielens.py path/to/ml-100k data/ml-100k
"""

import sys

from kgrec.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", "movielens", *sys.argv[1:]]))
