"""Build the heterogeneous training graph (PyG ``HeteroData``) from a dataset's training part."""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import HeteroData

from kgrec.data.dataset import RecDataset
from kgrec.graph.bipartite import normalized_adjacency

INTERACTS = ("user", "interacts", "item")
REV_INTERACTS = ("item", "rev_interacts", "user")
ITEM_ENTITY = ("item", "is", "entity")
ENTITY_ITEM = ("entity", "rev_is", "item")
KG = ("entity", "relates", "entity")
USER_ENTITY = ("user", "has", "entity")
ENTITY_USER = ("entity", "rev_has", "user")


def _long(values: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(values, dtype=np.int64, copy=True))


def build_graph(train: RecDataset, *, reverse_relations: bool = True) -> HeteroData:
    """The graph every encoder consumes, built from ``train``'s interactions only.

    Node types ``user``, ``item``, ``entity`` keep their local ids. Edge types:

    - ``(user, interacts, item)`` and its reverse ``(item, rev_interacts, user)``;
    - ``(item, is, entity)`` / ``(entity, rev_is, item)`` from ``item.entity_index``;
    - ``(entity, relates, entity)`` with an ``edge_type`` tensor; with ``reverse_relations`` the
      reverse of relation ``r`` is added as relation ``r + R`` (``graph.num_kg_relations = 2R``);
    - ``(user, has, entity)`` / ``(entity, rev_has, user)`` for user attribute links, with
      ``edge_type`` holding the attribute's relation.

    ``graph.norm_adj`` is the symmetric-normalised user-item adjacency as sparse CSR, computed
    once here. Cold items (no training pair) are nodes with only entity edges.
    """
    inter = train.interactions.sort_values(["user", "item"], kind="stable")
    users = inter["user"].to_numpy()
    items = inter["item"].to_numpy()
    data = HeteroData()
    data["user"].num_nodes = train.num_users
    data["item"].num_nodes = train.num_items
    data["entity"].num_nodes = train.num_entities
    data["item"].entity_index = _long(train.item_entity)

    data[INTERACTS].edge_index = torch.stack([_long(users), _long(items)])
    data[REV_INTERACTS].edge_index = torch.stack([_long(items), _long(users)])

    linked = np.flatnonzero(train.item_entity >= 0)
    ent = train.item_entity[linked]
    data[ITEM_ENTITY].edge_index = torch.stack([_long(linked), _long(ent)])
    data[ENTITY_ITEM].edge_index = torch.stack([_long(ent), _long(linked)])

    n_rel = train.num_relations
    head = train.triples["head"].to_numpy()
    rel = train.triples["relation"].to_numpy()
    tail = train.triples["tail"].to_numpy()
    if reverse_relations:
        head, tail, rel = np.concatenate([head, tail]), np.concatenate([tail, head]), np.concatenate([rel, rel + n_rel])
    data[KG].edge_index = torch.stack([_long(head), _long(tail)])
    data[KG].edge_type = _long(rel)
    data.num_kg_relations = 2 * n_rel if reverse_relations else n_rel

    ul = train.user_links
    data[USER_ENTITY].edge_index = torch.stack([_long(ul["user"].to_numpy()), _long(ul["entity"].to_numpy())])
    data[USER_ENTITY].edge_type = _long(ul["relation"].to_numpy())
    data[ENTITY_USER].edge_index = data[USER_ENTITY].edge_index.flip(0)

    data.norm_adj = normalized_adjacency(users, items, num_users=train.num_users, num_items=train.num_items)
    return data
