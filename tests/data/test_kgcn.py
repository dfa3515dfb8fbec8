"""KGCN / RippleNet / MKR layout: the three ratings shapes, KG, alignment, errors, round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgrec.data.dataset import RecDataset
from kgrec.data.readers.kgcn import read_kgcn, write_kgcn
from kgrec.exceptions import DataFormatError, DataWarning

RATINGS_FINAL = "0\t10\t1\n0\t11\t0\n1\t10\t1\n1\t12\t1\n2\t11\t0\n"
KG = "100\tfilm.genre\t200\n101\tfilm.genre\t200\n200\tgenre.film\t100\n"
LINKS = "10\t100\n11\t101\n"


def make_folder(tmp_path: Path, **files: str | None) -> Path:
    contents: dict[str, str | None] = {
        "ratings_final.txt": RATINGS_FINAL,
        "kg.txt": KG,
        "item_index2entity_id.txt": LINKS,
    }
    contents.update({k.replace("__", "."): v for k, v in files.items()})
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        if text is not None:
            (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def alignment(ds: RecDataset) -> dict[object, object]:
    linked = np.flatnonzero(ds.item_entity >= 0)
    return dict(zip(ds.items.to_raw(linked).tolist(), ds.entities.to_raw(ds.item_entity[linked]).tolist(), strict=True))


def test_ratings_final_keeps_positive_labels(tmp_path: Path) -> None:
    ds = read_kgcn(make_folder(tmp_path))
    raw = ds.raw_interactions()
    assert sorted(zip(raw["user"], raw["item"], strict=True)) == [(0, 10), (1, 10), (1, 12)]
    assert list(raw.columns) == ["user", "item"]
    assert ds.report == {"dropped_negative_labels": 2}
    # ints throughout: every id is a canonical integer
    assert ds.users.raw_ids.dtype == np.int64 and ds.entities.raw_ids.dtype == np.int64
    assert alignment(ds) == {10: 100, 11: 101}
    # item 11 is only linked (all its ratings were negatives): a cold-start item
    assert sorted(ds.items.raw_ids.tolist()) == [10, 11, 12]
    assert (ds.num_entities, ds.num_relations, len(ds.triples)) == (3, 2, 3)
    assert sorted(ds.relations.raw_ids.tolist()) == ["film.genre", "genre.film"]


def test_bad_label(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, ratings_final__txt="0\t10\t1\n0\t11\t2\n0\t12\tyes\n")
    with pytest.raises(DataFormatError, match="expected 0 or 1, got '2'") as info:
        read_kgcn(folder)
    assert (info.value.line, info.value.field) == (2, "label")
    assert info.value.file.endswith("ratings_final.txt")
    with pytest.warns(DataWarning, match=r"skipped 2 bad row\(s\)"):
        ds = read_kgcn(folder, on_error="skip")
    assert ds.num_interactions == 1
    assert ds.report["skipped_unexpected_value"] == 1 and ds.report["skipped_non_integer"] == 1


def test_ratings_dat(tmp_path: Path) -> None:
    folder = make_folder(
        tmp_path,
        ratings_final__txt=None,
        ratings__dat="1::10::5::978300760\n1::11::3::978302109\n2::10::4::978301968\n",
    )
    ds = read_kgcn(folder)
    raw = ds.raw_interactions().sort_values(["user", "item"])
    assert raw["rating"].tolist() == [5.0, 3.0, 4.0]
    assert raw["timestamp"].tolist() == [978300760.0, 978302109.0, 978301968.0]
    ds = read_kgcn(folder, rating_threshold=4)
    assert ds.num_interactions == 2 and ds.report["dropped_below_threshold"] == 1
    bad = make_folder(tmp_path / "bad", ratings_final__txt=None, ratings__dat="1::10::5::1\n1::11::x::2\n")
    with pytest.raises(DataFormatError, match="expected a number, got 'x'") as info:
        read_kgcn(bad)
    assert (info.value.line, info.value.field) == (2, "rating")
    short = make_folder(tmp_path / "short", ratings_final__txt=None, ratings__dat="1::10::5::1\n1::11::4\n")
    with pytest.raises(DataFormatError, match="separated by '::'") as info:
        read_kgcn(short)
    assert (info.value.line, info.value.field) == (2, "timestamp")


def test_user_artists(tmp_path: Path) -> None:
    folder = make_folder(
        tmp_path,
        ratings_final__txt=None,
        kg__txt=None,
        item_index2entity_id__txt=None,
        user_artists__dat="userID\tartistID\tweight\n2\t51\t13883\n2\t52\t11690\n3\t51\t7\n",
    )
    ds = read_kgcn(folder)
    raw = ds.raw_interactions().sort_values(["user", "item"])
    assert raw["weight"].tolist() == [13883.0, 11690.0, 7.0]
    assert ds.num_entities == 0
    with pytest.raises(DataFormatError, match="needs a rating column"):
        read_kgcn(folder, rating_threshold=100)


def test_explicit_and_sniffed_ratings_file(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, **{"my_ratings.txt": "u1::i1::4::1\n"})
    ds = read_kgcn(folder, ratings_file="my_ratings.txt", kg_file="kg.txt")
    assert ds.raw_interactions()["user"].tolist() == ["u1"]  # not ints: kept as strings
    (tmp_path / "pos.txt").write_text("0\t10\t1\n")
    assert read_kgcn(tmp_path, ratings_file=tmp_path / "pos.txt").num_interactions == 1
    (tmp_path / "plays.tsv").write_text("user\tartist\tplays\n0\t10\t3\n")
    assert read_kgcn(tmp_path, ratings_file="plays.tsv").interactions["weight"].tolist() == [3.0]
    with pytest.raises(FileNotFoundError, match="no such ratings file"):
        read_kgcn(tmp_path, ratings_file="nope.txt")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="ratings_final.txt"):
        read_kgcn(empty)


def test_string_ids_keep_leading_zeros(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, ratings_final__txt="0\t0012\t1\n1\t13\t1\n", item_index2entity_id__txt="0012\t100\n")
    ds = read_kgcn(folder)
    assert sorted(ds.items.raw_ids.tolist()) == ["0012", "13"]
    assert alignment(ds) == {"0012": 100}


def test_kg_final_fallback_links_item_i_to_entity_i(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, kg__txt=None, item_index2entity_id__txt=None, kg_final__txt="10\t0\t50\n12\t0\t50\n")
    ds = read_kgcn(folder)
    assert alignment(ds) == {10: 10, 12: 12}
    assert len(ds.triples) == 2


def test_bad_kg_and_link_rows(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError) as info:
        read_kgcn(make_folder(tmp_path / "a", kg__txt=KG + "1\t2\n"))
    assert info.value.file.endswith("kg.txt")
    assert (info.value.line, info.value.field) == (4, "tail")
    with pytest.raises(DataFormatError, match="missing value") as info:
        read_kgcn(make_folder(tmp_path / "b", item_index2entity_id__txt="10\t\n"))
    assert (info.value.line, info.value.field) == (1, "entity")
    with pytest.raises(DataFormatError, match="empty"):
        read_kgcn(make_folder(tmp_path / "c", ratings_final__txt="\n"))
    with pytest.raises(DataFormatError, match="no interactions"):
        read_kgcn(make_folder(tmp_path / "d", ratings_final__txt="0\t10\t0\n"))


def test_round_trip(tmp_path: Path) -> None:
    original = read_kgcn(make_folder(tmp_path / "in"))
    written = write_kgcn(original, tmp_path / "out")
    assert (tmp_path / "out" / "ratings_final.txt").read_text().splitlines()[0].endswith("\t1")
    back = read_kgcn(tmp_path / "out")
    assert sorted(back.raw_interactions().itertuples(index=False)) == sorted(
        original.raw_interactions().itertuples(index=False)
    )
    assert sorted(back.items.raw_ids.tolist()) == sorted(original.items.raw_ids.tolist())
    assert alignment(back) == alignment(original)
    assert set(map(tuple, back.raw_triples().to_numpy().tolist())) == set(map(tuple, original.raw_triples().to_numpy().tolist()))
    assert sorted(written) == ["kg", "links", "ratings"]
    assert back.report == {"dropped_negative_labels": 0}


def test_write_rejects_tabs(tmp_path: Path) -> None:
    ds = RecDataset.from_frames(pd.DataFrame({"user": ["a"], "item": ["x\ty"]}))
    with pytest.raises(ValueError, match="cannot write item id"):
        write_kgcn(ds, tmp_path)


ids = st.one_of(st.integers(0, 50), st.text(alphabet="abc01", min_size=1, max_size=4))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(ids, ids), min_size=1, max_size=30, unique=True),
    kg=st.lists(st.tuples(ids, st.sampled_from(["r1", "r2"]), ids), max_size=10),
)
def test_round_trip_property(tmp_path_factory: pytest.TempPathFactory, rows: list, kg: list) -> None:
    rows = list({(str(u), str(i)) for u, i in rows})
    users, items = zip(*rows, strict=True)
    triples = pd.DataFrame(kg, columns=["head", "relation", "tail"]).astype(str) if kg else None
    links = pd.DataFrame({"item": [items[0]], "entity": ["e:" + items[0]]})
    original = RecDataset.from_frames(pd.DataFrame({"user": users, "item": items}), item_entities=links, triples=triples)
    folder = tmp_path_factory.mktemp("kgcn")
    write_kgcn(original, folder)
    back = read_kgcn(folder)
    raw = back.raw_interactions()
    assert set(zip(raw["user"].astype(str), raw["item"].astype(str), strict=True)) == set(rows)
    assert {str(k): str(v) for k, v in alignment(back).items()} == {str(k): str(v) for k, v in alignment(original).items()}
    got = {tuple(map(str, t)) for t in back.raw_triples().to_numpy().tolist()}
    assert got == {tuple(map(str, t)) for t in original.raw_triples().to_numpy().tolist()}
