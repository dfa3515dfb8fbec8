"""Contrastive loss terms: InfoNCE by hand, edge-dropout views, SGL and SimGCL in the fit loop."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.data.dataset import RecDataset
from kgrec.graph import build_graph, normalized_adjacency
from kgrec.models import MF, Batch, LightGCN
from kgrec.scoring import LossTerm, SGLLoss, SimGCLLoss, edge_dropout_view, info_nce
from kgrec.scoring.contrastive import sign_noise
from kgrec.train import fit

INTERACTS = ("user", "interacts", "item")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    rows = []
    for u in range(30):
        block = np.arange(20) if u % 2 == 0 else np.arange(20, 40)
        rows += [(u, i) for i in rng.choice(block, size=10, replace=False)]
    train = RecDataset.from_frames(pd.DataFrame(rows, columns=["user", "item"]), items=range(40))
    return train, build_graph(train)


def test_info_nce_by_hand_on_2x2():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[3.0, 4.0], [0.0, -1.0]])
    tau = 0.5
    # cosines: cos(a0, b0) = 0.6, cos(a0, b1) = 0, cos(a1, b0) = 0.8, cos(a1, b1) = -1
    l0 = -math.log(math.exp(0.6 / tau) / (math.exp(0.6 / tau) + math.exp(0.0 / tau)))
    l1 = -math.log(math.exp(-1.0 / tau) / (math.exp(0.8 / tau) + math.exp(-1.0 / tau)))
    assert info_nce(a, b, temperature=tau).item() == pytest.approx((l0 + l1) / 2, rel=1e-6)
    # identical orthogonal views: the loss is log(1 + e^{-1/τ}), small for a small τ
    e = torch.eye(2)
    assert info_nce(e, e, temperature=0.5).item() == pytest.approx(
        math.log(1 + math.exp(-2)), rel=1e-6
    )
    with pytest.raises(ValueError, match="same shape"):
        info_nce(a, b[:1])


def test_edge_dropout_view_is_a_renormalised_shallow_copy(data):
    train, graph = data
    before = graph[INTERACTS].edge_index.clone()
    adj_before = graph.norm_adj
    view = edge_dropout_view(graph, drop_ratio=0.3, generator=torch.Generator().manual_seed(0))
    kept = view[INTERACTS].edge_index
    assert torch.equal(graph[INTERACTS].edge_index, before) and graph.norm_adj is adj_before
    assert 0.6 * before.shape[1] < kept.shape[1] < 0.8 * before.shape[1]
    keys = set(map(tuple, before.T.tolist()))
    assert set(map(tuple, kept.T.tolist())) <= keys
    ref = normalized_adjacency(
        kept[0].numpy(), kept[1].numpy(), num_users=train.num_users, num_items=train.num_items
    )
    torch.testing.assert_close(view.norm_adj.to_dense(), ref.to_dense())
    assert torch.equal(view[("item", "rev_interacts", "user")].edge_index, kept.flip(0))
    assert view["item"].entity_index is graph["item"].entity_index  # the rest is shared
    again = edge_dropout_view(graph, drop_ratio=0.3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again[INTERACTS].edge_index, kept)
    # a LightGCN sees a different graph in the view
    torch.manual_seed(0)
    enc = LightGCN.from_data(graph, embedding_dim=8)
    assert not torch.allclose(enc(view)[0], enc(graph)[0])


def test_sgl_loss_matches_a_manual_computation(data):
    train, graph = data
    torch.manual_seed(0)
    enc = LightGCN.from_data(graph, embedding_dim=8)
    term = SGLLoss(weight=0.3, temperature=0.25, drop_ratio=0.2)
    gen = torch.Generator().manual_seed(5)
    term.on_epoch_start(0, graph=graph, generator=gen)
    batch = Batch(
        torch.tensor([0, 3, 3, 7]), torch.tensor([1, 2, 5, 2]), torch.tensor([9, 9, 9, 9])
    )
    u_emb, i_emb = enc(graph)
    got = term(encoder=enc, graph=graph, batch=batch, user_emb=u_emb, item_emb=i_emb, generator=gen)
    g2 = torch.Generator().manual_seed(5)
    v1 = edge_dropout_view(graph, drop_ratio=0.2, generator=g2)
    v2 = edge_dropout_view(graph, drop_ratio=0.2, generator=g2)
    (u1, i1), (u2, i2) = enc(v1), enc(v2)
    users, items = torch.tensor([0, 3, 7]), torch.tensor([1, 2, 5])  # distinct batch nodes
    want = 0.3 * (
        info_nce(u1[users], u2[users], temperature=0.25)
        + info_nce(i1[items], i2[items], temperature=0.25)
    )
    torch.testing.assert_close(got, want)
    got.backward()
    assert enc.user_embedding.weight.grad is not None


def test_sign_noise_has_norm_eps_and_keeps_the_orthant():
    x = torch.randn(50, 16, generator=torch.Generator().manual_seed(0))
    d = sign_noise(x, eps=0.1, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(d.norm(dim=-1), torch.full((50,), 0.1))
    assert bool(((d * x) >= 0).all())


def test_simgcl_loss_with_zero_noise_is_info_nce_of_the_embeddings(data):
    _, graph = data
    torch.manual_seed(0)
    enc = MF.from_data(graph, embedding_dim=8)
    u, i = enc(graph)
    batch = Batch(torch.tensor([2, 4]), torch.tensor([0, 6]), torch.tensor([1, 1]))
    term = SimGCLLoss(weight=2.0, temperature=0.2, eps=0.0)
    got = term(
        encoder=enc, graph=graph, batch=batch, user_emb=u, item_emb=i, generator=torch.Generator()
    )
    want = 2.0 * (
        info_nce(u[[2, 4]], u[[2, 4]], temperature=0.2)
        + info_nce(i[[0, 6]], i[[0, 6]], temperature=0.2)
    )
    torch.testing.assert_close(got, want)
    noisy = SimGCLLoss(weight=2.0, eps=0.5)(encoder=enc, graph=graph, batch=batch, user_emb=u, item_emb=i,
                                           generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert noisy.item() != pytest.approx(got.item())


@pytest.mark.parametrize("term_cls", [SGLLoss, SimGCLLoss])
def test_loss_terms_in_the_fit_loop(data, term_cls):
    train, graph = data
    torch.manual_seed(0)
    enc = LightGCN.from_data(graph, embedding_dim=8)
    term = term_cls(weight=0.2)
    hist = fit(
        enc, graph, train, epochs=3, batch_size=64, lr=0.05, seed=3, progress=False, losses=[term]
    )
    assert list(hist.columns) == ["epoch", "loss", "bpr", "reg", "aux", term.name, "seconds"]
    assert (hist[term.name] > 0).all()
    np.testing.assert_allclose(
        hist["loss"], hist["bpr"] + 1e-4 * hist["reg"] + hist[term.name], rtol=1e-6
    )
    # the same seed gives the same run (views and noise come from the loop's generator)
    torch.manual_seed(0)
    enc2 = LightGCN.from_data(graph, embedding_dim=8)
    hist2 = fit(
        enc2,
        graph,
        train,
        epochs=3,
        batch_size=64,
        lr=0.05,
        seed=3,
        progress=False,
        losses=[term_cls(weight=0.2)],
    )
    assert hist2[term.name].tolist() == hist[term.name].tolist()
    assert torch.equal(enc.user_embedding.weight, enc2.user_embedding.weight)


def test_contrastive_term_spreads_embeddings(data):
    """InfoNCE's uniformity: with the term on, the batch's users end up less similar."""
    train, graph = data

    def mean_cosine(losses):
        torch.manual_seed(0)
        enc = MF.from_data(graph, embedding_dim=8)
        fit(
            enc,
            graph,
            train,
            epochs=5,
            batch_size=64,
            lr=0.05,
            seed=3,
            progress=False,
            losses=losses,
        )
        z = torch.nn.functional.normalize(enc.user_embedding.weight.detach(), dim=-1)
        return float((z @ z.T).mean())

    assert mean_cosine([SimGCLLoss(weight=1.0, eps=0.1)]) < mean_cosine([])


def test_fit_rejects_other_objects_as_losses(data):
    train, graph = data
    with pytest.raises(TypeError, match="LossTerm"):
        fit(MF.from_data(graph), graph, train, epochs=1, progress=False, losses=[lambda **kw: 0])
    assert issubclass(SGLLoss, LossTerm)
