"""Attribute links and the union graph: the sparse matrices of cold-start encoders.

Two views of a :func:`kgrec.graph.build_graph` graph, each built once per graph object and
memoised (no Python loop over edges; a rebuild happens only when one of the graph's edge tensors
is replaced):

- :func:`attribute_links`: the row-normalised ``item x entity`` and ``user x entity`` link
  matrices an attribute encoder averages entity embeddings with, plus which items / users are
  warm (have a training interaction).
- :func:`union_adjacency`: ``D^-1/2 A D^-1/2`` over users, entities and items together (user-item,
  item-entity, entity-entity and optionally user-entity edges), for KG-aware LightGCN.

An item's **attributes** are the KG neighbours of its aligned entity ``e(i)`` (``item.
entity_index``), in either direction, without ``e(i)`` itself (that entity is the item's own
identity in the KG, as untrained for a cold item as an id vector). Item attribute columns read
from files (``genre=Comedy``) are triples from ``e(i)``, so they are covered. A user's
attributes are the tails of its ``(user, has, entity)`` links.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from kgrec.graph.memo import memoised as _memoised

__all__ = [
    "MIN_LINKS",
    "MIN_SUPPORT",
    "AttributeLinks",
    "UnionGraph",
    "attribute_links",
    "memoised",
    "union_adjacency",
]

INTERACTS = ("user", "interacts", "item")
KG = ("entity", "relates", "entity")
USER_ENTITY = ("user", "has", "entity")


def _require(graph: Any) -> None:
    node_types = set(getattr(graph, "node_types", ()))
    edge_types = set(getattr(graph, "edge_types", ()))
    missing = [t for t in ("user", "item", "entity") if t not in node_types]
    missing += [str(t) for t in (INTERACTS, KG, USER_ENTITY) if t not in edge_types]
    if not missing and "entity_index" not in graph["item"]:
        missing = ["item.entity_index"]
    if missing:
        raise ValueError(
            f"expected a graph from kgrec.graph.build_graph(train) (got one without {missing}); "
            "build it with kgrec.graph.build_graph"
        )


def memoised(graph: Any, key: Hashable, build: Callable[[], Any]) -> Any:
    """``build()``, once per ``(graph object, key)`` (:func:`kgrec.graph.memo.memoised`), for a
    graph from ``build_graph``.

    Replacing one of the graph's edge tensors (``graph[...].edge_index = ...``) drops the cached
    values; modifying a tensor in place does not: treat graphs as immutable.
    """
    _require(graph)
    return _memoised(graph, key, build)


def _csr(rows: Tensor, cols: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    """A coalesced float32 sparse CSR matrix with int32 indices (duplicates summed)."""
    coo = torch.sparse_coo_tensor(
        torch.stack([rows, cols]), values.to(torch.float32), shape, check_invariants=False
    ).coalesce()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        csr = coo.to_sparse_csr()
        # int32 indices: torch converts int64 ones on every product (about 20% slower)
        return torch.sparse_csr_tensor(
            csr.crow_indices().to(torch.int32),
            csr.col_indices().to(torch.int32),
            csr.values(),
            shape,
            check_invariants=False,
        )


def _row_mean(rows: Tensor, cols: Tensor, num_rows: int, num_cols: int) -> Tensor:
    """Binary links ``(rows, cols)`` (duplicates merged) -> CSR with each row summing to 1."""
    if rows.numel() == 0:
        return _csr(rows, cols, torch.zeros(0), (num_rows, num_cols))
    key = torch.unique(rows * num_cols + cols)  # merge duplicate links
    rows, cols = key // num_cols, key % num_cols
    deg = torch.bincount(rows, minlength=num_rows).to(torch.float32)
    return _csr(rows, cols, 1.0 / deg[rows], (num_rows, num_cols))


# ---------------------------------------------------------------------- attribute links
#: defaults of :func:`attribute_links`, shared by the encoders' signatures
MIN_SUPPORT = 1
MIN_LINKS = 2


@dataclass(eq=False, frozen=True)
class AttributeLinks:
    """The link matrices of :func:`attribute_links` (all on the graph's device).

    Columns are the ``K`` kept attribute entities, in ascending entity id (``entities``).

    Attributes:
        item_attr: ``[I, K]`` float32 sparse CSR, ``P[i, k] = 1 / |N(i)|`` for ``k ∈ N(i)`` (the
            item's kept attributes); rows of items without one are empty.
        user_attr: ``[U, K]`` float32 sparse CSR, the same for users' attribute links.
        item_attr_t, user_attr_t: their transposes as CSR (the backward of ``P W``).
        entities: ``[K]`` int64 entity id of each column.
        relation: ``[K]`` int64 relation of each column: the most frequent ``edge_type`` among its
            links (KG relations as the graph numbers them, user-attribute relations after them).
        num_relations: the size of that relation vocabulary.
        item_warm, user_warm: ``[I]`` / ``[U]`` bool: the node has a training interaction.
        entity_support: ``[E]`` int64, how many warm items and warm users link to each entity.
        num_entities: ``E``, the graph's entity count.
    """

    item_attr: Tensor
    user_attr: Tensor
    item_attr_t: Tensor
    user_attr_t: Tensor
    entities: Tensor
    relation: Tensor
    num_relations: int
    item_warm: Tensor
    user_warm: Tensor
    entity_support: Tensor
    num_entities: int

    @property
    def num_attributes(self) -> int:
        """``K``, the number of kept attribute entities (columns)."""
        return int(self.entities.numel())

    @property
    def item_has_attr(self) -> Tensor:
        """``[I]`` bool: the item has at least one kept attribute."""
        return self.item_attr.crow_indices().diff() > 0

    @property
    def user_has_attr(self) -> Tensor:
        """``[U]`` bool: the user has at least one kept attribute."""
        return self.user_attr.crow_indices().diff() > 0

    def to(self, device: torch.device | str) -> AttributeLinks:
        """A copy on ``device`` (self when already there)."""
        if self.item_attr.device == torch.device(device):
            return self
        return AttributeLinks(
            **{k: (v.to(device) if isinstance(v, Tensor) else v) for k, v in vars(self).items()}
        )


def _item_attribute_pairs(graph: Any) -> tuple[Tensor, Tensor, Tensor]:
    """All ``(item, attribute entity, relation)`` triples, possibly repeated: KG neighbours of
    ``e(i)`` and the ``edge_type`` of the edge that links them."""
    num_entities = int(graph["entity"].num_nodes)
    entity_index = graph["item"].entity_index
    kg = graph[KG].edge_index
    device = kg.device
    if entity_index.numel() and int(entity_index.max()) >= num_entities:
        raise ValueError(
            f"expected item.entity_index < {num_entities} entities (got {int(entity_index.max())})"
        )
    # entity -> the items aligned to it, as CSR over entities (several items may share one)
    aligned = torch.nonzero(entity_index >= 0).flatten()
    ent_of = entity_index[aligned]
    order = torch.argsort(ent_of, stable=True)
    items_by_entity = aligned[order]
    ptr = torch.zeros(num_entities + 1, dtype=torch.long, device=device)
    ptr[1:] = torch.cumsum(torch.bincount(ent_of, minlength=num_entities), 0)
    # both directions of every KG edge: (src entity, neighbour entity)
    src = torch.cat([kg[0], kg[1]])
    nbr = torch.cat([kg[1], kg[0]])
    rel = graph[KG].edge_type.repeat(2)
    count = ptr[src + 1] - ptr[src]  # items aligned to each edge's source entity
    keep = (count > 0) & (src != nbr)
    src, nbr, rel, count = src[keep], nbr[keep], rel[keep], count[keep]
    # expand each edge once per item aligned to its source (vectorised repeat_interleave)
    edge = torch.repeat_interleave(torch.arange(src.numel(), device=device), count)
    first = torch.repeat_interleave(ptr[src], count)
    offset = torch.arange(edge.numel(), device=device) - torch.repeat_interleave(
        torch.cumsum(count, 0) - count, count
    )
    items = items_by_entity[first + offset]
    attrs = nbr[edge]
    # never an item's own aligned entity (a shared entity of two items is their identity too)
    own = entity_index[items] == attrs
    return items[~own], attrs[~own], rel[edge][~own]


def attribute_links(
    graph: Any,
    *,
    min_support: int = MIN_SUPPORT,
    min_links: int = MIN_LINKS,
    user_links: bool = True,
) -> AttributeLinks:
    """The item / user attribute matrices of ``graph`` (memoised per graph and arguments).

    ``N(i)`` is the set of KG neighbours of the item's aligned entity (not the entity itself);
    ``N(u)`` the user's attribute entities. An entity ``e`` is kept when

    - at least ``min_support`` *warm* items and users link to it together (default 1): an
      entity that no training interaction reaches has an embedding nothing trains, and would
      only add noise to cold items' means;
    - at least ``min_links`` items, or users, link to it in all, warm or cold (default 2): an
      entity of a single item (an actor in one film) is that item's identity, not an attribute
      it shares; kept, it would let item-id dropout be bypassed by memorising it.

    ``P[i, k] = 1 / |N(i)|`` over the kept attributes; the columns are the kept entities only.

    Args:
        graph: a :func:`kgrec.graph.build_graph` graph.
        min_support: warm links a kept entity needs (>= 0), default 1.
        min_links: links in all a kept entity needs (>= 0), default 2.
        user_links: build ``user_attr`` from ``(user, has, entity)`` (default); False leaves it
            empty.

    Returns:
        :class:`AttributeLinks` (``[I, K]``, ``[U, K]``).
    """
    if int(min_support) < 0 or int(min_links) < 0:
        raise ValueError(
            f"expected min_support >= 0 and min_links >= 0 (got {min_support}, {min_links})"
        )
    args = (int(min_support), int(min_links), bool(user_links))
    return memoised(graph, ("attribute_links", *args), lambda: _build_attribute_links(graph, *args))


def _distinct_per_entity(rows: Tensor, cols: Tensor, num_entities: int) -> Tensor:
    """``[E]`` int64: the number of distinct rows linked to each entity."""
    key = torch.unique(rows * num_entities + cols)
    return torch.bincount(key % num_entities, minlength=num_entities)


def _build_attribute_links(
    graph: Any, min_support: int, min_links: int, user_links: bool
) -> AttributeLinks:
    num_users = int(graph["user"].num_nodes)
    num_items = int(graph["item"].num_nodes)
    num_entities = int(graph["entity"].num_nodes)
    ui = graph[INTERACTS].edge_index
    device = ui.device
    item_warm = torch.zeros(num_items, dtype=torch.bool, device=device)
    item_warm[ui[1]] = True
    user_warm = torch.zeros(num_users, dtype=torch.bool, device=device)
    user_warm[ui[0]] = True

    items, i_attr, i_rel = _item_attribute_pairs(graph)
    num_kg_rel = int(graph[KG].edge_type.max()) + 1 if i_rel.numel() else 0
    if user_links:
        ua = graph[USER_ENTITY].edge_index
        users, u_attr = ua[0], ua[1]
        u_rel = graph[USER_ENTITY].edge_type + num_kg_rel  # user relations after the KG's
    else:
        users = u_attr = u_rel = torch.zeros(0, dtype=torch.long, device=device)
    num_relations = max(num_kg_rel, int(u_rel.max()) + 1 if u_rel.numel() else 0, 1)

    wi, wu = item_warm[items], user_warm[users]
    support = _distinct_per_entity(items[wi], i_attr[wi], num_entities)
    support += _distinct_per_entity(users[wu], u_attr[wu], num_entities)
    links = torch.maximum(
        _distinct_per_entity(items, i_attr, num_entities),
        _distinct_per_entity(users, u_attr, num_entities),
    )
    kept = (support >= min_support) & (links >= min_links)
    column = torch.cumsum(kept, 0) - 1  # entity -> column (valid where kept)
    entities = torch.nonzero(kept).flatten()
    k = int(entities.numel())
    ki, ku = kept[i_attr], kept[u_attr]
    item_attr = _row_mean(items[ki], column[i_attr[ki]], num_items, k)
    user_attr = _row_mean(users[ku], column[u_attr[ku]], num_users, k)
    # each column's relation: the most frequent one among its links
    cols = torch.cat([column[i_attr[ki]], column[u_attr[ku]]])
    rels = torch.cat([i_rel[ki], u_rel[ku]])
    counts = torch.bincount(cols * num_relations + rels, minlength=k * num_relations)
    relation = counts.view(k, num_relations).argmax(1) if k else cols.new_zeros(0)
    return AttributeLinks(
        item_attr=item_attr,
        user_attr=user_attr,
        item_attr_t=_transpose(item_attr),
        user_attr_t=_transpose(user_attr),
        entities=entities,
        relation=relation,
        num_relations=num_relations,
        item_warm=item_warm,
        user_warm=user_warm,
        entity_support=support,
        num_entities=num_entities,
    )


def _transpose(p: Tensor) -> Tensor:
    coo = p.to_sparse_coo()
    rows, cols = coo.indices()
    return _csr(cols, rows, coo.values(), (p.shape[1], p.shape[0]))


# ---------------------------------------------------------------------- union graph
@dataclass(eq=False, frozen=True)
class UnionGraph:
    """Users, entities and items in one node space, with its normalised adjacency.

    Node layout (``N = U + K + I_unaligned``): users ``[0, U)``; the ``K`` kept entities
    ``[U, U + K)`` in ascending entity id (an aligned item *is* its entity's node, as in KGAT's
    collaborative KG); then one node per item without an entity.

    Attributes:
        adj: ``[N, N]`` float32 symmetric sparse CSR ``D^-1/2 A D^-1/2`` (isolated nodes: empty
            rows).
        rows, cols: ``[nnz]`` int64 row / column of each stored entry of ``adj``, in CSR order.
        interaction: ``[nnz]`` bool: the entry is a user-item training pair (either direction).
        item_node: ``[I]`` int64 node of each item.
        entity_node: ``[E]`` int64 node of each entity, -1 for a dropped one.
        node_is_item: ``[N]`` bool: the node is an item's.
        num_users, num_items, num_entities: sizes of the source graph.
        num_entity_nodes: ``K``; num_nodes: ``N``.
    """

    adj: Tensor
    rows: Tensor
    cols: Tensor
    interaction: Tensor
    item_node: Tensor
    entity_node: Tensor
    node_is_item: Tensor
    num_users: int
    num_items: int
    num_entities: int
    num_entity_nodes: int
    num_nodes: int

    def to(self, device: torch.device | str) -> UnionGraph:
        """A copy on ``device`` (self when already there)."""
        if self.adj.device == torch.device(device):
            return self
        return UnionGraph(
            **{k: (v.to(device) if isinstance(v, Tensor) else v) for k, v in vars(self).items()}
        )

    def without_interactions_of(self, nodes: Tensor) -> Tensor:
        """``Â`` renormalised after removing every user-item edge of the given item nodes.

        ``nodes``: ``[N]`` bool (True: drop that node's interaction edges). The pattern is kept
        (removed entries hold 0) and degrees are recomputed, so a node that loses its user edges
        is normalised exactly as a cold item is. Vectorised over the stored entries.
        """
        drop = self.interaction & (nodes[self.rows] | nodes[self.cols])
        kept = (~drop).to(self.adj.values().dtype)
        deg = torch.zeros(self.num_nodes, dtype=kept.dtype, device=kept.device).index_add_(
            0, self.rows, kept
        )
        inv_sqrt = torch.where(deg > 0, deg.clamp(min=1).rsqrt(), 0.0)
        values = inv_sqrt[self.rows] * inv_sqrt[self.cols] * kept
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return torch.sparse_csr_tensor(
                self.adj.crow_indices(),
                self.adj.col_indices(),
                values,
                self.adj.shape,
                check_invariants=False,
            )


def union_adjacency(graph: Any, *, user_links: bool = True, min_degree: int = 2) -> UnionGraph:
    """The symmetric-normalised union graph of ``graph`` (memoised per graph and arguments).

    ``A`` holds, both directions, each user-item training pair, each KG edge (relation types
    merged, duplicates and self loops dropped) and, with ``user_links`` (default True), each
    user-attribute link. Items are merged into their aligned entities, so a cold item's node
    keeps its KG edges and has no user edge. Entities with fewer than ``min_degree`` distinct
    neighbours (default 2), other than items' own, are dropped with their edges: a leaf entity
    (an actor of a single film) relays nothing between nodes and only adds parameters.
    ``Â = D^-1/2 A D^-1/2``.
    """
    args = (bool(user_links), int(min_degree))
    return memoised(graph, ("union_adjacency", *args), lambda: _build_union(graph, *args))


def _build_union(graph: Any, user_links: bool, min_degree: int) -> UnionGraph:
    num_users = int(graph["user"].num_nodes)
    num_items = int(graph["item"].num_nodes)
    num_entities = int(graph["entity"].num_nodes)
    entity_index = graph["item"].entity_index
    ui = graph[INTERACTS].edge_index
    kg = graph[KG].edge_index
    device = ui.device
    aligned = entity_index >= 0
    # ---- which entities are nodes: items' own, and those with >= min_degree neighbours
    ent_h, ent_t = kg[0], kg[1]
    if user_links:
        ua = graph[USER_ENTITY].edge_index
        # users as negative ids so that they count as distinct neighbours
        ent_h = torch.cat([ent_h, ua[1]])
        ent_t = torch.cat([ent_t, -1 - ua[0]])
    a, b = torch.cat([ent_h, ent_t]), torch.cat([ent_t, ent_h])
    is_ent = (a >= 0) & (a != b)
    span = num_entities + num_users + 1
    pair = torch.unique(a[is_ent] * span + (b[is_ent] + num_users + 1))
    degree = torch.bincount(pair // span, minlength=num_entities)
    kept = degree >= min_degree
    kept[entity_index[aligned]] = True
    entity_node = torch.full((num_entities,), -1, dtype=torch.long, device=device)
    num_entity_nodes = int(kept.sum())
    entity_node[kept] = torch.arange(num_entity_nodes, device=device) + num_users
    unaligned_rank = torch.cumsum(~aligned, 0) - 1
    item_node = torch.where(
        aligned,
        entity_node[entity_index.clamp(min=0)],
        num_users + num_entity_nodes + unaligned_rank,
    ).to(torch.long)
    num_nodes = num_users + num_entity_nodes + int((~aligned).sum())
    # ---- edges
    kg_keep = kept[kg[0]] & kept[kg[1]]
    heads = [ui[0], entity_node[kg[0, kg_keep]]]
    tails = [item_node[ui[1]], entity_node[kg[1, kg_keep]]]
    if user_links:
        ua = graph[USER_ENTITY].edge_index
        ua_keep = kept[ua[1]]
        heads.append(ua[0, ua_keep])
        tails.append(entity_node[ua[1, ua_keep]])
    h, t = torch.cat(heads), torch.cat(tails)
    rows, cols = torch.cat([h, t]), torch.cat([t, h])
    keep = rows != cols
    # unique keys are sorted row-major: exactly the CSR order of the coalesced matrix
    key = torch.unique(rows[keep] * num_nodes + cols[keep])  # binary, symmetric
    rows, cols = key // num_nodes, key % num_nodes
    inter_key = torch.cat(
        [ui[0] * num_nodes + item_node[ui[1]], item_node[ui[1]] * num_nodes + ui[0]]
    )
    interaction = torch.isin(key, inter_key)
    deg = torch.bincount(rows, minlength=num_nodes).to(torch.float32)
    inv_sqrt = deg.pow(-0.5)
    inv_sqrt[deg == 0] = 0.0
    adj = _csr(rows, cols, inv_sqrt[rows] * inv_sqrt[cols], (num_nodes, num_nodes))
    node_is_item = torch.zeros(num_nodes, dtype=torch.bool, device=device)
    node_is_item[item_node] = True
    return UnionGraph(
        adj=adj,
        rows=rows,
        cols=cols,
        interaction=interaction,
        item_node=item_node,
        entity_node=entity_node,
        node_is_item=node_is_item,
        num_users=num_users,
        num_items=num_items,
        num_entities=num_entities,
        num_entity_nodes=num_entity_nodes,
        num_nodes=num_nodes,
    )
