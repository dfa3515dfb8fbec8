"""Convert a KGCN / RippleNet / MKR folder (ratings, kg.txt, item_index2entity_id.txt) into a processed kgrec folder.

A thin wrapper over ``kgrec convert kgcn`` (the same options; ``--help`` lists them)::

    python datasets/convert_kgcn.py path/to/MovieLens-1M data/ml-1m-kgcn --ratings-file ratings.dat
"""

import sys

from kgrec.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", "kgcn", *sys.argv[1:]]))
