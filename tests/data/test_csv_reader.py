"""Generic CSV / TSV reader: column mapping, side files, errors naming file / line / field."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgrec.data.readers.csv import read_csv
from kgrec.exceptions import DataFormatError


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_basic_mapping_and_sep_auto(tmp_path: Path) -> None:
    tsv = _write(
        tmp_path / "r.tsv", "uid\tiid\tstars\twhen\nu1\tA\t4\t100\nu2\tA\t2\t200\nu1\tB\t5\t300\n"
    )
    ds = read_csv(tsv, user_col="uid", item_col="iid", rating_col="stars", timestamp_col="when")
    assert (ds.num_users, ds.num_items, ds.num_interactions) == (2, 2, 3)
    assert ds.name == "r"
    raw = ds.raw_interactions().sort_values(["user", "item"]).reset_index(drop=True)
    assert raw["user"].tolist() == ["u1", "u1", "u2"]
    assert raw["rating"].tolist() == [4.0, 5.0, 2.0]
    assert raw["timestamp"].tolist() == [100.0, 300.0, 200.0]


def test_int_ids_auto_and_forced_str(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "u,i\n1,10\n2,10\n2,007\n")
    ds = read_csv(path, user_col="u", item_col="i")
    assert ds.users.raw_ids.dtype.kind == "i"
    assert set(ds.items.raw_ids.tolist()) == {"10", "007"}  # a leading zero keeps ids as text
    ds = read_csv(path, user_col="u", item_col="i", id_type="str")
    assert set(ds.users.raw_ids.tolist()) == {"1", "2"}
    with pytest.raises(ValueError, match="007"):
        read_csv(path, user_col="u", item_col="i", id_type="int")


def test_missing_column_lists_existing(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "user,item,score\n1,2,3\n")
    with pytest.raises(DataFormatError) as err:
        read_csv(path, user_col="user", item_col="item", rating_col="rating")
    assert err.value.file == str(path) and err.value.field == "rating"
    assert "['user', 'item', 'score']" in str(err.value)


def test_bad_value_and_empty_id_name_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "user,item,rating\n1,2,3\n\n1,3,abc\n")
    with pytest.raises(DataFormatError) as err:
        read_csv(path, user_col="user", item_col="item", rating_col="rating")
    assert (err.value.line, err.value.field) == (4, "rating") and "'abc'" in str(err.value)
    path = _write(tmp_path / "r.csv", "user,item\n1,2\n,3\n")
    with pytest.raises(DataFormatError) as err:
        read_csv(path, user_col="user", item_col="item")
    assert (err.value.line, err.value.field) == (3, "user")
    path = _write(tmp_path / "r.csv", "user,item\n1,2\n1,3,4\n")
    with pytest.raises(DataFormatError) as err:
        read_csv(path, user_col="user", item_col="item")
    assert err.value.line == 3


def test_headerless_several_files_and_multichar_sep(tmp_path: Path) -> None:
    a = _write(tmp_path / "train.txt", "1::10::5\n2::11::3\n")
    b = _write(tmp_path / "test.txt", "1::11::4\n3::x::4\n")
    with pytest.raises(ValueError, match="'x'"):
        read_csv(
            [a, b], user_col=0, item_col=1, rating_col=2, header=False, sep="::", id_type="int"
        )
    b.write_text("1::11::4\n3::10::oops\n")
    with pytest.raises(DataFormatError) as err:
        read_csv([a, b], user_col=0, item_col=1, rating_col=2, header=False, sep="::")
    assert (err.value.file, err.value.line, err.value.field) == (str(b), 2, "2")
    b.write_text("1::11::4\n3::10::1\n")
    ds = read_csv([a, b], user_col=0, item_col=1, rating_col=2, header=False, sep="::")
    assert (ds.num_users, ds.num_items, ds.num_interactions) == (3, 2, 4)


def test_item_and_user_features(tmp_path: Path) -> None:
    inter = _write(tmp_path / "r.csv", "user,item\nu1,m1\nu2,m2\n")
    items = _write(
        tmp_path / "items.csv",
        "id,genres,year,title\nm1,Drama|Crime,1995,Heat\nm2,,1990,Other\nm3,Comedy,,New\n",
    )
    users = _write(tmp_path / "users.csv", "user,friend\nu1,u2\nu1,u3\n")
    ds = read_csv(
        inter, user_col="user", item_col="item",
        item_features_path=items, item_id_col="id", item_feature_cols={"genres": "genre", "year": "year"},
        feature_sep="|", user_features_path=users,
    )  # fmt: skip
    assert ds.num_items == 3 and ds.stats()["items_without_interactions"] == 1
    triples = set(map(tuple, ds.raw_triples().to_numpy().tolist()))
    assert triples == {
        ("item:m1", "genre", "genre=Drama"),
        ("item:m1", "genre", "genre=Crime"),
        ("item:m1", "year", "year=1995"),
        ("item:m2", "year", "year=1990"),
        ("item:m3", "genre", "genre=Comedy"),
    }
    assert ds.num_users == 2  # friends are link values (entities), not users
    links = {
        (ds.users.to_raw(u), ds.entities.to_raw(e))
        for u, e in zip(ds.user_links["user"], ds.user_links["entity"], strict=True)
    }
    assert links == {("u1", "friend=u2"), ("u1", "friend=u3")}


def test_kg_with_identity_and_explicit_links(tmp_path: Path) -> None:
    inter = _write(tmp_path / "r.csv", "user,item\n1,10\n2,11\n")
    kg = _write(tmp_path / "kg.tsv", "head\trelation\ttail\n10\tdirector\t100\n100\tborn\t200\n")
    ds = read_csv(inter, user_col="user", item_col="item", kg_path=kg)
    align = {
        ds.items.to_raw(i): ds.entities.to_raw(e) for i, e in enumerate(ds.item_entity) if e >= 0
    }
    assert align == {10: 10}
    assert len(ds.triples) == 2
    links = _write(tmp_path / "links.csv", "item,entity\n10,100\n11,200\n")
    ds = read_csv(inter, user_col="user", item_col="item", kg_path=kg, item_entity_path=links)
    align = {
        ds.items.to_raw(i): ds.entities.to_raw(e) for i, e in enumerate(ds.item_entity) if e >= 0
    }
    assert align == {10: 100, 11: 200}
    bad_kg = _write(tmp_path / "kg2.csv", "h,r,t\n1,2,3\n")
    with pytest.raises(DataFormatError) as err:
        read_csv(inter, user_col="user", item_col="item", kg_path=bad_kg)
    assert (
        err.value.field == "head"
        and err.value.file == str(bad_kg)
        and "['h', 'r', 't']" in str(err.value)
    )


def test_threshold_and_duplicates(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "u,i,r\n1,1,5\n1,1,2\n2,1,1\n")
    with pytest.warns(UserWarning):
        ds = read_csv(
            path, user_col="u", item_col="i", rating_col="r", duplicates="max", rating_threshold=2
        )
    assert ds.num_interactions == 1 and ds.raw_interactions()["rating"].tolist() == [5.0]
    with pytest.raises(DataFormatError) as err:
        read_csv(path, user_col="u", item_col="i", duplicates="error")
    assert err.value.line == 3


# ---------------------------------------------------------------------- property: round trip
_ids = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.text(alphabet="abcXYZ_-.:é 0123456789", min_size=1, max_size=8).map(str.strip).filter(bool),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(_ids, _ids, st.floats(allow_nan=False, allow_infinity=False, width=64)),
        min_size=1,
        max_size=30,
    ),
    sep=st.sampled_from([",", "\t", ";"]),
)
def test_round_trip_random_tables(rows: list[tuple], sep: str) -> None:
    """Whatever pandas writes, read_csv gives back the same pairs and exact float values."""
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"], dtype=object)
    frame = frame.drop_duplicates(subset=["user", "item"]).reset_index(drop=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        frame.to_csv(path, sep=sep, index=False)
        ds = read_csv(
            path, user_col="user", item_col="item", rating_col="rating", sep=sep, id_type="str"
        )
    got = ds.raw_interactions()
    expected = {(str(u), str(i)): float(r) for u, i, r in frame.itertuples(index=False)}
    assert len(got) == len(expected)
    for u, i, r in zip(got["user"], got["item"], got["rating"], strict=True):
        assert np.float64(expected[(u, i)]) == np.float64(r) or (r == 0 and expected[(u, i)] == 0)
