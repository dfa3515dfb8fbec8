"""Readers, one module per raw format, behind one small registry used by ``kgrec convert``.

Each reader turns raw files into a validated :class:`~kgrec.data.dataset.RecDataset`. Modules
are imported only when a format is used (rdflib and friends stay unloaded otherwise).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from kgrec.data.dataset import RecDataset

#: format name -> (module, function, one-line description)
READERS: dict[str, tuple[str, str, str]] = {
    "recbole": ("kgrec.data.readers.recbole", "read_recbole", "RecBole atomic files (.inter/.item/.user/.kg/.link)"),
    "kgat": ("kgrec.data.readers.kgat", "read_kgat", "KGAT / KGIN / LightGCN text (train.txt, test.txt, kg_final.txt)"),
    "kgcn": ("kgrec.data.readers.kgcn", "read_kgcn", "KGCN / RippleNet / MKR layout (ratings, kg.txt, item_index2entity_id.txt)"),
    "movielens": ("kgrec.data.readers.movielens", "read_movielens", "MovieLens raw (ml-100k, ml-1m, ml-latest)"),
    "csv": ("kgrec.data.readers.csv", "read_csv", "generic CSV / TSV with a column mapping"),
    "rdf": ("kgrec.data.readers.rdf", "read_rdf", "RDF through rdflib (N-Triples, Turtle, RDF/XML)"),
}


def get_reader(name: str) -> Callable[..., RecDataset]:
    """The reader function of format ``name``; a wrong name lists the valid ones."""
    if name not in READERS:
        raise ValueError(f"unknown format {name!r}; valid formats: {', '.join(sorted(READERS))}")
    module, func, _ = READERS[name]
    return getattr(importlib.import_module(module), func)


def read(name: str, path: Any, /, **options: Any) -> RecDataset:
    """Read ``path`` with the reader of format ``name``, passing only the options it accepts.

    Options set to ``None`` are left at the reader's default; an option the reader does not
    take raises a ``TypeError`` naming the ones it does.
    """
    reader = get_reader(name)
    params = inspect.signature(reader).parameters
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(given) - set(params))
    if unknown:
        accepted = [p for p in params if p not in ("path", "folder")]
        raise TypeError(f"format {name!r} does not take option(s) {unknown}; it takes {accepted}")
    return reader(path, **given)
