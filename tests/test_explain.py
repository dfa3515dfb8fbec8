"""kgrec.explain: KG paths with known right answers, cold items, errors, KGAT attention, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.cli import main
from kgrec.data.dataset import RecDataset
from kgrec.data.io import save_split
from kgrec.data.split import Split
from kgrec.exceptions import NotFittedError, UnknownIdError
from kgrec.explain import Explanation, explain, knowledge_graph
from kgrec.graph import build_graph
from kgrec.graph.ckg import KG_OFFSET, REL_INTERACTS, collaborative_kg
from kgrec.recommender import Recommender

INTERACTIONS = [
    ("u1", "A"),  # u1's only training item: Alien
    ("u2", "B"), ("u2", "C"), ("u2", "E"),
    ("u3", "C"), ("u3", "F"), ("u3", "Y"),
    ("u1", "C"), ("u3", "B"),  # held out (valid, test) in the CLI run
]  # fmt: skip


def movie_world(pairs: list[tuple[str, str]]) -> RecDataset:
    items = ["A", "B", "C", "E", "F", "Y"]
    return RecDataset.from_frames(
        pd.DataFrame(pairs, columns=["user", "item"]),
        item_entities=pd.DataFrame({"item": items, "entity": [f"m.{i}" for i in items]}),
        triples=pd.DataFrame(
            [
                ("m.A", "director", "p.scott"),
                ("m.B", "director", "p.scott"),
                ("m.C", "director", "p.nolan"),
                ("m.Y", "director", "p.lynch"),
            ],
            columns=["head", "relation", "tail"],
        ),  # fmt: skip
        item_attributes=pd.DataFrame(
            {
                "item": ["A", "B", "C", "E", "F", "X"],
                "genre": ["Drama"] * 6,
                "studio": ["Fox", None, None, None, None, "Fox"],
            }
        ),
        items=["Z"],
        users=["u9"],
        name="movies",
    )


@pytest.fixture(scope="module")
def movies() -> RecDataset:
    """A (Alien) and B (Blade Runner) share the director p.scott (2 films) and the genre Drama
    (a hub of 6 items). X is cold (no interaction) and reaches A only through its attributes
    (studio Fox, genre Drama). Y links only to its own director; Z has no link at all; u9 has
    no interaction.

    By hand, for u1 (one training item, A; A has 3 KG edges):
    u1 -interacted-> A -director-> p.scott <-director- B   1 · 1/3 · 1/2 = 1/6
    u1 -interacted-> A -genre-> genre=Drama <-genre- B     1 · 1/3 · 1/6 = 1/18
    u1 -interacted-> A -studio-> studio=Fox <-studio- X    1/6
    u1 -interacted-> A -genre-> genre=Drama <-genre- X     1/18
    """
    return movie_world(INTERACTIONS[:7])


def test_shared_director_ranks_above_the_genre_hub(movies) -> None:
    paths = explain(movies, "u1", "B")
    assert isinstance(paths, Explanation) and paths.scoring == "degree" and not paths.message
    assert [str(p) for p in paths] == [
        "u1 -interacted-> A -director-> p.scott <-director- B",
        "u1 -interacted-> A -genre-> genre=Drama <-genre- B",
    ]
    director, genre = paths
    assert director.score == pytest.approx(1 / 6) and genre.score == pytest.approx(1 / 18)
    assert director.weights == pytest.approx((1.0, 1 / 3, 1 / 2))
    assert director.hops == 2 and director.via == "A"
    assert director.nodes == ("u1", "A", "p.scott", "B")
    assert [s.kind for s in director.steps] == ["item", "entity", "item"]
    assert [s.forward for s in director.steps] == [True, True, False]
    frame = paths.to_frame()
    assert list(frame["rank"]) == [1, 2] and list(frame["via"]) == ["A", "A"]
    assert frame.loc[0, "relations"] == ["interacted", "director", "director"]
    assert "1. 0.1667  u1 -interacted-> A" in str(paths)
    assert len(explain(movies, "u1", "B", max_paths=1)) == 1


def test_cold_item_is_explained_through_its_attributes(movies) -> None:
    assert not (movies.interactions["item"] == movies.items.to_index("X")).any()
    paths = explain(movies, "u1", "X")
    assert [str(p) for p in paths] == [
        "u1 -interacted-> A -studio-> studio=Fox <-studio- X",
        "u1 -interacted-> A -genre-> genre=Drama <-genre- X",
    ]
    assert [p.score for p in paths] == pytest.approx([1 / 6, 1 / 18])


def test_the_hop_limit_and_longer_paths(movies) -> None:
    short = explain(movies, "u1", "B", max_hops=1)
    assert len(short) == 0 and "at most 1 knowledge-graph hop" in short.message
    # u2 (B, C, E) reaches F only through the hub: 1/3 · 1/(KG edges of the item) · 1/6,
    # E (1 KG edge) first, then B and C (2 edges each), tied
    paths = explain(movies, "u2", "F")
    assert [p.via for p in paths][0] == "E" and {p.via for p in paths} == {"B", "C", "E"}
    assert [p.score for p in paths] == pytest.approx([1 / 18, 1 / 36, 1 / 36])
    assert all(p.relations == ("interacted", "genre", "genre") for p in paths)
    # X within 3 hops of u2's items: only through the hub; through A's studio it is 4 hops
    # (B -director-> p.scott <-director- A -studio-> Fox <-studio- X)
    to_x = explain(movies, "u2", "X", max_paths=10)
    assert all(p.hops == 2 for p in to_x) and len(to_x) == 3
    longer = explain(movies, "u2", "X", max_paths=10, max_hops=4)
    assert len(longer) == 3 + 5  # plus B-scott-A-Fox, B-scott-A-Drama, {B, C, E}-Drama-A-Fox
    assert (
        "u2 -interacted-> B -director-> p.scott <-director- A -studio-> studio=Fox <-studio- X"
        in [str(p) for p in longer]
    )


def test_no_path_is_an_empty_explanation_with_a_message(movies, caplog) -> None:
    with caplog.at_level("INFO", logger="kgrec.explain"):
        lonely = explain(movies, "u1", "Y")
    assert len(lonely) == 0 and "no path of at most 3" in lonely.message
    assert "no path of at most 3" in caplog.text
    assert "no knowledge-graph link" in explain(movies, "u1", "Z").message
    assert "no training interaction" in explain(movies, "u9", "B").message
    assert str(explain(movies, "u1", "Z")).startswith("why item 'Z' for user 'u1': item 'Z'")


def test_unknown_ids_raise_naming_the_id(movies) -> None:
    with pytest.raises(UnknownIdError, match="nobody"):
        explain(movies, "nobody", "B")
    with pytest.raises(UnknownIdError, match="nothing"):
        explain(movies, "u1", "nothing")
    with pytest.raises(ValueError, match="max_hops"):
        explain(movies, "u1", "B", max_hops=0)


def test_the_networkx_graph_merges_items_into_their_entities(movies) -> None:
    graph = knowledge_graph(movies)
    a = ("entity", int(movies.item_entity[movies.items.to_index("A")]))
    scott = ("entity", movies.entities.to_index("p.scott"))
    assert graph.has_edge(a, scott) and graph.has_edge(scott, a)
    assert graph.out_degree(a) == 3
    assert knowledge_graph(movies) is graph  # built once per dataset


def test_recommender_explain_for_a_baseline(movies) -> None:
    rec = Recommender("pop")
    with pytest.raises(NotFittedError):
        rec.explain("u1", "B")
    rec.fit(movies)
    paths = rec.explain("u1", "B", max_paths=1)
    assert paths.scoring == "degree" and [str(p) for p in paths] == [
        "u1 -interacted-> A -director-> p.scott <-director- B"
    ]
    with pytest.raises(UnknownIdError, match="nobody"):
        rec.explain("nobody", "B")


def test_kgat_paths_score_by_products_of_its_attention(movies) -> None:
    torch.set_num_threads(1)
    rec = Recommender(
        "kgat", epochs=3, batch_size=8, embedding_dim=8, layer_dims=(8,), progress=False
    )
    rec.fit(movies)
    enc = rec.encoder
    paths = rec.explain("u1", "B")
    assert paths.scoring == "attention"
    assert {str(p) for p in paths} == {str(p) for p in explain(movies, "u1", "B")}
    assert [p.score for p in paths] == sorted((p.score for p in paths), reverse=True)

    graph = build_graph(movies)
    before = enc.attention.clone()
    edge_index, edge_type, weight = enc.edge_attention(graph)
    assert torch.equal(enc.attention, before)  # the cached fixed attention is left alone
    assert torch.allclose(weight, enc.compute_attention(collaborative_kg(graph)))
    ckg = collaborative_kg(graph)
    num_users, n_rel = movies.num_users, movies.num_relations

    def node(kind: str, raw) -> int:
        if kind == "item":
            return int(ckg.item_node[movies.items.to_index(raw)])
        return num_users + movies.entities.to_index(raw)

    def attention(head: int, tail: int, rel: int) -> float:
        hit = (edge_index[0] == head) & (edge_index[1] == tail) & (edge_type == rel)
        assert int(hit.sum()) == 1
        return float(weight[hit])

    for path in paths:
        head = movies.users.to_index("u1")
        expected = []
        for j, step in enumerate(path.steps):
            tail = node(step.kind, step.node)
            if j == 0:
                rel = REL_INTERACTS
            else:
                r = movies.relations.to_index(step.relation)
                rel = KG_OFFSET + r + (0 if step.forward else n_rel)
            expected.append(attention(head, tail, rel))
            head = tail
        assert path.weights == pytest.approx(expected)
        assert path.score == pytest.approx(float(np.prod(expected)))


def test_cli_explain_round_trip(movies, tmp_path, capsys) -> None:
    full = movie_world(INTERACTIONS)
    split = Split(
        dataset=full, parts={"train": np.arange(7), "valid": np.array([7]), "test": np.array([8])}
    )
    save_split(split, tmp_path / "split")
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "split"), "--model", "kgat", "--out", str(run), "--epochs", "1",
                 "--embedding-dim", "8", "--no-progress"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["explain", str(run), "--user", "u1", "--item", "B"]) == 0
    out = capsys.readouterr().out
    assert "scored by the model's attention" in out
    assert "u1 -interacted-> A -director-> p.scott <-director- B" in out
    assert (
        main(["explain", str(run), "--user", "u1", "--item", "X", "--max-paths", "1", "--json"])
        == 0
    )
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 1 and records[0]["item"] == "X" and records[0]["via"] == "A"
    assert main(["explain", str(run), "--user", "u1", "--item", "Z"]) == 0
    assert "no knowledge-graph link" in capsys.readouterr().out
    assert main(["explain", str(run), "--user", "nobody", "--item", "B"]) == 2
    assert "nobody" in capsys.readouterr().err


def test_parallel_facts_make_one_route_and_a_seen_item_its_own_path(movies) -> None:
    """(A director P), (P directed B), (B director P): P -> B is one route read two ways."""
    ds = RecDataset.from_frames(
        pd.DataFrame({"user": ["u1", "u2"], "item": ["A", "B"]}),
        item_entities=pd.DataFrame({"item": ["A", "B"], "entity": ["A", "B"]}),
        triples=pd.DataFrame(
            [("A", "director", "P"), ("P", "directed", "B"), ("B", "director", "P")],
            columns=["head", "relation", "tail"],
        ),
    )
    paths = explain(ds, "u1", "B")
    assert len(paths) == 1 and paths[0].score == pytest.approx(1 / 3)  # deg(P) = 3
    assert paths[0].nodes == ("u1", "A", "P", "B")
    seen = explain(movies, "u1", "A")
    assert str(seen[0]) == "u1 -interacted-> A" and seen[0].hops == 0
