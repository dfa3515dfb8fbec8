"""Integration tests on the real datasets in ``<repo>/../shared/datasets`` (never copied here).

Counts are the ones documented in that folder's README.md, checked exactly. Every test skips
with the reason when the folder (or one dataset) is absent, e.g. on a fresh clone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kgrec.data.readers.kgat import read_kgat_split
from kgrec.data.readers.lastfm import read_lastfm_social
from kgrec.data.readers.recbole import read_recbole

SHARED = (Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets").resolve()

pytestmark = pytest.mark.shared


def dataset_dir(name: str) -> Path:
    folder = SHARED / name
    if not folder.is_dir():
        pytest.skip(f"shared dataset {name!r} not found at {folder} (the datasets are not redistributable)")
    return folder


def test_ml_100k_kg_recbole_kg_only() -> None:
    ds = read_recbole(dataset_dir("ml-100k-kg"), "ml-100k", item_features=[], user_features=[])
    assert ds.num_interactions == 100_000
    assert (ds.num_users, ds.num_items) == (943, 1_682)
    assert int((ds.item_entity >= 0).sum()) == 1_598
    assert len(ds.triples) == 91_631
    assert ds.num_entities == 34_628
    assert ds.num_relations == 24
    assert ds.report == {}
    ratings = ds.interactions["rating"].to_numpy()
    assert ratings.min() == 1.0 and ratings.max() == 5.0
    # raw ids are RecBole tokens (strings) and map back: user 196 rated item 242 with a 3
    raw = ds.raw_interactions()
    first = raw.iloc[0]
    assert (first["user"], first["item"], first["rating"], first["timestamp"]) == ("196", "242", 3.0, 881250949.0)
    assert ds.entities.to_raw(ds.item_entity[ds.items.to_index("476")]) == "m.08gjyx"


def test_ml_100k_kg_recbole_with_attributes() -> None:
    ds = read_recbole(dataset_dir("ml-100k-kg"), "ml-100k")
    kg = ds.raw_triples()
    freebase = ~kg["relation"].isin(["release_year", "class"])
    assert int(freebase.sum()) == 91_631
    # release_year: one per item; class (genres, token_seq): 2,893 item-genre pairs
    assert int((kg["relation"] == "release_year").sum()) == 1_682
    assert int((kg["relation"] == "class").sum()) == 2_893
    assert ds.report == {"entities_created_for_items": 84}  # the 1,682 - 1,598 unlinked items
    assert (ds.item_entity >= 0).all()
    # 34,628 KG entities + 84 item entities + 73 years + 19 genres + user attribute values
    assert ds.num_entities == 34_628 + 84 + 73 + 19 + (61 + 2 + 21 + 795)
    assert ds.num_relations == 24 + 2 + 4  # + release_year, class + age, gender, occupation, zip_code
    assert len(ds.user_links) == 943 * 4
    toy_story = ds.item_entity[ds.items.to_index("1")]
    genres = kg.loc[(kg["head"] == ds.entities.to_raw(toy_story)) & (kg["relation"] == "class"), "tail"]
    assert sorted(genres) == ["class=Animation", "class=Children's", "class=Comedy"]


def test_amazon_book_kgat_split() -> None:
    ds, parts = read_kgat_split(dataset_dir("amazon-book-kgat"))
    assert (ds.num_users, ds.num_items) == (70_679, 24_915)
    assert (len(parts["train"]), len(parts["test"])) == (652_514, 193_920)
    assert ds.num_interactions == 652_514 + 193_920
    assert len(np.intersect1d(parts["train"], parts["test"])) == 0
    assert len(ds.triples) == 0  # kg_final.txt is not shipped
    # item remap i == entity remap i, for every item
    assert ds.item_entity.tolist() == list(range(24_915))
    assert ds.report == {"test_users_without_items": 88}
    # the first train line is "0 0 1 2 ... 31" and the first test line "0 4828 774 ..."
    user0 = ds.users.to_index(0)
    train0 = ds.interactions.iloc[parts["train"]]
    assert sorted(ds.items.to_raw(train0.loc[train0["user"] == user0, "item"].to_numpy())) == list(range(32))
    test0 = ds.interactions.iloc[parts["test"]]
    assert sorted(ds.items.to_raw(test0.loc[test0["user"] == user0, "item"].to_numpy())) == sorted(
        [4828, 774, 207, 7460, 7465, 3768, 10221, 22435]
    )


def test_amazon_book_kgat_org_ids() -> None:
    ds, parts = read_kgat_split(dataset_dir("amazon-book-kgat"), raw_ids="org")
    assert (ds.num_users, ds.num_items, len(parts["test"])) == (70_679, 24_915, 193_920)
    # user_list: A3RTKL9KB8KLID is remap 0; item_list: 0553092626 is remap 0, freebase m.045wq1q
    assert "A3RTKL9KB8KLID" in ds.users
    item = ds.items.to_index("0553092626")
    assert ds.entities.to_raw(ds.item_entity[item]) == "m.045wq1q"


def test_lastfm_social() -> None:
    ds, parts = read_lastfm_social(dataset_dir("lastfm-social"))
    assert (len(parts["train"]), len(parts["test"])) == (42_135, 10_533)
    assert ds.num_items == 4_489
    # 1,880 users listen to something; 12 more appear only in the trust network
    assert ds.num_users - ds.stats()["users_without_interactions"] == 1_880
    assert ds.num_users == 1_892
    assert len(ds.user_links) == 25_434
    assert ds.relations.raw_ids.tolist() == ["friend"]
    assert ds.interactions["weight"].min() >= 1.0
