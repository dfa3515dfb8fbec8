"""KG-LightGCN against a dense reference on a tiny union graph of users, items and entities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.data.dataset import RecDataset
from kgrec.graph import build_graph
from kgrec.graph.links import attribute_links, union_adjacency
from kgrec.models import KGLightGCN, get_encoder

PAIRS = [("u1", "a"), ("u1", "b"), ("u2", "b"), ("u2", "c"), ("u3", "a")]


@pytest.fixture(scope="module")
def tiny():
    # items a, b, c warm and d cold; e has no entity. Entities: g.x (a, b, d), g.y (c), p.1
    # (a, c), leaf p.9 (only b): dropped from the union graph (min_degree 2).
    ds = RecDataset.from_frames(
        pd.DataFrame(PAIRS, columns=["user", "item"]),
        items=["e"],
        item_entities=pd.DataFrame({"item": list("abcd"), "entity": ["m.a", "m.b", "m.c", "m.d"]}),
        triples=pd.DataFrame(
            {
                "head": ["m.a", "m.b", "m.d", "m.c", "m.a", "m.c", "m.b"],
                "relation": ["genre", "genre", "genre", "genre", "actor", "actor", "actor"],
                "tail": ["g.x", "g.x", "g.x", "g.y", "p.1", "p.1", "p.9"],
            }
        ),
        user_attributes=pd.DataFrame({"user": ["u1", "u2", "u3"], "gender": ["F", "M", "F"]}),
    )
    return ds, build_graph(ds)


def dense_union(ds: RecDataset, union, *, drop_items=()) -> np.ndarray:
    """The normalised union adjacency by hand: node ids from ``union`` (checked separately)."""
    n = union.num_nodes
    a = np.zeros((n, n))
    node = lambda name: int(union.entity_node[int(ds.entities.to_index([name])[0])])  # noqa: E731
    item_node = {i: int(union.item_node[int(ds.items.to_index([i])[0])]) for i in "abcde"}
    user = {u: int(ds.users.to_index([u])[0]) for u in ["u1", "u2", "u3"]}
    edges = [(user[u], item_node[i]) for u, i in PAIRS if i not in drop_items]
    edges += [
        (item_node["a"], node("g.x")),
        (item_node["b"], node("g.x")),
        (item_node["d"], node("g.x")),
    ]
    edges += [(item_node["a"], node("p.1")), (item_node["c"], node("p.1"))]  # g.y, p.9: dropped
    edges += [(user["u1"], node("gender=F")), (user["u3"], node("gender=F"))]
    for x, y in edges:
        a[x, y] = a[y, x] = 1.0
    deg = a.sum(1)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
    return inv[:, None] * a * inv[None, :]


def test_union_adjacency_matches_hand_computation(tiny):
    ds, graph = tiny
    union = union_adjacency(graph)
    # kept entity nodes: m.a..m.d (items), g.x, p.1, gender=F; dropped: g.y, p.9, gender=M
    kept = {ds.entities.raw_ids[e] for e in np.flatnonzero(union.entity_node.numpy() >= 0)}
    assert kept == {"m.a", "m.b", "m.c", "m.d", "g.x", "p.1", "gender=F"}
    assert union.num_nodes == 3 + 7 + 1  # users, entity nodes, item e without an entity
    # g.y has one neighbour (c), so it is dropped although it is c's genre
    g_y = int(ds.entities.to_index(["g.y"])[0])
    assert int(union.entity_node[g_y]) == -1
    want = dense_union(ds, union)
    np.testing.assert_allclose(union.adj.to_dense().numpy(), want, rtol=1e-6, atol=1e-7)
    # dropping the interactions of item b renormalises as if b had none
    b = int(union.item_node[int(ds.items.to_index(["b"])[0])])
    nodes = torch.zeros(union.num_nodes, dtype=torch.bool)
    nodes[b] = True
    np.testing.assert_allclose(
        union.without_interactions_of(nodes).to_dense().numpy(),
        dense_union(ds, union, drop_items=("b",)),
        rtol=1e-6,
        atol=1e-7,
    )
    assert union_adjacency(graph) is union  # memoised


@pytest.mark.parametrize("attribute_ego", [False, True])
def test_forward_matches_dense_reference(tiny, attribute_ego):
    ds, graph = tiny
    torch.manual_seed(0)
    model = KGLightGCN.from_data(graph, embedding_dim=4, num_layers=2, attribute_ego=attribute_ego)
    with torch.no_grad():
        model.entity_embedding.weight.normal_()
    model.eval()
    users, items = model(graph)
    union = union_adjacency(graph)
    links = attribute_links(graph)
    warm = links.item_warm
    item_ego = (
        torch.where(warm[:, None], model.item_embedding.weight, 0.0).detach().double().numpy()
    )
    user_ego = model.user_embedding.weight.detach().double().numpy().copy()
    table = model.entity_embedding.weight.detach().double().numpy()
    if attribute_ego:
        rows = np.array([table[int(union.entity_node[e]) - 3] for e in links.entities.tolist()])
        item_ego = item_ego + links.item_attr.to_dense().double().numpy() @ rows
        user_ego = user_ego + links.user_attr.to_dense().double().numpy() @ rows
    x0 = np.zeros((union.num_nodes, 4))
    x0[:3] = user_ego
    x0[3 : 3 + union.num_entity_nodes] = table
    item_node = union.item_node.numpy()
    x0[item_node] = item_ego  # item nodes hold the item's ego, not their entity row
    a_hat = dense_union(ds, union)
    out = (x0 + a_hat @ x0 + a_hat @ a_hat @ x0) / 3
    np.testing.assert_allclose(users.detach().double().numpy(), out[:3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        items.detach().double().numpy(), out[item_node], rtol=1e-5, atol=1e-6
    )


def test_cold_item_has_no_user_edge_and_no_id(tiny):
    ds, graph = tiny
    union = union_adjacency(graph)
    d = int(ds.items.to_index(["d"])[0])
    node = int(union.item_node[d])
    neighbours = union.cols[union.rows == node]
    assert (neighbours >= 3).all()  # entities only
    torch.manual_seed(0)
    model = get_encoder("kglightgcn").from_data(graph)
    with torch.no_grad():
        model.entity_embedding.weight.normal_()
    model.eval()
    with torch.no_grad():
        _, items = model(graph)
        model.item_embedding.weight[d] += 50.0
        _, items2 = model(graph)
    torch.testing.assert_close(items[d], items2[d])
    assert items[d].abs().sum() > 0


def test_wrong_sizes_raise(tiny):
    _, graph = tiny
    model = KGLightGCN.from_data(graph)
    assert model.num_entity_nodes == union_adjacency(graph).num_entity_nodes
    with pytest.raises(ValueError, match="entity nodes"):
        KGLightGCN(3, 5, num_entity_nodes=99, relation_weights=False)(graph)
    with pytest.raises(ValueError, match="layer_weights"):
        KGLightGCN(3, 5, num_entity_nodes=7, num_layers=2, layer_weights=[1.0])
