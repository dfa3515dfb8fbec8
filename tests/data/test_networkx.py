"""networkx export / import: the typed-node convention and an exact round trip in raw ids."""

from __future__ import annotations

import networkx as nx
import pandas as pd
import pytest

from kgrec.data.dataset import RecDataset
from kgrec.data.readers.networkx import from_networkx, to_networkx
from kgrec.exceptions import DataFormatError


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def _alignment(ds: RecDataset) -> dict:
    return {
        ds.items.to_raw(i): ds.entities.to_raw(e) for i, e in enumerate(ds.item_entity) if e >= 0
    }


def _user_links(ds: RecDataset) -> set[tuple]:
    ul = ds.user_links
    return set(
        zip(
            ds.users.to_raw(ul["user"].to_numpy()).tolist(),
            ds.relations.to_raw(ul["relation"].to_numpy()).tolist(),
            ds.entities.to_raw(ul["entity"].to_numpy()).tolist(),
            strict=True,
        )
    )


def test_convention(tiny: RecDataset) -> None:
    g = to_networkx(tiny)
    assert isinstance(g, nx.MultiDiGraph)
    assert g.nodes[("user", "u1")]["type"] == "user"
    assert g.nodes[("item", "d")]["type"] == "item"  # cold item still a node
    assert g.nodes[("entity", "g.x")]["type"] == "entity"
    edge = g.get_edge_data(("user", "u1"), ("item", "a"))["interacts"]
    assert edge == {"relation": "interacts", "rating": 5.0, "timestamp": 10.0}
    assert g.has_edge(("item", "a"), ("entity", "m.a"), key="is_entity")
    assert (
        g.get_edge_data(("entity", "m.b"), ("entity", "p.1"))["director"]["relation"] == "director"
    )
    assert g.has_edge(("user", "u2"), ("entity", "gender=M"), key="gender")
    n_edges = (
        tiny.num_interactions
        + int((tiny.item_entity >= 0).sum())
        + len(tiny.triples)
        + len(tiny.user_links)
    )
    assert g.number_of_edges() == n_edges
    assert g.number_of_nodes() == tiny.num_users + tiny.num_items + tiny.num_entities


def test_round_trip(tiny: RecDataset) -> None:
    back = from_networkx(to_networkx(tiny))
    assert back.name == "tiny"
    assert _sorted(back.raw_interactions()).equals(_sorted(tiny.raw_interactions()))
    assert _alignment(back) == _alignment(tiny)
    assert _sorted(back.raw_triples()).equals(_sorted(tiny.raw_triples()))
    assert _user_links(back) == _user_links(tiny)
    assert set(back.items.raw_ids.tolist()) == set(tiny.items.raw_ids.tolist())
    assert set(back.users.raw_ids.tolist()) == set(tiny.users.raw_ids.tolist())


def test_round_trip_int_ids_and_attributes() -> None:
    ds = RecDataset.from_frames(
        pd.DataFrame(
            {"user": [1, 1, 2], "item": [10, 20, 10], "rating": [5, 3, 4], "timestamp": [1, 2, 3]}
        ),
        item_attributes=pd.DataFrame(
            {
                "item": [10, 20, 30],
                "genre": [["Drama", "Crime"], [], ["Comedy"]],
                "year": [1995, None, 2001],
            }
        ),
        user_attributes=pd.DataFrame(
            {"user": [1, 2, 3], "age": [24, 53, 30], "gender": ["M", "F", "F"]}
        ),
        triples=pd.DataFrame(
            {"head": ["genre=Drama"], "relation": ["broader"], "tail": ["genre=Fiction"]}
        ),
    )
    back = from_networkx(to_networkx(ds))
    assert back.items.raw_ids.dtype.kind == "i" and back.users.raw_ids.dtype.kind == "i"
    assert _sorted(back.raw_interactions()).equals(_sorted(ds.raw_interactions()))
    assert _sorted(back.raw_triples()).equals(_sorted(ds.raw_triples()))
    assert _user_links(back) == _user_links(ds)
    assert _alignment(back) == _alignment(ds)
    assert back.num_users == 3  # user 3 has links only


def test_undirected_and_plain_nodes() -> None:
    g = nx.Graph()
    g.add_node("alice", type="user")
    g.add_node("film", type="item")
    g.add_node("Q1", type="entity")
    g.add_edge("film", "alice", relation="interacts", rating=4.0)  # item -> user: reoriented
    g.add_edge("Q1", "film", relation="is_entity")
    ds = from_networkx(g, name="plain")
    assert ds.raw_interactions().to_dict("records") == [
        {"user": "alice", "item": "film", "rating": 4.0}
    ]
    assert _alignment(ds) == {"film": "Q1"}


def test_errors() -> None:
    g = nx.MultiDiGraph()
    g.add_node("x")
    with pytest.raises(DataFormatError, match="type"):
        from_networkx(g)
    g = nx.MultiDiGraph()
    g.add_edge(("user", 1), ("item", 2))
    nx.set_node_attributes(g, {("user", 1): "user", ("item", 2): "item"}, "type")
    with pytest.raises(DataFormatError, match="relation"):
        from_networkx(g)
    g = nx.MultiDiGraph()
    g.add_edge(("user", 1), ("user", 2), relation="follows")
    g.add_edge(("user", 1), ("item", 2), relation="interacts")
    with pytest.raises(DataFormatError, match="follows"):
        from_networkx(g)
