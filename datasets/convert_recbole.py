"""Convert RecBole atomic files (.inter / .item / .user / .kg / .link) into a processed kgrec folder.

A thin wrapper over ``kgrec convert recbole`` (the same options; ``--help`` lists them)::

    python datasets/convert_recbole.py ../shared/datasets/ml-100k-kg data/ml-100k-kg --name ml-100k
"""

import sys

from kgrec.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", "recbole", *sys.argv[1:]]))
