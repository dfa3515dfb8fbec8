"""The attribute cold-start path (kgrec.nn.attributes, kgrec.graph.links) and its encoders.

The tiny dataset has a known right answer: two user groups, each liking the items of one genre;
every item links (through its KG entity) to its genre and to a "decade" entity shared by both
genres. One item per genre has no interaction at all (cold) and must be ranked, for the users
of its genre, above every item of the other genre.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.data.dataset import RecDataset
from kgrec.data.split import Split
from kgrec.evaluate import FullRankingEvaluator
from kgrec.evaluate.protocol import evaluation_views
from kgrec.graph import build_graph
from kgrec.graph.links import attribute_links
from kgrec.models import ENCODERS, Batch, get_encoder
from kgrec.nn.attributes import AttributeEncoder
from kgrec.recommender import Recommender
from kgrec.train import fit, make_score_fn

COLD_ENCODERS = ["mf-attr", "lightgcn-attr", "kglightgcn"]
GROUP, BLOCK = 6, 6  # users per group, warm items per genre


def genre_data() -> tuple[RecDataset, Split, dict[str, int]]:
    """Users u{g}{k} like warm items w{g}{j} of genre g (each misses one); c{g} are cold."""
    rows, test = [], []
    for g in range(2):
        for k in range(GROUP):
            user = f"u{g}{k}"
            rows += [(user, f"w{g}{j}") for j in range(BLOCK) if j != k % BLOCK]
            test.append((user, f"c{g}"))
    items = [f"w{g}{j}" for g in range(2) for j in range(BLOCK)] + ["c0", "c1"]
    genre = {i: i[1] for i in items}
    item_entities = pd.DataFrame({"item": items, "entity": [f"m.{i}" for i in items]})
    triples = pd.DataFrame(
        {
            "head": [f"m.{i}" for i in items] * 2,
            "relation": ["genre"] * len(items) + ["decade"] * len(items),
            "tail": [f"genre{genre[i]}" for i in items] + ["1990s"] * len(items),
        }
    )
    frame = pd.DataFrame(rows + test, columns=["user", "item"])
    ds = RecDataset.from_frames(frame, item_entities=item_entities, triples=triples, name="genres")
    n_train = len(rows)
    split = Split(ds, {"train": np.arange(n_train), "test": np.arange(n_train, len(frame))})
    return (
        split.train,
        split,
        {"c0": int(ds.items.to_index(["c0"])[0]), "c1": int(ds.items.to_index(["c1"])[0])},
    )


@pytest.fixture(scope="module")
def data():
    train, split, cold = genre_data()
    return train, build_graph(train), split, cold


def test_cold_items_are_registered():
    assert set(COLD_ENCODERS) <= set(ENCODERS)


# ---------------------------------------------------------------------- link matrices
def test_item_attribute_matrix_matches_hand_computation():
    # a -> {g.x, p.1 (only a), m.d (reverse of d's sequel link)}; b -> {g.x, p.2}; c -> {g.y, p.2};
    # d (cold) -> {g.x, m.a}. Kept (min_links=2, min_support=1): g.x (a, b, d), p.2 (b, c).
    inter = pd.DataFrame(
        {"user": ["u1", "u1", "u2", "u2", "u3"], "item": ["a", "b", "b", "c", "a"]}
    )
    ds = RecDataset.from_frames(
        inter,
        item_entities=pd.DataFrame({"item": list("abcd"), "entity": ["m.a", "m.b", "m.c", "m.d"]}),
        triples=pd.DataFrame(
            {
                "head": ["m.a", "m.a", "m.b", "m.b", "m.c", "m.c", "m.d", "m.d"],
                "relation": [
                    "genre",
                    "actor",
                    "genre",
                    "actor",
                    "genre",
                    "actor",
                    "genre",
                    "sequel",
                ],
                "tail": ["g.x", "p.1", "g.x", "p.2", "g.y", "p.2", "g.x", "m.a"],
            }
        ),
        user_attributes=pd.DataFrame({"user": ["u1", "u2", "u3"], "gender": ["F", "M", "F"]}),
    )
    graph = build_graph(ds)
    ent = {
        name: int(ds.entities.to_index([name])[0])
        for name in ["g.x", "p.2", "gender=F", "gender=M"]
    }
    item = {name: int(ds.items.to_index([name])[0]) for name in "abcd"}
    user = {name: int(ds.users.to_index([name])[0]) for name in ["u1", "u2", "u3"]}

    links = attribute_links(graph)
    cols = {int(e): k for k, e in enumerate(links.entities.tolist())}
    assert set(cols) == {ent["g.x"], ent["p.2"], ent["gender=F"]}  # gender=M has one user only
    want = np.zeros((4, len(cols)))
    want[item["a"], cols[ent["g.x"]]] = 1.0  # p.1 and m.d: linked to one item only
    want[item["b"], cols[ent["g.x"]]] = want[item["b"], cols[ent["p.2"]]] = 0.5
    want[item["c"], cols[ent["p.2"]]] = 1.0  # g.y: one item only
    want[item["d"], cols[ent["g.x"]]] = 1.0  # m.a is item a's own entity: one item, dropped
    np.testing.assert_allclose(links.item_attr.to_dense().numpy(), want)
    np.testing.assert_allclose(links.item_attr_t.to_dense().numpy(), want.T)
    want_u = np.zeros((3, len(cols)))
    want_u[user["u1"], cols[ent["gender=F"]]] = want_u[user["u3"], cols[ent["gender=F"]]] = 1.0
    np.testing.assert_allclose(links.user_attr.to_dense().numpy(), want_u)
    assert links.item_warm.tolist() == [True, True, True, False]

    # min_links=0, min_support=0 keeps every neighbour but never the item's own entity
    everything = attribute_links(graph, min_support=0, min_links=0)
    row_a = everything.item_attr.to_dense()[item["a"]]
    kept_a = {int(everything.entities[k]) for k in torch.nonzero(row_a).flatten().tolist()}
    assert kept_a == {int(ds.entities.to_index([n])[0]) for n in ["g.x", "p.1", "m.d"]}
    assert torch.allclose(row_a.sum(), torch.tensor(1.0))
    # memoised: the same object for the same graph and arguments, rebuilt for a new graph
    assert attribute_links(graph) is links
    assert attribute_links(build_graph(ds)) is not links


def test_attribute_encoder_mean_and_masks(data):
    train, graph, _, cold = data
    links = attribute_links(graph)
    enc = AttributeEncoder(links.num_attributes, 4, id_dropout=0.5, init_std=1.0)
    enc.eval()
    user_id = torch.randn(train.num_users, 4)
    item_id = torch.randn(train.num_items, 4)
    ego = enc(graph, user_id, item_id)
    dense = links.item_attr.to_dense() @ enc.attribute_embedding.weight
    warm = links.item_warm
    torch.testing.assert_close(ego.items[warm], item_id[warm] + dense[warm])
    torch.testing.assert_close(ego.items[~warm], dense[~warm])
    assert ego.item_keep.tolist() == warm.tolist()
    # id dropout only in training, drawn from the global torch RNG
    enc.train()
    torch.manual_seed(0)
    a = enc(graph, user_id, item_id).item_keep
    torch.manual_seed(0)
    b = enc(graph, user_id, item_id).item_keep
    assert torch.equal(a, b) and not torch.equal(a, warm) and not (a & ~warm).any()
    with pytest.raises(ValueError, match="expected id_dropout in"):
        AttributeEncoder(3, 4, id_dropout=1.0)


# ---------------------------------------------------------------------- encoders
@pytest.mark.parametrize("name", COLD_ENCODERS)
def test_cold_embedding_does_not_depend_on_its_id(name, data):
    _, graph, _, cold = data
    torch.manual_seed(0)
    enc = get_encoder(name).from_data(graph)
    with torch.no_grad():  # non-zero attribute / entity tables so that the test means something
        for p in enc.parameters():
            p.normal_()
    enc.eval()
    with torch.no_grad():
        users, items = enc(graph)
        enc.item_embedding.weight[cold["c0"]] += 100.0
        enc.item_embedding.weight[cold["c1"]] -= 100.0
        users2, items2 = enc(graph)
    torch.testing.assert_close(items2[cold["c0"]], items[cold["c0"]])
    torch.testing.assert_close(items2[cold["c1"]], items[cold["c1"]])
    assert items[cold["c0"]].abs().sum() > 0  # from its attributes, not zero


@pytest.mark.parametrize("name", COLD_ENCODERS)
def test_eval_mode_has_no_id_dropout(name, data):
    _, graph, _, _ = data
    torch.manual_seed(0)
    enc = get_encoder(name).from_data(graph, id_dropout=0.5)
    enc.eval()
    with torch.no_grad():
        a = enc(graph)
        b = enc(graph)
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y)
    enc.train()
    with torch.no_grad():
        torch.manual_seed(1)
        c = enc(graph)
    assert not torch.allclose(c[1], a[1])


@pytest.mark.parametrize("name", COLD_ENCODERS)
def test_cold_item_ranked_by_its_genre(name, data):
    train, graph, split, cold = data
    torch.manual_seed(0)
    enc = get_encoder(name).from_data(graph)
    fit(enc, graph, train, epochs=60, batch_size=16, lr=0.02, seed=0, progress=False)
    enc.eval()
    with torch.no_grad():
        users, items = enc(graph)
        scores = users @ items.T
    for g in range(2):
        own, other = cold[f"c{g}"], cold[f"c{1 - g}"]
        other_warm = torch.as_tensor(train.items.to_index([f"w{1 - g}{j}" for j in range(BLOCK)]))
        for k in range(GROUP):
            u = int(train.users.to_index([f"u{g}{k}"])[0])
            assert scores[u, own] > scores[u, other_warm].max(), (name, g, k)
            assert scores[u, own] > scores[u, other], (name, g, k)

    # the same through the evaluation views: cold_only ranks the two cold items, each user's
    # own one first; cold_all ranks it among every item the user has not seen
    result = FullRankingEvaluator(ks=(1, 5), metrics=("recall",)).evaluate
    views = evaluation_views(split)
    assert set(views) == {"test", "test_cold", "test_cold_only"}
    target, candidates = views["test_cold_only"]
    assert (
        result(
            make_score_fn(enc, graph), target=target, exclude=[train], candidates=candidates
        ).mean["recall@1"]
        == 1.0
    )
    target, _ = views["test_cold"]
    # unseen per user: 1 own-genre warm item, 6 other-genre warm items, 2 cold items; random
    # placement would put the own cold item in the top 5 of these 9 with probability 5/9
    recall5 = result(make_score_fn(enc, graph), target=target, exclude=[train]).mean["recall@5"]
    assert recall5 == 1.0


def test_new_user_takes_the_attribute_path():
    inter = pd.DataFrame({"user": ["u1", "u1", "u2", "u2"], "item": ["a", "b", "b", "c"]})
    ds = RecDataset.from_frames(
        inter,
        users=["u1", "u2", "new"],
        user_attributes=pd.DataFrame({"user": ["u1", "u2", "new"], "age": [20, 20, 20]}),
    )
    graph = build_graph(ds)
    torch.manual_seed(0)
    enc = get_encoder("mf-attr").from_data(graph)
    with torch.no_grad():
        enc.attributes.attribute_embedding.weight.normal_()
    enc.eval()
    new = int(ds.users.to_index(["new"])[0])
    with torch.no_grad():
        users, _ = enc(graph)
        enc.user_embedding.weight[new] += 100.0
        users2, _ = enc(graph)
    torch.testing.assert_close(users[new], users2[new])
    torch.testing.assert_close(users[new], enc.attributes.attribute_embedding.weight[0])


def test_plain_encoders_unchanged(data):
    _, graph, _, _ = data
    mf = get_encoder("mf").from_data(graph)
    assert mf.attributes is None
    users, items = mf(graph)
    assert users is mf.user_embedding.weight and items is mf.item_embedding.weight
    assert (
        mf.aux_loss(graph, Batch(torch.tensor([0]), torch.tensor([0]), torch.tensor([1]))) is None
    )


def test_attribute_penalty_matches_definition(data):
    _, graph, _, _ = data
    torch.manual_seed(0)
    enc = get_encoder("mf-attr").from_data(graph, attr_reg=0.5)
    with torch.no_grad():
        enc.attributes.attribute_embedding.weight.normal_()
    batch = Batch(torch.tensor([0, 1]), torch.tensor([0, 2]), torch.tensor([3, 12]))
    links = attribute_links(graph)
    sq = enc.attributes.attribute_embedding.weight.pow(2).sum(1)
    per_item = links.item_attr.to_dense() @ sq
    want = 0.5 * per_item[[0, 2, 3, 12]].sum() / (2 * 2)
    torch.testing.assert_close(enc.aux_loss(graph, batch), want)


def test_cold_scale_moves_cold_items_only(data):
    _, graph, _, cold = data
    torch.manual_seed(0)
    enc = get_encoder("mf-attr").from_data(graph)
    with torch.no_grad():
        enc.attributes.attribute_embedding.weight.normal_()
    enc.eval()
    with torch.no_grad():
        _, a = enc(graph)
        enc.cold_scale = 3.0
        _, b = enc(graph)
    warm = attribute_links(graph).item_warm
    torch.testing.assert_close(b[warm], a[warm])
    torch.testing.assert_close(b[~warm], 3.0 * a[~warm])
    with pytest.raises(ValueError, match="cold_scale > 0"):
        get_encoder("mf-attr").from_data(graph, cold_scale=0.0)


def test_recommender_names_and_flag(data):
    train, _, split, cold = data
    for rec in (Recommender("lightgcn", attributes=True, epochs=2, progress=False),
                Recommender("mf-attr", epochs=2, progress=False)):  # fmt: skip
        rec.fit(train, valid=split.test)
        assert rec.encoder.attributes is not None
        scores = rec.score_users(torch.tensor([0]))
        assert scores.shape == (1, train.num_items)


def test_wrong_graph_is_rejected(data):
    _, graph, _, _ = data
    enc = get_encoder("mf-attr").from_data(graph)
    other = build_graph(
        RecDataset.from_frames(
            pd.DataFrame({"user": ["u"] * 12 + ["v"] * 2, "item": list(range(12)) + [0, 1]}),
            items=list(range(14)),
        )
    )
    with pytest.raises(ValueError, match="expected"):
        enc(other)


def test_relation_weighted_mean(data):
    _, graph, _, _ = data
    links = attribute_links(graph)
    assert links.relation.shape == (links.num_attributes,)
    torch.manual_seed(0)
    plain = get_encoder("mf-attr").from_data(graph)
    weighted = get_encoder("mf-attr").from_data(graph, relation_weights=True)
    assert weighted.attributes.relation_logit.numel() == links.num_relations
    with torch.no_grad():
        plain.attributes.attribute_embedding.weight.normal_()
        weighted.attributes.attribute_embedding.weight.copy_(plain.attributes.attribute_embedding.weight)
    # beta = 0: every relation weighs 1, the plain mean
    torch.testing.assert_close(
        weighted.attributes.item_attributes(graph), plain.attributes.item_attributes(graph)
    )
    with torch.no_grad():
        weighted.attributes.relation_logit.normal_()
    got = weighted.attributes.item_attributes(graph)
    p = links.item_attr.to_dense()
    col = weighted.attributes.relation_logit.exp()[links.relation]
    w = weighted.attributes.attribute_embedding.weight
    want = (p * col) @ w / (p @ col).clamp_min(1e-12)[:, None]
    torch.testing.assert_close(got, want)
    got.sum().backward()
    assert weighted.attributes.relation_logit.grad is not None


def test_save_and_load_round_trip(data, tmp_path):
    train, _, split, _ = data
    rec = Recommender("lightgcn-attr", epochs=3, progress=False).fit(train, valid=split.test)
    rec.save(tmp_path / "model")
    again = Recommender.load(tmp_path / "model")
    users = torch.arange(train.num_users)
    torch.testing.assert_close(again.score_users(users), rec.score_users(users))
