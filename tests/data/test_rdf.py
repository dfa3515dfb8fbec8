"""RDF reader / writer: Turtle, N-Triples, RDF/XML; class- and link-based items; literals; round trip."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import rdflib

from kgrec.data.dataset import RecDataset
from kgrec.data.readers.rdf import ITEM_CLASS, ITEM_ID_PREDICATE, read_rdf, write_rdf
from kgrec.exceptions import DataFormatError

EX = "http://ex.org/"
TURTLE = """
@prefix ex: <http://ex.org/> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
ex:m1 rdf:type ex:Movie ; ex:director ex:p1 ; ex:title "Heat" ; ex:year 1995 .
ex:m2 rdf:type ex:Movie ; ex:director ex:p2 ; ex:genre ex:Crime .
ex:m3 rdf:type ex:Movie .
ex:p1 ex:bornIn ex:NYC ; ex:name "Michael Mann" .
ex:NYC ex:partOf ex:USA .
ex:x ex:knows ex:y .
"""


def _graph_files(tmp_path: Path) -> dict[str, Path]:
    """The same graph as Turtle, N-Triples and RDF/XML."""
    g = rdflib.Graph()
    g.parse(data=TURTLE, format="turtle")
    out = {"turtle": tmp_path / "g.ttl", "nt": tmp_path / "g.nt", "xml": tmp_path / "g.rdf"}
    for fmt, path in out.items():
        g.serialize(destination=str(path), format=fmt, encoding="utf-8")
    return out


def _interactions() -> pd.DataFrame:
    return pd.DataFrame(
        {"user": ["u1", "u1", "u2"], "item": [EX + "m1", EX + "m2", EX + "m1"], "rating": [5, 3, 4]}
    )


def _triples(ds: RecDataset) -> set[tuple]:
    return set(map(tuple, ds.raw_triples().to_numpy().tolist()))


def _alignment(ds: RecDataset) -> dict:
    return {
        ds.items.to_raw(i): ds.entities.to_raw(e) for i, e in enumerate(ds.item_entity) if e >= 0
    }


@pytest.mark.parametrize("fmt", ["turtle", "nt", "xml"])
def test_class_based_items_all_formats(tmp_path: Path, fmt: str) -> None:
    path = _graph_files(tmp_path)[fmt]
    ds = read_rdf(path, _interactions(), item_class=EX + "Movie")
    assert (ds.num_users, ds.num_items, ds.num_interactions) == (2, 3, 3)
    assert ds.stats()["items_without_interactions"] == 1  # ex:m3
    assert _alignment(ds) == {EX + m: EX + m for m in ("m1", "m2", "m3")}
    assert _triples(ds) == {
        (EX + "m1", EX + "director", EX + "p1"),
        (EX + "m2", EX + "director", EX + "p2"),
        (EX + "m2", EX + "genre", EX + "Crime"),
        (EX + "p1", EX + "bornIn", EX + "NYC"),  # entity-entity, reachable from an item
        (EX + "NYC", EX + "partOf", EX + "USA"),
        (EX + "m1", EX + "title", EX + "title=Heat"),  # literals as item attributes
        (EX + "m1", EX + "year", EX + "year=1995"),
    }
    assert ds.report["dropped_unreachable_triples"] == 1  # ex:x ex:knows ex:y
    assert ds.report["dropped_entity_literals"] == 1  # ex:p1 ex:name "Michael Mann"


def test_link_table_items_predicates_and_dropped_literals(tmp_path: Path) -> None:
    path = _graph_files(tmp_path)["turtle"]
    inter = pd.DataFrame({"user": [1, 2, 2], "item": [10, 10, 20]})
    links = pd.DataFrame({"item": [10, 20], "uri": [EX + "m1", EX + "m2"]})
    ds = read_rdf(
        path,
        inter,
        item_links=links,
        predicates=[EX + "director", EX + "bornIn", EX + "year"],
        literals="drop",
    )
    assert ds.items.raw_ids.tolist() == [10, 20]
    assert _alignment(ds) == {10: EX + "m1", 20: EX + "m2"}
    assert _triples(ds) == {
        (EX + "m1", EX + "director", EX + "p1"),
        (EX + "m2", EX + "director", EX + "p2"),
        (EX + "p1", EX + "bornIn", EX + "NYC"),
    }
    assert ds.report["dropped_literals"] == 1  # ex:m1 ex:year 1995

    one_hop = read_rdf(
        path, inter, item_links={10: EX + "m1", 20: EX + "m2"}, max_hops=1, literals="drop"
    )
    assert (EX + "p1", EX + "bornIn", EX + "NYC") not in _triples(one_hop)
    assert len(one_hop.triples) == 3


def test_class_and_links_together_and_interactions_file(tmp_path: Path) -> None:
    path = _graph_files(tmp_path)["nt"]
    csv = tmp_path / "inter.csv"
    csv.write_text(f"user,item,rating\nu1,movie-1,5\nu2,{EX}m2,3\n")
    ds = read_rdf(path, csv, item_class=EX + "Movie", item_links={"movie-1": EX + "m1"})
    assert set(ds.items.raw_ids.tolist()) == {"movie-1", EX + "m2", EX + "m3"}
    assert _alignment(ds)["movie-1"] == EX + "m1"
    assert ds.num_interactions == 2


def test_errors(tmp_path: Path) -> None:
    path = _graph_files(tmp_path)["turtle"]
    with pytest.raises(ValueError, match="item_class"):
        read_rdf(path, _interactions())
    with pytest.raises(ValueError, match="no items"):
        read_rdf(path, _interactions(), item_class=EX + "Book")
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix ex: <http://ex.org/> .\nex:a ex:b ex:c .\nex:a ex:b .\n")
    with pytest.raises(DataFormatError) as err:
        read_rdf(bad, _interactions(), item_class=EX + "Movie")
    assert err.value.file == str(bad) and err.value.line == 3
    unknown = tmp_path / "g.unknown"
    unknown.write_text("x")
    with pytest.raises(DataFormatError, match="format="):
        read_rdf(unknown, _interactions(), item_class=EX + "Movie")
    with pytest.warns(UserWarning, match="do not occur"):
        read_rdf(path, _interactions(), item_class=EX + "Movie", predicates=[EX + "directr"])


@pytest.mark.parametrize("fmt,suffix", [("turtle", "ttl"), ("nt", "nt"), ("xml", "rdf")])
def test_write_read_round_trip(tmp_path: Path, tiny: RecDataset, fmt: str, suffix: str) -> None:
    """Triples and item links come back with the same raw ids (plain ids, ints and URIs)."""
    ds = RecDataset.from_frames(
        pd.DataFrame({"user": [1, 1, 2], "item": [10, 11, 10], "rating": [5, 4, 3]}),
        item_entities=pd.DataFrame({"item": [10, 11, 12], "entity": ["m.a", EX + "b", 7]}),
        triples=pd.DataFrame(
            {
                "head": ["m.a", EX + "b", "m.a", 7],
                "relation": ["film.genre", EX + "p", "has space", "r"],
                "tail": ["genre=Comedy & more", 7, "x/y", "m.a"],
            }
        ),
        item_attributes=pd.DataFrame({"item": [13], "year": [1999]}),
    )
    for source in (ds, tiny):
        path = write_rdf(source, tmp_path / f"out.{suffix}", format=fmt)
        back = read_rdf(
            path,
            source.raw_interactions(),
            item_class=ITEM_CLASS,
            item_id_predicate=ITEM_ID_PREDICATE,
        )
        assert _triples(back) == _triples(source)
        assert _alignment(back) == _alignment(source)
        assert set(back.items.raw_ids.tolist()) == set(source.items.raw_ids.tolist()) - {
            source.items.to_raw(i) for i in range(source.num_items) if source.item_entity[i] < 0
        } | set(source.raw_interactions()["item"].tolist())
        assert back.report.get("dropped_unreachable_triples", 0) == 0
