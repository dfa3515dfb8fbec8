"""KGAT: the right answer through the KG, the per-epoch attention schedule, shapes and errors."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from kgrec.data.dataset import RecDataset
from kgrec.graph import build_graph
from kgrec.graph.ckg import collaborative_kg
from kgrec.models import ENCODERS, Batch
from kgrec.models.kgat import KGAT


def test_registered() -> None:
    assert ENCODERS["kgat"] is KGAT
    assert {"lr", "reg_weight", "epochs"} <= set(KGAT.fit_defaults)


@pytest.mark.parametrize("kg_weight", [0.0, 1.0])
@pytest.mark.parametrize("swap", [False, True])
def test_cold_item_ranked_through_its_kg_links(
    cold_item_check, swap: bool, kg_weight: float
) -> None:
    """x0 / x1 have no interaction: only their KG edges tell a group's users which is theirs.

    ``swap`` exchanges the two items' links, and the preferences must follow. Negatives are
    drawn among warm items only (a cold item is not in the catalogue the model is trained on;
    with uniform negatives BPR learns to rank it low for exactly the users it resembles).
    """
    cold_item_check(lambda g: KGAT.from_data(g, kg_weight=kg_weight), swap=swap, epochs=20)


def test_output_is_the_concatenation_of_normalised_layers(world) -> None:
    train = world[0]()
    graph = build_graph(train)
    enc = KGAT.from_data(graph, layer_dims=(8, 4), embedding_dim=6)
    assert enc.out_channels == 6 + 8 + 4
    enc.eval()
    with torch.no_grad():
        users, items = enc(graph)
    ckg = collaborative_kg(graph)
    assert users.shape == (train.num_users, 18) and items.shape == (train.num_items, 18)
    torch.testing.assert_close(users[:, :6], enc.node_embedding.weight[ckg.user_node])
    torch.testing.assert_close(items[:, :6], enc.node_embedding.weight[ckg.item_node])
    for lo, hi in [(6, 14), (14, 18)]:
        torch.testing.assert_close(items[:, lo:hi].norm(dim=1), torch.ones(train.num_items))


def test_fixed_attention_is_refreshed_once_per_epoch(world) -> None:
    train = world[0]()
    graph = build_graph(train)
    enc = KGAT.from_data(graph, kg_weight=1.0)
    opt = torch.optim.Adam(enc.parameters(), lr=0.05)
    batch = Batch(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 2]), torch.tensor([7, 8, 9]))

    def step() -> None:
        users, items = enc(graph)
        loss = -(users[batch.users] * (items[batch.pos_items] - items[batch.neg_items])).sum()
        loss = loss + enc.aux_loss(graph, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()

    enc.train()  # "epoch start"
    step()
    first = enc.attention.clone()
    step()
    step()  # the weights changed, but within an epoch the attention is a constant
    torch.testing.assert_close(enc.attention, first)
    enc(graph)
    torch.testing.assert_close(enc.attention, first)
    enc.train()  # next epoch: recomputed from the current weights, without gradient
    enc(graph)
    assert not torch.allclose(enc.attention, first)
    torch.testing.assert_close(enc.attention, enc.compute_attention(collaborative_kg(graph)))
    assert not enc.attention.requires_grad
    # eval mode always checks: a weight change is seen at the next forward
    enc.eval()
    with torch.no_grad():
        enc.relation_embedding.weight.add_(1.0)
    before = enc.attention.clone()
    enc(graph)
    assert not torch.allclose(enc.attention, before)
    # ... and an unchanged model is not recomputed (same buffer object)
    buf = enc.attention
    enc(graph)
    assert enc.attention is buf


def test_attention_sums_to_one_over_each_heads_neighbours(world) -> None:
    graph = build_graph(world[0]())
    enc = KGAT.from_data(graph)
    ckg = collaborative_kg(graph)
    att = enc.refresh_attention(graph)
    assert att.shape == (ckg.num_edges,)
    sums = torch.zeros(ckg.num_nodes).index_add_(0, ckg.edge_index[0], att)
    heads = torch.unique(ckg.edge_index[0])
    torch.testing.assert_close(sums[heads], torch.ones(len(heads)))


def test_fixed_and_live_attention_agree_and_live_trains_the_attention(world) -> None:
    graph = build_graph(world[0]())
    torch.manual_seed(3)
    fixed = KGAT.from_data(graph, attention="fixed")
    live = KGAT.from_data(graph, attention="live")
    live.load_state_dict(fixed.state_dict())
    fixed.eval()
    live.eval()
    for a, b in zip(fixed(graph), live(graph), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    live.train()
    users, items = live(graph)
    (
        users.sum() + items.pow(2).sum()
    ).backward()  # no TransR term: the gradient is from propagation
    assert live.relation_proj.grad is not None and live.relation_proj.grad.abs().sum() > 0
    fixed.train()
    users, items = fixed(graph)
    (users.sum() + items.pow(2).sum()).backward()
    assert fixed.relation_proj.grad is None  # fixed attention: W_r learns through TransR only


def test_aux_loss_and_reg_params(world) -> None:
    graph = build_graph(world[0]())
    enc = KGAT.from_data(graph, kg_weight=1.0, kg_batch_size=32)
    batch = Batch(torch.tensor([0, 5]), torch.tensor([1, 2]), torch.tensor([3, 4]))
    torch.manual_seed(0)
    aux = enc.aux_loss(graph, batch)
    assert aux is not None and aux.dim() == 0 and torch.isfinite(aux)
    aux.backward()
    assert (
        enc.relation_proj.grad.abs().sum() > 0
        and enc.relation_embedding.weight.grad.abs().sum() > 0
    )
    (rows,) = enc.reg_params(batch)
    ckg = collaborative_kg(graph)
    expected = torch.cat([ckg.user_node[batch.users], ckg.item_node[torch.tensor([1, 2, 3, 4])]])
    torch.testing.assert_close(rows, enc.node_embedding.weight[expected])
    assert KGAT.from_data(graph, kg_weight=0.0).aux_loss(graph, batch) is None


def test_a_graph_of_another_dataset_is_rejected(world) -> None:
    genre_world = world[0]
    enc = KGAT.from_data(build_graph(genre_world()))
    other = genre_world().subset(torch.arange(10).numpy())  # same ids, fewer interactions: fine
    enc(build_graph(other))
    small = RecDataset.from_frames(pd.DataFrame({"user": [1], "item": [1]}))
    with pytest.raises(ValueError, match="expected a graph with"):
        enc(build_graph(small))


@pytest.mark.parametrize(
    "bad", [{"layer_dims": (8, 0)}, {"attention": "soft"}, {"kg_weight": -1.0}]
)
def test_bad_hyper_parameters(world, bad) -> None:
    graph = build_graph(world[0]())
    with pytest.raises(ValueError, match="expected"):
        KGAT.from_data(graph, **bad)


def test_recommender_trains_kgat(world) -> None:
    from kgrec.recommender import Recommender

    full = world[0]()
    valid_rows = full.interactions.groupby("user").head(1).index.to_numpy()
    train_rows = full.interactions.index.difference(valid_rows).to_numpy()
    train, valid = full.subset(train_rows), full.subset(valid_rows)
    rec = Recommender("kgat", epochs=2, batch_size=16, progress=False, layer_dims=(8,))
    rec.fit(train, valid=valid)
    assert rec.encoder.out_channels == 64 + 8
    assert len(rec.history_) == 2
    top = rec.recommend(["u00"], k=3)
    assert len(top) == 3


def test_save_and_load_give_the_same_scores(world, tmp_path) -> None:
    from kgrec.recommender import Recommender

    full = world[0]()
    valid_rows = full.interactions.groupby("user").head(1).index.to_numpy()
    train_rows = full.interactions.index.difference(valid_rows).to_numpy()
    rec = Recommender("kgat", epochs=2, batch_size=32, progress=False, kg_weight=1.0)
    rec.fit(full.subset(train_rows), valid=full.subset(valid_rows))
    users = torch.arange(4)
    before = rec.score_users(users)
    again = Recommender.load(rec.save(tmp_path / "kgat"))
    torch.testing.assert_close(again.score_users(users), before)
