"""The ``kgrec`` command line: a thin layer over the Python API.

Each sub-command lives in a small module with ``add_parser(subparsers)``; ``main`` only wires
them together, so ``python -m kgrec`` and the console script behave the same.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from kgrec import __version__


def build_parser() -> argparse.ArgumentParser:
    from kgrec.cli import data, demo, explain, fuse, train

    parser = argparse.ArgumentParser(
        prog="kgrec", description="Graph and knowledge-graph recommendation: convert, split, train, evaluate."
    )
    parser.add_argument("--version", action="version", version=f"kgrec {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (data, train, fuse, explain, demo):
        module.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2) if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, FileNotFoundError, TypeError) as exc:
        if args.verbose >= 2:
            raise
        print(f"kgrec {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
