"""RecBole atomic files: typed headers, attributes, alignment, errors, skip mode, round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgrec.data.dataset import RecDataset
from kgrec.data.readers.recbole import read_recbole, write_recbole
from kgrec.exceptions import DataFormatError, DataWarning

INTER = """user_id:token\titem_id:token\trating:float\ttimestamp:float
u1\ti1\t5\t100
u1\ti2\t3\t101
u2\ti1\t4\t102
007\ti3\t1\t103
7\ti3\t2\t104
"""
ITEM = """item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq
i1\tToy Story\t1995\tAnimation Comedy
i2\tHeat\t1995\tAction
i3\tAlien\t1979\t
i4\tCold Item\t\tDrama
"""
USER = """user_id:token\tage:token\tgender:token\tfirst_name:token
u1\t24\tM\tAnn
u2\t53\tF\tBob
u9\t30\tF\tCid
"""
KG = """head_id:token\trelation_id:token\ttail_id:token
m.1\tfilm.actor\tm.10
m.2\tfilm.actor\tm.10
m.10\tactor.film\tm.1
"""
LINK = """item_id:token\tentity_id:token
i1\tm.1
i2\tm.2
i5\tm.5
"""


def make_folder(tmp_path: Path, **files: str | None) -> Path:
    folder = tmp_path / "toy"
    folder.mkdir(parents=True, exist_ok=True)
    contents: dict[str, str | None] = {"inter": INTER, "item": ITEM, "user": USER, "kg": KG, "link": LINK}
    contents.update(files)
    for ext, text in contents.items():
        if text is not None:
            (folder / f"toy.{ext}").write_text(text, encoding="utf-8")
    return folder


def pairs(dataset: RecDataset) -> set[tuple[str, str]]:
    raw = dataset.raw_interactions()
    return set(zip(raw["user"].astype(str), raw["item"].astype(str), strict=True))


def alignment(dataset: RecDataset) -> dict[str, str]:
    linked = np.flatnonzero(dataset.item_entity >= 0)
    return dict(
        zip(
            map(str, dataset.items.to_raw(linked)),
            map(str, dataset.entities.to_raw(dataset.item_entity[linked])),
            strict=True,
        )
    )


def triple_set(dataset: RecDataset) -> set[tuple[str, str, str]]:
    kg = dataset.raw_triples().astype(str)
    return set(zip(kg["head"], kg["relation"], kg["tail"], strict=True))


def test_read_full_folder(tmp_path: Path) -> None:
    ds = read_recbole(make_folder(tmp_path))
    assert ds.name == "toy"
    assert ds.num_interactions == 5
    # "007" and "7" are distinct tokens; u9 is only in .user (no interactions)
    assert sorted(ds.users.raw_ids.tolist()) == ["007", "7", "u1", "u2", "u9"]
    # i4 only in .item, i5 only in .link: both kept as cold-start items
    assert sorted(ds.items.raw_ids.tolist()) == ["i1", "i2", "i3", "i4", "i5"]
    assert ds.stats()["users_without_interactions"] == 1
    assert ds.stats()["items_without_interactions"] == 2
    raw = ds.raw_interactions().sort_values("timestamp")
    assert raw["user"].tolist() == ["u1", "u1", "u2", "007", "7"]
    assert raw["rating"].tolist() == [5.0, 3.0, 4.0, 1.0, 2.0]
    assert raw["timestamp"].tolist() == [100.0, 101.0, 102.0, 103.0, 104.0]
    # alignment from .link; items with attributes but no entity get "item:<id>"
    assert alignment(ds) == {"i1": "m.1", "i2": "m.2", "i5": "m.5", "i3": "item:i3", "i4": "item:i4"}
    assert ds.report == {"entities_created_for_items": 2}
    kg = triple_set(ds)
    assert {("m.1", "film.actor", "m.10"), ("m.2", "film.actor", "m.10"), ("m.10", "actor.film", "m.1")} <= kg
    # default item features: release_year and class (token / token_seq, title excluded)
    assert ("m.1", "class", "class=Animation") in kg and ("m.1", "class", "class=Comedy") in kg
    assert ("m.1", "release_year", "release_year=1995") in kg
    assert ("item:i4", "class", "class=Drama") in kg
    assert not any(r == "movie_title" for _, r, _ in kg)
    assert len(kg) == 3 + 3 + 4  # KG + release_year (i1, i2, i3) + class (i1 x2, i2, i4)
    assert ds.num_relations == 6  # 2 KG + release_year, class + the user relations age, gender
    # user features: age and gender; first_name is free text and left out
    links = ds.user_links
    rel = ds.relations.to_raw(links["relation"].to_numpy())
    assert sorted(set(rel)) == ["age", "gender"]
    assert len(links) == 6
    u9 = ds.users.to_index("u9")
    u9_links = links[links["user"] == u9]
    assert sorted(ds.entities.to_raw(u9_links["entity"].to_numpy())) == ["age=30", "gender=F"]


def test_chosen_features_and_only_inter(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    ds = read_recbole(folder, "toy", item_features=["class"], user_features=[])
    assert sorted(set(ds.relations.raw_ids.tolist())) == ["actor.film", "class", "film.actor"]
    assert len(ds.user_links) == 0
    title = read_recbole(folder, item_features=["movie_title"], user_features=[])
    assert ("m.1", "movie_title", "movie_title=Toy") in triple_set(title)
    only = make_folder(tmp_path / "only", item=None, user=None, kg=None, link=None)
    ds = read_recbole(only)
    assert (ds.num_users, ds.num_items, ds.num_entities, len(ds.triples)) == (4, 3, 0, 0)
    with pytest.raises(DataFormatError, match="unknown item feature") as info:
        read_recbole(folder, item_features=["genre"])
    assert info.value.field == "genre"
    with pytest.raises(DataFormatError, match="need a .user file"):
        read_recbole(only, user_features=["age"])


def test_threshold_and_duplicates(tmp_path: Path) -> None:
    ds = read_recbole(make_folder(tmp_path), rating_threshold=3)
    assert ds.num_interactions == 3
    assert ds.report["dropped_below_threshold"] == 2
    dup = INTER + "u1\ti1\t2\t200\n"
    folder = make_folder(tmp_path / "dup", inter=dup)
    with pytest.warns(DataWarning, match="1 duplicate"):
        ds = read_recbole(folder, duplicates="last")
    raw = ds.raw_interactions()
    assert raw.loc[(raw["user"] == "u1") & (raw["item"] == "i1"), "rating"].tolist() == [2.0]
    with pytest.raises(DataFormatError, match="duplicate") as info:
        read_recbole(folder, duplicates="error")
    assert info.value.line == 7  # the repeated pair's line in toy.inter


def test_value_columns_are_numbers_whatever_their_type(tmp_path: Path) -> None:
    inter = "user_id:token\titem_id:token\trating:token\tlabel:float\nu1\ti1\t4\tjunk\n"
    ds = read_recbole(make_folder(tmp_path, inter=inter))
    assert ds.interactions["rating"].tolist() == [4.0]
    assert list(ds.interactions.columns) == ["user", "item", "rating"]  # other columns ignored


def test_name_inference_errors(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    (folder / "other.inter").write_text(INTER)
    with pytest.raises(FileNotFoundError, match="exactly one"):
        read_recbole(folder)
    with pytest.raises(FileNotFoundError, match="nope.inter"):
        read_recbole(folder, "nope")


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("user_id:token\titem_id\trating:float\ttimestamp:float", "item_id"),
        ("user_id:token\titem_id:int\trating:float\ttimestamp:float", "item_id"),
        ("user_id:token\tuser_id:token\trating:float\ttimestamp:float", "user_id"),
        ("uid:token\titem_id:token\trating:float\ttimestamp:float", "user_id"),
    ],
)
def test_bad_header(tmp_path: Path, header: str, field: str) -> None:
    body = INTER.split("\n", 1)[1]
    folder = make_folder(tmp_path, inter=header + "\n" + body)
    with pytest.raises(DataFormatError) as info:
        read_recbole(folder)
    assert (info.value.line, info.value.field) == (1, field)
    assert info.value.file.endswith("toy.inter")


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ("u3\ti1\tfive\t1", "rating", "expected a number, got 'five'"),
        ("u3\ti1\tnan\t1", "rating", "expected a finite number, got 'nan'"),
        ("u3\ti1\t5", "timestamp", "expected 4 columns"),
        ("\ti1\t5\t1", "user_id", "missing value"),
        ("u3\ti1\t\t1", "rating", "missing value"),
    ],
)
def test_bad_inter_rows(tmp_path: Path, row: str, field: str, message: str) -> None:
    lines = INTER.splitlines()
    lines.insert(3, row)  # becomes line 4
    folder = make_folder(tmp_path, inter="\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as info:
        read_recbole(folder)
    assert (info.value.line, info.value.field) == (4, field)
    assert message in str(info.value)


def test_bad_rows_in_optional_files(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, kg=KG + "m.3\tfilm.actor\n")
    with pytest.raises(DataFormatError) as info:
        read_recbole(folder)
    assert info.value.file.endswith("toy.kg")
    assert (info.value.line, info.value.field) == (5, "tail_id")
    folder = make_folder(tmp_path / "link", link="item_id:token\tentity_id:token\ni1\t\n")
    with pytest.raises(DataFormatError, match="missing value") as info:
        read_recbole(folder)
    assert (info.value.line, info.value.field) == (2, "entity_id")


def test_skip_mode_counts(tmp_path: Path) -> None:
    inter = INTER + "u3\ti1\tfive\t1\nu3\ti2\nu4\ti1\t3\tinf\n"
    kg = KG + "m.3\tfilm.actor\n"
    folder = make_folder(tmp_path, inter=inter, kg=kg)
    with pytest.warns(DataWarning, match=r"skipped 4 bad row\(s\)"):
        ds = read_recbole(folder, on_error="skip")
    assert ds.num_interactions == 5
    assert ds.report["skipped_non_numeric"] == 1
    assert ds.report["skipped_non_finite"] == 1
    assert ds.report["skipped_wrong_column_count"] == 2  # one in .inter, one in .kg


@pytest.mark.parametrize("inter", ["", "\n", "user_id:token\titem_id:token\n"])
def test_empty_inter(tmp_path: Path, inter: str) -> None:
    folder = make_folder(tmp_path, inter=inter)
    with pytest.raises(DataFormatError, match="empty|no data lines"):
        read_recbole(folder)


def test_empty_optional_file_is_fine(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, kg="head_id:token\trelation_id:token\ttail_id:token\n", link=None)
    ds = read_recbole(folder, item_features=[], user_features=[])
    assert len(ds.triples) == 0 and ds.num_entities == 0


def test_round_trip(tmp_path: Path) -> None:
    original = read_recbole(make_folder(tmp_path))
    written = write_recbole(original, tmp_path / "out", "copy")
    assert sorted(written) == ["inter", "item", "kg", "link", "user"]
    header = (tmp_path / "out" / "copy.inter").read_text().splitlines()[0]
    assert header == "user_id:token\titem_id:token\trating:float\ttimestamp:float"
    back = read_recbole(tmp_path / "out", "copy")
    assert pairs(back) == pairs(original)
    a = original.raw_interactions().sort_values(["user", "item"]).reset_index(drop=True)
    b = back.raw_interactions().sort_values(["user", "item"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[["rating", "timestamp"]], b[["rating", "timestamp"]])
    assert triple_set(back) == triple_set(original)
    assert alignment(back) == alignment(original)
    assert sorted(back.users.raw_ids.tolist()) == sorted(original.users.raw_ids.tolist())
    assert sorted(back.items.raw_ids.tolist()) == sorted(original.items.raw_ids.tolist())

    def user_links(ds: RecDataset) -> set[tuple[str, str, str]]:
        ul = ds.user_links
        return set(
            zip(
                ds.users.to_raw(ul["user"].to_numpy()),
                ds.relations.to_raw(ul["relation"].to_numpy()),
                ds.entities.to_raw(ul["entity"].to_numpy()),
                strict=True,
            )
        )

    assert user_links(back) == user_links(original)
    assert len(user_links(back)) == 6


def test_round_trip_multi_valued_user_links(tmp_path: Path) -> None:
    ds = RecDataset.from_frames(
        pd.DataFrame({"user": ["a", "b"], "item": ["x", "y"]}),
        user_attributes=pd.DataFrame({"user": ["a", "b"], "likes": [["jazz", "rock"], ["pop"]]}),
    )
    write_recbole(ds, tmp_path, "m")
    assert (tmp_path / "m.user").read_text().splitlines()[0] == "user_id:token\tlikes:token_seq"
    back = read_recbole(tmp_path, "m")
    assert len(back.user_links) == 3
    assert sorted(back.entities.raw_ids.tolist()) == ["likes=jazz", "likes=pop", "likes=rock"]


def test_write_rejects_ids_with_tabs(tmp_path: Path) -> None:
    ds = RecDataset.from_frames(pd.DataFrame({"user": ["a\tb"], "item": ["x"]}))
    with pytest.raises(ValueError, match="cannot write user id"):
        write_recbole(ds, tmp_path, "bad")


token = st.text(alphabet="abcXYZ019_.-", min_size=1, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(token, token, st.integers(min_value=1, max_value=5), st.integers(0, 2**40)),
        min_size=1,
        max_size=40,
        unique_by=lambda r: (r[0], r[1]),
    ),
    links=st.dictionaries(token, token, max_size=5),
)
def test_round_trip_property(tmp_path_factory: pytest.TempPathFactory, rows: list, links: dict) -> None:
    folder = tmp_path_factory.mktemp("prop")
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    align = pd.DataFrame({"item": list(links), "entity": list(links.values())})
    original = RecDataset.from_frames(frame, item_entities=align if len(align) else None)
    write_recbole(original, folder, "p")
    back = read_recbole(folder, "p")
    expected = {(str(u), str(i), float(r), float(t)) for u, i, r, t in rows}
    raw = back.raw_interactions()
    got = set(zip(raw["user"], raw["item"], raw["rating"], raw["timestamp"], strict=True))
    assert got == expected
    assert alignment(back) == alignment(original)
    assert sorted(back.items.raw_ids.tolist()) == sorted(map(str, original.items.raw_ids.tolist()))
