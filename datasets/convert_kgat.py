"""Convert a KGAT / KGIN / LightGCN folder (train.txt, test.txt, kg_final.txt, *_list.txt) into a processed kgrec folder.

A thin wrapper over ``kgrec convert kgat`` (the same options; ``--help`` lists them)::

    python datasets/convert_kgat.py ../shared/datasets/amazon-book-kgat data/amazon-book-kgat
"""

import sys

from kgrec.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", "kgat", *sys.argv[1:]]))
