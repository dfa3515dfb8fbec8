from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from kgrec.data.dataset import RecDataset
from kgrec.graph import build_graph, normalized_adjacency


def test_normalised_adjacency_by_hand() -> None:
    # users 0,1; items 0,1: u0-i0, u0-i1, u1-i0. Degrees: u0 2, u1 1, i0 2, i1 1.
    adj = normalized_adjacency(np.array([0, 0, 1]), np.array([0, 1, 0]), num_users=2, num_items=2).to_dense()
    def s(d: float) -> float:
        return 1 / np.sqrt(d)

    expected = np.zeros((4, 4))
    expected[0, 2] = expected[2, 0] = s(2) * s(2)
    expected[0, 3] = expected[3, 0] = s(2) * s(1)
    expected[1, 2] = expected[2, 1] = s(1) * s(2)
    np.testing.assert_allclose(adj.numpy(), expected, rtol=1e-6)
    assert torch.equal(adj, adj.T)


def test_isolated_nodes_get_zero_rows() -> None:
    adj = normalized_adjacency(np.array([0]), np.array([0]), num_users=2, num_items=3).to_dense()
    assert adj[1].abs().sum() == 0 and adj[:, 4].abs().sum() == 0 and adj[0, 2] == 1.0


def test_hetero_graph_every_edge(tiny: RecDataset) -> None:
    train = tiny.subset(np.array([0, 1, 2, 3]))  # drop (u3, a): not in the graph
    g = build_graph(train)
    assert (g["user"].num_nodes, g["item"].num_nodes, g["entity"].num_nodes) == (3, 4, 8)
    ui = g["user", "interacts", "item"].edge_index
    assert ui.tolist() == [[0, 0, 1, 1], [0, 1, 1, 2]]
    assert g["item", "rev_interacts", "user"].edge_index.tolist() == [[0, 1, 1, 2], [0, 0, 1, 1]]
    assert g["item"].entity_index.tolist() == tiny.item_entity.tolist()
    assert g["item", "is", "entity"].edge_index.tolist() == [[0, 1, 2, 3], tiny.item_entity.tolist()]
    kg = g["entity", "relates", "entity"]
    r = tiny.num_relations
    got = set(zip(kg.edge_index[0].tolist(), kg.edge_type.tolist(), kg.edge_index[1].tolist(), strict=True))
    fwd = set(map(tuple, tiny.triples[["head", "relation", "tail"]].to_numpy().tolist()))
    assert got == fwd | {(t, rel + r, h) for h, rel, t in fwd}
    assert g.num_kg_relations == 2 * r
    assert g["user", "has", "entity"].edge_index.shape == (2, 3)
    # u3 has no training edge: an all-zero adjacency row, and item d is cold
    dense = g.norm_adj.to_dense()
    assert dense[2].abs().sum() == 0 and dense[3 + 3].abs().sum() == 0
    assert dense[0, 3 + 0] == torch.tensor(1 / np.sqrt(2 * 1), dtype=torch.float32)


def test_graph_uses_training_part_only() -> None:
    ds = RecDataset.from_frames(pd.DataFrame({"user": [1, 1, 2], "item": [1, 2, 2]}))
    g = build_graph(ds.subset(np.array([0])))
    assert g["user", "interacts", "item"].num_edges == 1
    assert g.norm_adj._nnz() == 2
