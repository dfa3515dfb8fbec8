"""The collaborative knowledge graph (CKG) of KGAT-style models: users and entities in one graph.

Wang et al., "KGAT: Knowledge Graph Attention Network for Recommendation", KDD 2019, §2:
the user-item bipartite graph and the knowledge graph are merged into one relational graph
``G = {(h, r, t)}`` in which each item *is* its aligned KG entity, so an item node carries both
its interactions and its KG edges.

Node space (``num_nodes = U + E + I_unaligned``)::

    [0, U)                users (node u = user u)
    [U, U + E)            KG entities (node U + e = entity e); an aligned item is its entity's node
    [U + E, num_nodes)    one node per item without an entity, in item order

Relation ids (``num_relations = 2 + K + 2 * R_user``)::

    0                     interacts      user -> item node
    1                     interacted by  item node -> user
    2 .. 2 + K            the graph's KG relations shifted by 2 (``K = graph.num_kg_relations``,
                          forward and reverse as ``build_graph`` made them: r and r + R)
    2 + K + j             user attribute relation j   user -> attribute entity
    2 + K + R_user + j    its reverse                  attribute entity -> user

where ``j`` numbers the distinct relation ids of ``graph["user", "has", "entity"].edge_type`` in
ascending order. Edges are stored sorted by relation (stable within a relation), so
``edge_index[:, relation_ptr[r]:relation_ptr[r + 1]]`` are the edges of relation ``r`` (a view)
and the knowledge triples (every relation >= 2, for TransR) are one contiguous slice.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch
from torch import Tensor

from kgrec.graph.links import memoised
from kgrec.graph.memo import _MEMO  # noqa: F401  (the shared memo, inspected by tests)

__all__ = ["CollaborativeKG", "collaborative_kg"]

INTERACTS = ("user", "interacts", "item")
KG = ("entity", "relates", "entity")
USER_ENTITY = ("user", "has", "entity")

#: relation ids of the interaction edges and their reverse
REL_INTERACTS, REL_INTERACTED_BY = 0, 1
#: the first KG relation id (graph KG relation r becomes r + KG_OFFSET)
KG_OFFSET = 2


@dataclass(eq=False)
class CollaborativeKG:
    """One node space of users + entities (items merged into their entities); see the module doc.

    Attributes:
        num_users, num_items, num_entities: sizes of the source graph.
        num_nodes: ``U + E + I_unaligned``.
        num_relations: ``2 + K + 2 * R_user``.
        num_kg_relations: ``K``, the graph's KG relation count (forward + reverse).
        edge_index: ``[2, M]`` int64, row 0 head, row 1 tail; sorted by relation.
        edge_type: ``[M]`` int64 relation ids (non-decreasing).
        relation_ptr: ``[num_relations + 1]`` int64: edges of relation ``r`` are
            ``relation_ptr[r]:relation_ptr[r + 1]``.
        user_node: ``[U]`` int64 node of each user (``arange(U)``).
        item_node: ``[I]`` int64 node of each item.
        user_relation_ids: ``[R_user]`` the graph's relation ids of the user attribute links, in
            the order of the CKG's user attribute relations.
        num_interaction_edges: the first ``num_interaction_edges`` edges are the interactions and
            their reverse (relations 0 and 1).
    """

    num_users: int
    num_items: int
    num_entities: int
    num_nodes: int
    num_relations: int
    num_kg_relations: int
    edge_index: Tensor
    edge_type: Tensor
    relation_ptr: Tensor
    user_node: Tensor
    item_node: Tensor
    user_relation_ids: Tensor
    num_interaction_edges: int
    _copies: dict[str, CollaborativeKG] = field(default_factory=dict, repr=False)

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    @property
    def triple_index(self) -> Tensor:
        """``[2, T]`` (head, tail) of the knowledge triples (every relation but 0 and 1), a view."""
        return self.edge_index[:, self.num_interaction_edges :]

    @property
    def triple_type(self) -> Tensor:
        """``[T]`` relation ids of the knowledge triples, a view."""
        return self.edge_type[self.num_interaction_edges :]

    @property
    def num_triples(self) -> int:
        return self.num_edges - self.num_interaction_edges

    @property
    def entity_nodes(self) -> tuple[int, int]:
        """``(first, end)``: the node range of entities and unaligned items (TransR's tails)."""
        return self.num_users, self.num_nodes

    def relation_edges(self, relation: int) -> tuple[Tensor, Tensor]:
        """``(heads [M_r], tails [M_r])`` of one relation (views)."""
        lo, hi = int(self.relation_ptr[relation]), int(self.relation_ptr[relation + 1])
        return self.edge_index[0, lo:hi], self.edge_index[1, lo:hi]

    def to(self, device: torch.device | str) -> CollaborativeKG:
        """This CKG with every tensor on ``device``: self when already there, else a copy made
        once and kept (so per-CKG caches keep working across calls)."""
        device = torch.device(device)
        if self.edge_index.device == device:
            return self
        key = str(device)
        copy = self._copies.get(key)
        if copy is None:
            values = {
                f.name: (v.to(device) if isinstance(v, Tensor) else v)
                for f in fields(self)
                if f.name != "_copies"
                for v in [getattr(self, f.name)]
            }
            copy = self._copies[key] = CollaborativeKG(**values)
        return copy

    def __repr__(self) -> str:
        return (
            f"CollaborativeKG(users={self.num_users}, items={self.num_items}, "
            f"nodes={self.num_nodes}, relations={self.num_relations}, edges={self.num_edges}, "
            f"triples={self.num_triples})"
        )


def collaborative_kg(graph: Any) -> CollaborativeKG:
    """The CKG of a ``kgrec.graph.build_graph`` graph, built once per graph object (memoised).

    The result is cached for the lifetime of ``graph`` (keyed by the object, dropped when it is
    garbage collected). Replacing one of the graph's edge tensors (``graph[...].edge_index =
    ...``) triggers a rebuild; modifying a tensor *in place* does not: treat graphs as immutable.

    Raises:
        ValueError: the graph lacks the node / edge types ``build_graph`` creates, or an item is
            aligned to an entity id outside ``[0, num_entities)``.
    """
    return memoised(graph, "collaborative_kg", lambda: _build(graph))


def _stable_order(keys: np.ndarray) -> np.ndarray:
    """``argsort(keys, kind="stable")``, a radix sort when the keys fit 16 bits.

    Relation ids are small: a counting sort is O(n) and single-threaded (building is
    memory-bound; torch's threaded sort stalls when another process holds the other cores).
    """
    if keys.size and 0 <= int(keys.min()) and int(keys.max()) < 2**15:
        keys = keys.astype(np.int16)
    return np.argsort(keys, kind="stable")


def _build(graph: Any) -> CollaborativeKG:
    sources = (
        graph[INTERACTS].edge_index,
        graph["item"].entity_index,
        graph[KG].edge_index,
        graph[KG].edge_type,
        graph[USER_ENTITY].edge_index,
        graph[USER_ENTITY].edge_type,
    )
    device = sources[0].device
    ui, entity_index, kg_index, kg_type, ua_index, ua_type = (
        t.detach().cpu().numpy().astype(np.int64, copy=False) for t in sources
    )
    num_users = int(graph["user"].num_nodes)
    num_items = int(graph["item"].num_nodes)
    num_entities = int(graph["entity"].num_nodes)
    num_kg_rel = int(getattr(graph, "num_kg_relations", 0) or 0)
    if kg_type.size:
        num_kg_rel = max(num_kg_rel, int(kg_type.max()) + 1)
    if entity_index.size != num_items:
        raise ValueError(
            f"expected item.entity_index of length {num_items} (got {entity_index.size})"
        )
    if entity_index.size and int(entity_index.max()) >= num_entities:
        raise ValueError(
            f"expected item.entity_index < {num_entities} entities (got {int(entity_index.max())})"
        )

    # ---- node ids: users, entities, then one node per unaligned item
    aligned = entity_index >= 0
    unaligned_rank = np.cumsum(~aligned) - 1
    item_node = np.where(aligned, entity_index + num_users, num_users + num_entities + unaligned_rank)
    num_nodes = num_users + num_entities + int((~aligned).sum())

    # ---- relation 0 / 1: interactions and their reverse
    u, i = ui[0], item_node[ui[1]]
    heads = [u, i]
    tails = [i, u]
    types = [np.full(u.size, REL_INTERACTS), np.full(u.size, REL_INTERACTED_BY)]
    num_interaction_edges = 2 * int(u.size)

    # ---- KG relations (forward and reverse, as the graph holds them), shifted by 2
    order = _stable_order(kg_type)
    heads.append(kg_index[0, order] + num_users)
    tails.append(kg_index[1, order] + num_users)
    types.append(kg_type[order] + KG_OFFSET)

    # ---- user attribute relations, compacted, and their reverse
    user_rel_ids, ua_local = np.unique(ua_type, return_inverse=True)
    ua_local = ua_local.reshape(-1)
    num_user_rel = int(user_rel_ids.size)
    first_ua = KG_OFFSET + num_kg_rel
    order = _stable_order(ua_local)
    ua_u, ua_e, ua_r = ua_index[0, order], ua_index[1, order] + num_users, ua_local[order]
    heads += [ua_u, ua_e]
    tails += [ua_e, ua_u]
    types += [ua_r + first_ua, ua_r + first_ua + num_user_rel]

    edge_index = np.stack([np.concatenate(heads), np.concatenate(tails)]).astype(np.int64, copy=False)
    edge_type = np.concatenate(types).astype(np.int64, copy=False)
    num_relations = first_ua + 2 * num_user_rel
    relation_ptr = np.zeros(num_relations + 1, dtype=np.int64)
    np.cumsum(np.bincount(edge_type, minlength=num_relations), out=relation_ptr[1:])

    def tensor(a: np.ndarray) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)).to(device)

    ckg = CollaborativeKG(
        num_users=num_users,
        num_items=num_items,
        num_entities=num_entities,
        num_nodes=num_nodes,
        num_relations=num_relations,
        num_kg_relations=num_kg_rel,
        edge_index=tensor(edge_index),
        edge_type=tensor(edge_type),
        relation_ptr=tensor(relation_ptr),
        user_node=tensor(np.arange(num_users)),
        item_node=tensor(item_node),
        user_relation_ids=tensor(user_rel_ids),
        num_interaction_edges=num_interaction_edges,
    )
    return ckg
