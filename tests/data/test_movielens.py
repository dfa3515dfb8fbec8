"""MovieLens raw reader: variant detection, exact counts, attribute links and line-precise errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kgrec.data.readers.movielens import GENRES_100K, read_movielens
from kgrec.exceptions import DataFormatError

REPO = Path(__file__).resolve().parents[2]


def _flags(*genres: str) -> str:
    return "|".join("1" if g in genres else "0" for g in GENRES_100K)


def make_100k(root: Path, *, with_genre_file: bool = True) -> Path:
    """3 users, 4 movies (movie 4 unrated), 5 ratings."""
    folder = root / "ml-100k"
    folder.mkdir(parents=True)
    (folder / "u.data").write_text(
        "1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t1\t4\t881250951\n2\t3\t2\t881250952\n3\t2\t5\t881250953\n"
    )
    (folder / "u.item").write_bytes(
        (
            f"1|Toy Story (1995)|01-Jan-1995||http://imdb/1|{_flags('Animation', 'Comedy')}\n"
            f"2|GoldenEye (1995)|01-Jan-1995||http://imdb/2|{_flags('Action', 'Thriller')}\n"
            f"3|Caf\xe9 au lait (1994)|01-Jan-1994||http://imdb/3|{_flags('Comedy')}\n"
            f"4|unknown||||{_flags('unknown')}\n"
        ).encode("latin-1")
    )
    (folder / "u.user").write_text(
        "1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n"
    )
    if with_genre_file:
        (folder / "u.genre").write_text(
            "".join(f"{g}|{i}\n" for i, g in enumerate(GENRES_100K)) + "\n"
        )
    return folder


def make_1m(root: Path) -> Path:
    folder = root / "ml-1m"
    folder.mkdir(parents=True)
    (folder / "ratings.dat").write_text(
        "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n2::3408::4::978299000\n"
    )
    (folder / "movies.dat").write_bytes(
        (
            "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
            "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
            "3408::Erin Brockovich (2000)::Drama\n"
            "1::Toy Story (1995)::Animation|Children's|Comedy\n"
        ).encode("latin-1")
    )
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    return folder


def make_latest(root: Path) -> Path:
    folder = root / "ml-latest-small"
    folder.mkdir(parents=True)
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n2,1,2.5,964982224\n"
    )
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
        '3,"Grumpier Old Men, The (1995)",Comedy|Romance\n'
        "5,Babylon 5,(no genres listed)\n"
    )
    return folder


def _links(ds, relation: str) -> dict:
    """item raw id -> sorted attribute values of ``relation``."""
    t = ds.raw_triples()
    t = t[t["relation"] == relation]
    ent_of_item = {
        ds.entities.to_raw(e): i
        for i, e in zip(ds.items.raw_ids, ds.item_entity, strict=True)
        if e >= 0
    }
    out: dict = {}
    for head, tail in zip(t["head"], t["tail"], strict=True):
        out.setdefault(ent_of_item[head], []).append(tail.split("=", 1)[1])
    return {k: sorted(v) for k, v in out.items()}


def _user_links(ds) -> set[tuple]:
    ul = ds.user_links
    return set(
        zip(
            ds.users.to_raw(ul["user"].to_numpy()).tolist(),
            ds.relations.to_raw(ul["relation"].to_numpy()).tolist(),
            ds.entities.to_raw(ul["entity"].to_numpy()).tolist(),
            strict=True,
        )
    )


# ---------------------------------------------------------------------- ml-100k
def test_100k_counts_and_attributes(tmp_path: Path) -> None:
    make_100k(tmp_path)
    ds = read_movielens(tmp_path)  # the parent folder: the single ml-100k subfolder is found
    assert ds.name == "ml-100k"
    assert (ds.num_users, ds.num_items, ds.num_interactions) == (3, 4, 5)
    assert ds.stats()["items_without_interactions"] == 1
    inter = ds.raw_interactions().sort_values(["user", "item"]).reset_index(drop=True)
    assert inter["rating"].tolist() == [5.0, 3.0, 4.0, 2.0, 5.0]
    assert inter["timestamp"].iloc[0] == 881250949.0
    assert _links(ds, "genre") == {
        1: ["Animation", "Comedy"],
        2: ["Action", "Thriller"],
        3: ["Comedy"],
        4: ["unknown"],
    }
    assert _links(ds, "year") == {1: ["1995"], 2: ["1995"], 3: ["1994"]}  # movie 4 has no date
    assert ("user", 1) not in _user_links(ds)
    assert {
        (1, "age", "age=24"),
        (2, "gender", "gender=F"),
        (3, "occupation", "occupation=writer"),
    } <= _user_links(ds)
    assert len(ds.user_links) == 9


def test_100k_without_genre_file_uses_standard_names(tmp_path: Path) -> None:
    folder = make_100k(tmp_path, with_genre_file=False)
    ds = read_movielens(folder, variant="ml-100k")
    assert _links(ds, "genre")[2] == ["Action", "Thriller"]


def test_100k_feature_selection_and_threshold(tmp_path: Path) -> None:
    folder = make_100k(tmp_path)
    ds = read_movielens(folder, item_features=("year",), user_features=("zip",), rating_threshold=4)
    assert set(ds.relations.raw_ids.tolist()) == {"year", "zip"}
    assert ds.num_interactions == 3
    assert ds.report["dropped_below_threshold"] == 2
    bare = read_movielens(folder, item_features=(), user_features=())
    assert len(bare.triples) == 0 and len(bare.user_links) == 0
    assert bare.num_items == 4  # the catalogue is still read


def test_100k_bad_rating_names_line_and_field(tmp_path: Path) -> None:
    folder = make_100k(tmp_path)
    (folder / "u.data").write_text("1\t1\t5\t881250949\n\n1\t2\tfive\t881250950\n")
    with pytest.raises(DataFormatError) as err:
        read_movielens(folder)
    assert err.value.file == str(folder / "u.data")
    assert err.value.line == 3 and err.value.field == "rating"
    assert "'five'" in str(err.value)


def test_100k_extra_field_and_bad_flag(tmp_path: Path) -> None:
    folder = make_100k(tmp_path)
    (folder / "u.data").write_text("1\t1\t5\t881250949\n1\t2\t3\t881250950\t7\n")
    with pytest.raises(DataFormatError) as err:
        read_movielens(folder)
    assert err.value.line == 2

    folder = make_100k(tmp_path / "b")
    text = (folder / "u.item").read_bytes().decode("latin-1").splitlines()
    text[1] = text[1][:-1] + "x"
    (folder / "u.item").write_bytes(("\n".join(text) + "\n").encode("latin-1"))
    with pytest.raises(DataFormatError) as err:
        read_movielens(folder)
    assert (err.value.line, err.value.field) == (2, "Western")
    assert err.value.file.endswith("u.item")


def test_100k_bad_date_and_bad_age(tmp_path: Path) -> None:
    folder = make_100k(tmp_path)
    items = (folder / "u.item").read_bytes().decode("latin-1").replace("01-Jan-1994", "1994/01/01")
    (folder / "u.item").write_bytes(items.encode("latin-1"))
    with pytest.raises(DataFormatError) as err:
        read_movielens(folder)
    assert (err.value.line, err.value.field) == (3, "release date")

    folder = make_100k(tmp_path / "b")
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|old|F|other|94043\n")
    with pytest.raises(DataFormatError) as err:
        read_movielens(folder)
    assert (err.value.line, err.value.field) == (2, "age")


# ---------------------------------------------------------------------- ml-1m
def test_1m_counts_genres_years_users(tmp_path: Path) -> None:
    folder = make_1m(tmp_path)
    ds = read_movielens(folder)
    assert ds.name == "ml-1m"
    assert (ds.num_users, ds.num_items, ds.num_interactions) == (2, 4, 4)
    assert _links(ds, "genre") == {
        1193: ["Drama"],
        661: ["Animation", "Children's", "Musical"],
        3408: ["Drama"],
        1: ["Animation", "Children's", "Comedy"],
    }
    assert _links(ds, "year") == {1193: ["1975"], 661: ["1996"], 3408: ["2000"], 1: ["1995"]}
    assert {
        (1, "age", "age=1"),
        (1, "gender", "gender=F"),
        (2, "occupation", "occupation=16"),
    } <= _user_links(ds)


def test_10m_layout_without_users_file(tmp_path: Path) -> None:
    folder = make_1m(tmp_path)
    (folder / "users.dat").unlink()
    with pytest.warns(UserWarning, match="users.dat"):
        ds = read_movielens(folder, variant="ml-10m")
    assert ds.num_interactions == 4 and len(ds.user_links) == 0


def test_1m_malformed_line(tmp_path: Path) -> None:
    folder = make_1m(tmp_path)
    (folder / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3\n")
    with pytest.raises(DataFormatError) as err:
        read_movielens(folder)
    assert err.value.line == 2 and err.value.field == "timestamp"
    (folder / "ratings.dat").write_text("1::1193::5::978300760\nx::661::3::978302109\n")
    with pytest.raises(DataFormatError) as err:
        read_movielens(folder)
    assert (err.value.line, err.value.field) == (2, "user")


def test_1m_duplicates_policy(tmp_path: Path) -> None:
    folder = make_1m(tmp_path)
    (folder / "ratings.dat").write_text("1::1193::5::10\n1::1193::3::20\n2::661::4::30\n")
    with pytest.raises(DataFormatError) as err:
        read_movielens(folder, duplicates="error")
    assert err.value.line == 2
    with pytest.warns(UserWarning):
        ds = read_movielens(folder, duplicates="last")
    assert ds.raw_interactions().set_index(["user", "item"]).loc[(1, 1193), "rating"] == 3.0


# ---------------------------------------------------------------------- ml-latest
def test_latest_csv(tmp_path: Path) -> None:
    folder = make_latest(tmp_path)
    ds = read_movielens(folder)
    assert ds.name == "ml-latest-small"
    assert (ds.num_users, ds.num_items, ds.num_interactions) == (2, 3, 3)
    assert _links(ds, "genre") == {
        1: ["Adventure", "Animation", "Children", "Comedy", "Fantasy"],
        3: ["Comedy", "Romance"],
    }
    assert _links(ds, "year") == {1: ["1995"], 3: ["1995"]}
    assert len(ds.user_links) == 0  # no user file in the csv variants
    assert sorted(ds.raw_interactions()["rating"].tolist()) == [2.5, 4.0, 4.5]


def test_latest_bad_rating_and_missing_column(tmp_path: Path) -> None:
    folder = make_latest(tmp_path)
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,9\n1,3,,9\n")
    with pytest.raises(DataFormatError) as err:
        read_movielens(folder)
    assert (err.value.line, err.value.field) == (3, "rating")
    (folder / "ratings.csv").write_text("userId,itemId,rating,timestamp\n1,1,4.0,9\n")
    with pytest.raises(DataFormatError) as err:
        read_movielens(folder)
    assert err.value.field == "movieId" and "itemId" in str(err.value)


def test_variant_detection_errors(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="u.data"):
        read_movielens(tmp_path)
    make_latest(tmp_path)
    with pytest.raises(DataFormatError, match="ratings.dat"):
        read_movielens(tmp_path / "ml-latest-small", variant="ml-1m")
    with pytest.raises(ValueError, match="variant"):
        read_movielens(tmp_path, variant="ml-2k")
    with pytest.raises(ValueError, match="item_features"):
        read_movielens(tmp_path, item_features=("director",))


def test_missing_movie_file_is_explained(tmp_path: Path) -> None:
    folder = make_latest(tmp_path)
    (folder / "movies.csv").unlink()
    with pytest.raises(DataFormatError, match="item_features=\\(\\)"):
        read_movielens(folder)
    assert read_movielens(folder, item_features=()).num_items == 2


def test_convert_script_writes_a_processed_folder(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    folder = make_100k(tmp_path)
    script = REPO / "datasets" / "convert_movielens.py"
    subprocess.run([sys.executable, str(script), str(folder), str(tmp_path / "out")], check=True, capture_output=True)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"]["interactions"] == 5


def test_shared_ml100k_matches_recbole_counts(shared_path) -> None:
    """The RecBole copy in ../shared has the same 100,000 ratings: re-read through read_csv."""
    from kgrec.data.readers.csv import read_csv

    inter = shared_path("datasets", "ml-100k-kg", "ml-100k.inter")
    ds = read_csv(
        inter,
        user_col="user_id:token",
        item_col="item_id:token",
        rating_col="rating:float",
        sep="\t",
    )
    assert (ds.num_users, ds.num_items, ds.num_interactions) == (943, 1682, 100_000)
    assert (
        isinstance(pd.Series(ds.items.raw_ids).iloc[0], int) or ds.items.raw_ids.dtype.kind == "i"
    )
