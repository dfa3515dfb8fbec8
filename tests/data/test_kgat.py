"""KGAT / KGIN / LightGCN layout: parts, id lists, item i == entity i, errors, round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgrec.data.dataset import RecDataset
from kgrec.data.readers.kgat import read_kgat, read_kgat_split, write_kgat
from kgrec.exceptions import DataFormatError, DataWarning

TRAIN = "0 0 1 2\n1 1 3\n2 2\n"
TEST = "0 3\n1\n2 0 1\n"
KG_FINAL = "0 0 4\n1 0 4\n4 1 5\n3 1 5\n"
USER_LIST = "org_id remap_id\nA 0\nB 1\nC 2\nD 3\n"
ITEM_LIST = "org_id remap_id freebase_id\nx0 0 m.0\nx1 1 m.1\nx2 2 m.2\nx3 3 m.3\nx4 4 m.4\n"
ENTITY_LIST = 'org_id remap_id\nm.0 0\nm.1 1\nm.2 2\nm.3 3\nm.4 4\n"""I Love You 5\n 6\n'
RELATION_LIST = "org_id remap_id\nhttp://x/actor 0\nhttp://x/genre 1\n"


def make_folder(tmp_path: Path, **files: str | None) -> Path:
    contents: dict[str, str | None] = {
        "train.txt": TRAIN,
        "test.txt": TEST,
        "kg_final.txt": KG_FINAL,
        "user_list.txt": USER_LIST,
        "item_list.txt": ITEM_LIST,
        "entity_list.txt": ENTITY_LIST,
        "relation_list.txt": RELATION_LIST,
    }
    contents.update({k.replace("__", "."): v for k, v in files.items()})
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        if text is not None:
            (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def raw_pairs(dataset: RecDataset, rows: np.ndarray | None = None) -> list[tuple[object, object]]:
    raw = dataset.raw_interactions()
    if rows is not None:
        raw = raw.iloc[rows]
    return sorted(zip(raw["user"].tolist(), raw["item"].tolist(), strict=True), key=str)


def test_read_split_remap_ids(tmp_path: Path) -> None:
    ds, parts = read_kgat_split(make_folder(tmp_path))
    assert ds.num_interactions == 9
    assert raw_pairs(ds, parts["train"]) == sorted([(0, 0), (0, 1), (0, 2), (1, 1), (1, 3), (2, 2)], key=str)
    assert raw_pairs(ds, parts["test"]) == sorted([(0, 3), (2, 0), (2, 1)], key=str)
    assert parts["train"].dtype == np.int64
    assert len(np.intersect1d(parts["train"], parts["test"])) == 0
    # user 3 is only in user_list, item 4 only in item_list
    assert ds.users.raw_ids.tolist() == [0, 1, 2, 3]
    assert ds.items.raw_ids.tolist() == [0, 1, 2, 3, 4]
    assert ds.report == {"test_users_without_items": 1}
    # KGAT convention: item i is entity i (local index == remap id here)
    assert ds.item_entity.tolist() == [0, 1, 2, 3, 4]
    assert ds.entities.to_raw(ds.item_entity).tolist() == [0, 1, 2, 3, 4]
    assert ds.num_entities == 7  # 0..4, 5 (KG tail) and 6: listed, used nowhere, still kept
    assert len(ds.triples) == 4
    assert ds.num_relations == 2


def test_read_org_ids(tmp_path: Path) -> None:
    ds, parts = read_kgat_split(make_folder(tmp_path), raw_ids="org")
    assert raw_pairs(ds, parts["test"]) == [("A", "x3"), ("C", "x0"), ("C", "x1")]
    assert sorted(ds.users.raw_ids.tolist()) == ["A", "B", "C", "D"]
    align = dict(zip(ds.items.raw_ids, ds.entities.to_raw(ds.item_entity), strict=True))
    assert align == {"x0": "m.0", "x1": "m.1", "x2": "m.2", "x3": "m.3", "x4": "m.4"}
    kg = ds.raw_triples()
    assert set(kg["relation"]) == {"http://x/actor", "http://x/genre"}
    assert ("m.4", "http://x/genre", '"""I Love You') in set(map(tuple, kg.to_numpy().tolist()))


def test_read_kgat_is_the_combined_dataset(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    assert read_kgat(folder).checksum() == read_kgat_split(folder)[0].checksum()


def test_without_kg_and_lists(tmp_path: Path) -> None:
    folder = make_folder(
        tmp_path,
        kg_final__txt=None,
        user_list__txt=None,
        item_list__txt=None,
        entity_list__txt=None,
        relation_list__txt=None,
    )
    ds, parts = read_kgat_split(folder)
    assert (ds.num_users, ds.num_items, ds.num_entities, len(ds.triples)) == (3, 4, 0, 0)
    assert (ds.item_entity == -1).all()
    assert len(parts["train"]) == 6 and len(parts["test"]) == 3


def test_entity_list_alone_links_items(tmp_path: Path) -> None:
    # amazon-book-kgat's situation: id lists but no kg_final.txt
    ds = read_kgat(make_folder(tmp_path, kg_final__txt=None))
    assert ds.item_entity.tolist() == [0, 1, 2, 3, 4]
    assert ds.num_entities == 7 and ds.num_relations == 2 and len(ds.triples) == 0  # the lists are kept whole


def test_kg_without_entity_list_links_every_item(tmp_path: Path) -> None:
    ds = read_kgat(make_folder(tmp_path, entity_list__txt=None))
    assert ds.entities.to_raw(ds.item_entity).tolist() == [0, 1, 2, 3, 4]


def test_no_test_file_and_empty_test_file(tmp_path: Path) -> None:
    ds, parts = read_kgat_split(make_folder(tmp_path / "a", test__txt=None))
    assert len(parts["train"]) == 6 and len(parts["test"]) == 0
    ds, parts = read_kgat_split(make_folder(tmp_path / "b", test__txt="\n"))
    assert len(parts["test"]) == 0 and ds.num_interactions == 6


def test_missing_or_empty_train(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train.txt"):
        read_kgat(make_folder(tmp_path / "a", train__txt=None))
    with pytest.raises(DataFormatError, match="empty") as info:
        read_kgat(make_folder(tmp_path / "b", train__txt=""))
    assert info.value.file.endswith("train.txt")


def test_pair_in_train_and_test_stays_in_train(tmp_path: Path) -> None:
    with pytest.warns(DataWarning, match="1 duplicate"):
        ds, parts = read_kgat_split(make_folder(tmp_path, test__txt="0 3 1\n"))
    assert ds.num_interactions == 7
    assert raw_pairs(ds, parts["test"]) == [(0, 3)]
    assert ds.report["merged_duplicates"] == 1


@pytest.mark.parametrize(
    ("test_txt", "line", "field", "message"),
    [
        ("0 3\n9 1\n", 2, "user", "user id 9 is not in user_list.txt"),
        ("0 3\n\n1 2 7\n", 3, "item", "item id 7 is not in item_list.txt"),
        ("0 3\n1 x\n", 2, "item", "expected an integer, got 'x'"),
        ("0 3\n8\n", 2, "user", "user id 8 is not in user_list.txt"),
    ],
)
def test_bad_test_lines(tmp_path: Path, test_txt: str, line: int, field: str, message: str) -> None:
    with pytest.raises(DataFormatError) as info:
        read_kgat(make_folder(tmp_path, test__txt=test_txt))
    err = info.value
    assert err.file.endswith("test.txt")
    assert (err.line, err.field) == (line, field)
    assert message in str(err)


def test_unknown_ids_without_lists_are_fine(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, test__txt="9 7\n", user_list__txt=None, item_list__txt=None)
    ds = read_kgat(folder)
    assert 9 in ds.users and 7 in ds.items


def test_bad_kg_lines(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError) as info:
        read_kgat(make_folder(tmp_path / "a", kg_final__txt="0 0 4\n0 9 4\n"))
    assert (info.value.line, info.value.field) == (2, "relation")
    assert "relation id 9 is not in relation_list.txt" in str(info.value)
    with pytest.raises(DataFormatError) as info:
        read_kgat(make_folder(tmp_path / "b", kg_final__txt="0 0 4\n0 0\n"))
    assert (info.value.line, info.value.field) == (2, "tail")
    with pytest.raises(DataFormatError) as info:
        read_kgat(make_folder(tmp_path / "c", kg_final__txt="0 0 77\n"))
    assert (info.value.line, info.value.field) == (1, "tail")


def test_bad_id_lists(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="remap_id 1 appears twice") as info:
        read_kgat(make_folder(tmp_path / "a", user_list__txt="org_id remap_id\nA 0\nB 1\nC 1\n"))
    assert (info.value.line, info.value.field) == (4, "remap_id")
    with pytest.raises(DataFormatError, match="org_id 'A' appears twice") as info:
        read_kgat(make_folder(tmp_path / "b", user_list__txt="org_id remap_id\nA 0\nA 1\nC 2\n"))
    assert info.value.line == 3
    with pytest.raises(DataFormatError, match="expected an integer") as info:
        read_kgat(make_folder(tmp_path / "c", item_list__txt="org_id remap_id\nx0 0\nx1 one\n"))
    assert (info.value.line, info.value.field) == (3, "remap_id")


def test_skip_mode(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, test__txt="0 3\n9 1\n1 2 7\n2 x\n", kg_final__txt="0 0 4\n0 9 4\n1 1\n")
    with pytest.warns(DataWarning, match=r"skipped 5 bad row\(s\)"):
        ds, parts = read_kgat_split(folder, on_error="skip")
    assert ds.report["skipped_unknown_id"] == 3  # user 9, item 7 (its line's item 2 is kept), relation 9
    assert ds.report["skipped_non_integer"] == 1
    assert ds.report["skipped_wrong_column_count"] == 1
    assert raw_pairs(ds, parts["test"]) == [(0, 3), (1, 2)]
    assert len(ds.triples) == 1


def test_invalid_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="raw_ids"):
        read_kgat(make_folder(tmp_path), raw_ids="freebase")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_error"):
        read_kgat(tmp_path, on_error="warn")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- writing
def toy_dataset() -> RecDataset:
    inter = pd.DataFrame(
        {"user": ["ann", "ann", "bob", "cid", "cid"], "item": ["b1", "b2", "b1", "b3", "b2"], "rating": [5, 4, 3, 2, 1]}
    )
    return RecDataset.from_frames(
        inter,
        item_entities=pd.DataFrame({"item": ["b1", "b2", "b4"], "entity": ["m.b1", "m.b2", "m.b4"]}),
        triples=pd.DataFrame(
            {"head": ["m.b1", "m.b2", "m.x"], "relation": ["author", "author", "genre"], "tail": ["m.x", "m.x", "fiction novel"]}
        ),
        users=["dan"],
    )


def test_write_and_read_back(tmp_path: Path) -> None:
    original = toy_dataset()
    parts = {"train": np.array([0, 2, 3]), "test": np.array([1, 4])}
    written = write_kgat(original, tmp_path, parts)
    assert sorted(written) == ["entity_list", "item_list", "kg_final", "relation_list", "test", "train", "user_list"]
    users = original.users
    assert (tmp_path / "train.txt").read_text() == (
        f"{users.to_index('ann')} {original.items.to_index('b1')}\n"
        f"{users.to_index('bob')} {original.items.to_index('b1')}\n"
        f"{users.to_index('cid')} {original.items.to_index('b3')}\n"
        f"{users.to_index('dan')}\n"
    )
    entity_lines = (tmp_path / "entity_list.txt").read_text().splitlines()
    assert entity_lines[0] == "org_id remap_id"
    # items first: item remap i == entity remap i; b3 has no entity and gets a placeholder
    n_items = original.num_items
    assert [ln.rsplit(" ", 1)[0] for ln in entity_lines[1 : n_items + 1]] == [
        {"b1": "m.b1", "b2": "m.b2", "b3": "item:b3", "b4": "m.b4"}[str(r)] for r in original.items.raw_ids
    ]
    back, back_parts = read_kgat_split(tmp_path, raw_ids="org")
    assert raw_pairs(back, back_parts["train"]) == raw_pairs(original, parts["train"])
    assert raw_pairs(back, back_parts["test"]) == raw_pairs(original, parts["test"])
    assert sorted(back.users.raw_ids.tolist()) == ["ann", "bob", "cid", "dan"]
    assert set(map(tuple, back.raw_triples().to_numpy().tolist())) == set(
        map(tuple, original.raw_triples().to_numpy().tolist())
    )
    align = dict(zip(back.items.raw_ids, back.entities.to_raw(back.item_entity), strict=True))
    assert align == {"b1": "m.b1", "b2": "m.b2", "b3": "item:b3", "b4": "m.b4"}
    # remap ids read back as ints equal the original local indices
    remap = read_kgat(tmp_path)
    assert remap.num_interactions == 5 and remap.item_entity.tolist() == list(range(n_items))


def test_write_without_parts_or_kg(tmp_path: Path) -> None:
    ds = RecDataset.from_frames(pd.DataFrame({"user": [3, 1, 3], "item": [10, 10, 20]}))
    written = write_kgat(ds, tmp_path)
    assert sorted(written) == ["item_list", "train", "user_list"]
    assert (tmp_path / "train.txt").read_text() == "0 0\n1 0 1\n"
    assert (tmp_path / "item_list.txt").read_text() == "org_id remap_id\n10 0\n20 1\n"
    back = read_kgat(tmp_path, raw_ids="org")
    assert raw_pairs(back) == [("1", "10"), ("3", "10"), ("3", "20")]


def test_write_errors(tmp_path: Path) -> None:
    ds = toy_dataset()
    with pytest.raises(ValueError, match="parts must be named"):
        write_kgat(ds, tmp_path, {"valid": np.array([0])})
    with pytest.raises(ValueError, match="outside"):
        write_kgat(ds, tmp_path, {"train": np.array([5])})
    shared = RecDataset.from_frames(
        pd.DataFrame({"user": ["u", "u"], "item": ["a", "b"]}),
        item_entities=pd.DataFrame({"item": ["a", "b"], "entity": ["e", "e"]}),
    )
    with pytest.raises(ValueError, match="share entity 'e'"):
        write_kgat(shared, tmp_path)
    spaced = RecDataset.from_frames(pd.DataFrame({"user": ["a user"], "item": ["x"]}))
    with pytest.raises(ValueError, match="cannot write user id 'a user'"):
        write_kgat(spaced, tmp_path)


def test_write_warns_about_user_links(tmp_path: Path) -> None:
    ds = RecDataset.from_frames(
        pd.DataFrame({"user": ["a"], "item": ["x"]}), user_attributes=pd.DataFrame({"user": ["a"], "age": ["30"]})
    )
    with pytest.warns(DataWarning, match="1 user link"):
        write_kgat(ds, tmp_path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.dictionaries(
        st.integers(0, 60),
        st.tuples(st.sets(st.integers(0, 80), max_size=6), st.sets(st.integers(0, 80), max_size=4)),
        min_size=1,
        max_size=15,
    )
)
def test_text_round_trip_property(tmp_path_factory: pytest.TempPathFactory, data: dict) -> None:
    """Random user -> (train items, test items) written as KGAT text read back exactly."""
    data = {u: (tr, te - tr) for u, (tr, te) in data.items()}
    if not any(tr or te for tr, te in data.values()):
        data[0] = ({0}, set())
    folder = tmp_path_factory.mktemp("kgat")
    for part, k in (("train", 0), ("test", 1)):
        text = "".join(f"{u} {' '.join(map(str, sorted(items[k])))}".rstrip() + "\n" for u, items in data.items())
        (folder / f"{part}.txt").write_text(text)
    ds, parts = read_kgat_split(folder)
    for part, k in (("train", 0), ("test", 1)):
        expected = sorted(((u, i) for u, items in data.items() for i in items[k]), key=str)
        assert raw_pairs(ds, parts[part]) == expected
    assert sorted(ds.users.raw_ids.tolist()) == sorted(data)
    # and writing the dataset back gives the same pairs per part
    out = tmp_path_factory.mktemp("out")
    write_kgat(ds, out, parts)
    back, back_parts = read_kgat_split(out, raw_ids="org")
    for part in ("train", "test"):
        assert raw_pairs(back, back_parts[part]) == sorted(
            ((str(u), str(i)) for u, i in raw_pairs(ds, parts[part])), key=str
        )
