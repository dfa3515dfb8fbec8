"""The collaborative KG, built by hand on a tiny dataset: every node, edge and relation id."""

from __future__ import annotations

import gc

import pandas as pd
import pytest
import torch

from kgrec.data.dataset import RecDataset
from kgrec.graph import build_graph
from kgrec.graph.ckg import _MEMO, collaborative_kg


@pytest.fixture()
def data() -> RecDataset:
    """3 users, 5 items (``e`` has no entity, ``d`` and ``e`` are cold), a 2-relation KG and a
    user attribute."""
    return RecDataset.from_frames(
        pd.DataFrame({"user": ["u1", "u1", "u2", "u2", "u3"], "item": ["a", "b", "b", "c", "a"]}),
        items=["a", "b", "c", "d", "e"],
        item_entities=pd.DataFrame(
            {"item": ["a", "b", "c", "d"], "entity": ["m.a", "m.b", "m.c", "m.d"]}
        ),
        triples=pd.DataFrame(
            {
                "head": ["m.a", "m.d", "m.b"],
                "relation": ["genre", "genre", "director"],
                "tail": ["g.x", "g.x", "p.1"],
            }
        ),
        user_attributes=pd.DataFrame({"user": ["u1", "u2", "u3"], "gender": ["F", "M", "F"]}),
    )


def test_every_edge_by_hand(data: RecDataset) -> None:
    g = build_graph(data)
    ckg = collaborative_kg(g)
    U, n_items, E, R = data.num_users, data.num_items, data.num_entities, data.num_relations  # noqa: N806
    assert (U, n_items, E, R) == (3, 5, 8, 3)  # entities: m.a-d, g.x, p.1, gender=F, gender=M

    def user(raw: str) -> int:
        return int(data.users.to_index([raw])[0])

    def ent(raw: str) -> int:
        return U + int(data.entities.to_index([raw])[0])

    def rel(raw: str) -> int:
        return int(data.relations.to_index([raw])[0])

    item = {"a": ent("m.a"), "b": ent("m.b"), "c": ent("m.c"), "d": ent("m.d"), "e": U + E}
    assert ckg.num_nodes == U + E + 1
    assert ckg.user_node.tolist() == [0, 1, 2]
    assert ckg.item_node.tolist() == [
        item[r] for r in data.items.to_raw(torch.arange(n_items).numpy())
    ]

    K = 2 * R  # noqa: N806  the graph's KG relations, forward and reverse
    assert ckg.num_kg_relations == K
    assert ckg.num_relations == 2 + K + 2  # one user attribute relation (gender), both ways
    expected = set()
    for u, i in [("u1", "a"), ("u1", "b"), ("u2", "b"), ("u2", "c"), ("u3", "a")]:
        expected |= {(user(u), 0, item[i]), (item[i], 1, user(u))}
    for h, r, t in [("m.a", "genre", "g.x"), ("m.d", "genre", "g.x"), ("m.b", "director", "p.1")]:
        expected |= {(ent(h), 2 + rel(r), ent(t)), (ent(t), 2 + R + rel(r), ent(h))}
    for u, v in [("u1", "gender=F"), ("u2", "gender=M"), ("u3", "gender=F")]:
        expected |= {(user(u), 2 + K, ent(v)), (ent(v), 2 + K + 1, user(u))}
    got = list(
        zip(
            ckg.edge_index[0].tolist(),
            ckg.edge_type.tolist(),
            ckg.edge_index[1].tolist(),
            strict=True,
        )
    )
    assert len(got) == len(expected) == 5 * 2 + 3 * 2 + 3 * 2
    assert set(got) == expected
    assert ckg.user_relation_ids.tolist() == [rel("gender")]

    # sorted by relation, relation_ptr slices, and the knowledge triples are the tail slice
    assert torch.all(ckg.edge_type[1:] >= ckg.edge_type[:-1])
    for r in range(ckg.num_relations):
        heads, tails = ckg.relation_edges(r)
        assert {(h, t) for h, rr, t in expected if rr == r} == set(
            zip(heads.tolist(), tails.tolist(), strict=True)
        )
    assert ckg.num_interaction_edges == 10 and ckg.num_triples == 12
    assert set(ckg.triple_type.tolist()).isdisjoint({0, 1})
    # a view, not a copy (1M-triple KGs must not be duplicated)
    assert (
        ckg.triple_index.untyped_storage().data_ptr() == ckg.edge_index.untyped_storage().data_ptr()
    )
    assert ckg.entity_nodes == (U, U + E + 1)


def test_memoised_per_graph(data: RecDataset) -> None:
    g = build_graph(data)
    first = collaborative_kg(g)
    assert collaborative_kg(g) is first
    other = build_graph(data)
    assert collaborative_kg(other) is not first
    assert torch.equal(collaborative_kg(other).edge_index, first.edge_index)
    # replacing a source tensor rebuilds
    g["user", "interacts", "item"].edge_index = (
        g["user", "interacts", "item"].edge_index[:, :2].clone()
    )
    rebuilt = collaborative_kg(g)
    assert rebuilt is not first and rebuilt.num_interaction_edges == 4
    # the memo entry goes with the graph
    key = id(other)
    assert key in _MEMO
    del other
    gc.collect()
    assert key not in _MEMO


def test_empty_kg_and_no_user_links() -> None:
    ds = RecDataset.from_frames(pd.DataFrame({"user": [1, 1, 2], "item": [1, 2, 2]}))
    ckg = collaborative_kg(build_graph(ds))
    assert ckg.num_nodes == 2 + 2  # two users, two unaligned items
    assert ckg.num_relations == 2 and ckg.num_triples == 0
    assert ckg.item_node.tolist() == [2, 3]


def test_rejects_a_graph_without_kg_types() -> None:
    from torch_geometric.data import HeteroData

    g = HeteroData()
    g["user"].num_nodes = 2
    with pytest.raises(ValueError, match="expected a graph from kgrec.graph.build_graph"):
        collaborative_kg(g)
