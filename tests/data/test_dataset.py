from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from kgrec.data.dataset import RecDataset
from kgrec.data.idmap import IdMap
from kgrec.exceptions import DataFormatError, DataWarning, UnknownIdError


def test_ids_map_to_contiguous_indices_and_back(tiny: RecDataset) -> None:
    assert tiny.users.raw_ids.tolist() == ["u1", "u2", "u3"]
    assert tiny.items.raw_ids.tolist() == ["a", "b", "c", "d"]
    assert tiny.items.to_index(["c", "a"]).tolist() == [2, 0]
    assert tiny.items.to_raw([3, 1]).tolist() == ["d", "b"]
    assert tiny.entities.to_raw(tiny.item_entity).tolist() == ["m.a", "m.b", "m.c", "m.d"]
    raw = tiny.raw_interactions()
    assert list(zip(raw["user"], raw["item"], strict=True)) == [("u1", "a"), ("u1", "b"), ("u2", "b"), ("u2", "c"), ("u3", "a")]


def test_int_ids_keep_their_type() -> None:
    ds = RecDataset.from_frames(pd.DataFrame({"user": [3, 1], "item": [20, 10]}))
    assert ds.users.raw_ids.tolist() == [1, 3]
    assert ds.items.to_index(10) == 0
    assert not ds.items.is_str


def test_unknown_id_names_it() -> None:
    m = IdMap(["a", "b"], name="item")
    with pytest.raises(UnknownIdError, match="unknown item id"):
        m.to_index(["a", "zz"])
    assert m.lookup(["zz", "b"]).tolist() == [-1, 1]


def test_stats(tiny: RecDataset) -> None:
    s = tiny.stats()
    assert (s["users"], s["items"], s["interactions"]) == (3, 4, 5)
    assert s["entities"] == 4 + 2 + 2  # 4 item entities, g.x, p.1, gender=F, gender=M
    assert s["relations"] == 3  # genre, director, gender
    assert s["triples"] == 3
    assert s["items_without_interactions"] == 1  # d: a cold item
    assert s["items_without_entity"] == 0
    assert s["density"] == pytest.approx(5 / 12)


def test_user_attributes_become_links(tiny: RecDataset) -> None:
    links = tiny.user_links
    got = {
        (tiny.users.to_raw(u), tiny.relations.to_raw(r), tiny.entities.to_raw(e))
        for u, r, e in links[["user", "relation", "entity"]].itertuples(index=False)
    }
    assert got == {("u1", "gender", "gender=F"), ("u2", "gender", "gender=M"), ("u3", "gender", "gender=F")}


def test_item_attributes_hang_off_the_items_entity() -> None:
    ds = RecDataset.from_frames(
        pd.DataFrame({"user": [1], "item": ["a"]}),
        item_entities=pd.DataFrame({"item": ["a"], "entity": ["m.a"]}),
        item_attributes=pd.DataFrame({"item": ["a", "b"], "genre": [["x", "y"], ["y"]]}),
    )
    raw = ds.raw_triples()
    assert set(map(tuple, raw.to_numpy().tolist())) == {
        ("m.a", "genre", "genre=x"),
        ("m.a", "genre", "genre=y"),
        ("item:b", "genre", "genre=y"),
    }
    assert ds.report["entities_created_for_items"] == 1
    assert ds.stats()["items_without_interactions"] == 1


def test_rating_threshold_counts_dropped_rows() -> None:
    ds = RecDataset.from_frames(
        pd.DataFrame({"user": [1, 1, 2], "item": [1, 2, 1], "rating": [5.0, 2.0, 4.0]}), rating_threshold=4
    )
    assert ds.num_interactions == 2
    assert ds.report["dropped_below_threshold"] == 1


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("first", 1.0), ("last", 3.0), ("sum", 6.0), ("max", 3.0), ("mean", 2.0)],
)
def test_duplicate_policies(policy: str, expected: float) -> None:
    frame = pd.DataFrame({"user": [1, 1, 1, 2], "item": [7, 7, 7, 7], "rating": [1.0, 2.0, 3.0, 4.0]})
    with pytest.warns(DataWarning, match="2 duplicate"):
        ds = RecDataset.from_frames(frame, duplicates=policy)
    assert ds.num_interactions == 2
    assert ds.report["merged_duplicates"] == 2
    assert ds.interactions.loc[ds.interactions["user"] == 0, "rating"].item() == expected


def test_duplicate_error_names_line() -> None:
    frame = pd.DataFrame({"user": [1, 2, 1], "item": [7, 7, 7], "_line": [4, 5, 6]})
    with pytest.raises(DataFormatError) as info:
        RecDataset.from_frames(frame, duplicates="error", source="x.tsv")
    assert (info.value.file, info.value.line, info.value.field) == ("x.tsv", 6, "item")


def test_nan_and_non_numeric_values_are_errors() -> None:
    with pytest.raises(DataFormatError) as info:
        RecDataset.from_frames(pd.DataFrame({"user": [1, None], "item": [1, 2]}), source="f")
    assert (info.value.line, info.value.field) == (2, "user")
    with pytest.raises(DataFormatError, match="finite number") as info:
        RecDataset.from_frames(pd.DataFrame({"user": [1, 2], "item": [1, 2], "rating": ["4", "five"]}), source="f")
    assert (info.value.line, info.value.field) == (2, "rating")
    with pytest.raises(DataFormatError, match="empty"):
        RecDataset.from_frames(pd.DataFrame({"user": [], "item": []}))
    with pytest.raises(DataFormatError, match="need columns"):
        RecDataset.from_frames(pd.DataFrame({"u": [1], "item": [1]}))


def test_item_with_two_entities_warns_and_keeps_the_first() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = RecDataset.from_frames(
            pd.DataFrame({"user": [1], "item": ["a"]}),
            item_entities=pd.DataFrame({"item": ["a", "a"], "entity": ["e1", "e2"]}),
        )
    assert any(issubclass(w.category, DataWarning) for w in caught)
    assert ds.entities.to_raw(ds.item_entity[0]) == "e1"
    assert ds.report["extra_item_entity_links"] == 1


def test_user_positives_and_subset(tiny: RecDataset) -> None:
    pos = tiny.user_positives()
    assert [p.tolist() for p in pos] == [[0, 1], [1, 2], [0]]
    part = tiny.subset(np.array([0, 4]))
    assert part.num_interactions == 2
    assert part.items is tiny.items and part.num_items == 4


def test_checksum_changes_with_content(tiny: RecDataset) -> None:
    other = tiny.subset(np.arange(4))
    assert other.checksum() != tiny.checksum()
    assert tiny.subset(np.arange(5)).checksum() == tiny.checksum()
