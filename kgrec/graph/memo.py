"""One memo for everything derived from a ``build_graph`` graph (CKG, link matrices, KGIN's
sparse structure, ...): built once per graph object and key, kept while the graph lives.

Entries are keyed by the graph object; replacing any of its edge tensors (``graph[...].
edge_index = ...``, an ``edge_type`` or ``item.entity_index``) drops them, modifying a tensor in
place does not: treat graphs as immutable.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any

from torch import Tensor

__all__ = ["memoised"]

# id(graph) -> (weak reference to the graph, the source tensors, {key: value})
_MEMO: dict[int, tuple[weakref.ref, tuple[Tensor, ...], dict[Hashable, Any]]] = {}


def _sources(graph: Any) -> tuple[Tensor, ...]:
    """Every edge tensor of the graph (and the items' entity alignment), compared by identity."""
    out: list[Tensor] = []
    for edge_type in getattr(graph, "edge_types", ()):
        store = graph[edge_type]
        out += [store[name] for name in ("edge_index", "edge_type") if name in store]
    if "item" in getattr(graph, "node_types", ()) and "entity_index" in graph["item"]:
        out.append(graph["item"].entity_index)
    return tuple(out)


def _forget(gid: int, table: dict[Hashable, Any]) -> None:
    hit = _MEMO.get(gid)
    if hit is not None and hit[2] is table:
        del _MEMO[gid]


def memoised(graph: Any, key: Hashable, build: Callable[[], Any]) -> Any:
    """``build()``, computed once per ``(graph object, key)`` and kept while ``graph`` lives."""
    gid = id(graph)
    sources = _sources(graph)
    hit = _MEMO.get(gid)
    if (
        hit is None
        or hit[0]() is not graph
        or len(hit[1]) != len(sources)
        or not all(a is b for a, b in zip(hit[1], sources, strict=True))
    ):
        table: dict[Hashable, Any] = {}
        _MEMO[gid] = (weakref.ref(graph), sources, table)
        weakref.finalize(graph, _forget, gid, table)
    else:
        table = hit[2]
    if key not in table:
        table[key] = build()
    return table[key]
