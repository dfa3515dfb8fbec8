"""LightGCN against a dense NumPy / dense-autograd reference on a tiny graph."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.data.dataset import RecDataset
from kgrec.graph import build_graph
from kgrec.models import LightGCN
from kgrec.nn import SymmetricSpMM, propagate

PAIRS = [(0, 0), (0, 1), (0, 3), (1, 1), (1, 2), (2, 0), (2, 4), (3, 2), (3, 3), (3, 4), (4, 1)]
CATALOGUE = [0, 1, 2, 3, 4, 5]  # item 5 has no interaction: an isolated (cold) node


@pytest.fixture(scope="module")
def tiny():
    frame = pd.DataFrame(PAIRS, columns=["user", "item"])
    train = RecDataset.from_frames(frame, items=CATALOGUE)
    return train, build_graph(train)


def dense_adjacency(num_users: int, num_items: int) -> np.ndarray:
    n = num_users + num_items
    a = np.zeros((n, n))
    for u, i in PAIRS:
        a[u, num_users + i] = a[num_users + i, u] = 1.0
    deg = a.sum(1)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
    return inv[:, None] * a * inv[None, :]


def dense_lightgcn(e0: np.ndarray, a_hat: np.ndarray, weights: list[float]) -> np.ndarray:
    out, x = weights[0] * e0, e0
    for w in weights[1:]:
        x = a_hat @ x
        out = out + w * x
    return out


def test_graph_matches_dense_reference(tiny):
    train, graph = tiny
    assert (train.num_users, train.num_items) == (5, 6)
    np.testing.assert_allclose(
        graph.norm_adj.to_dense().numpy(), dense_adjacency(5, 6), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("num_layers", [0, 1, 3])
def test_forward_matches_dense_reference(tiny, num_layers):
    _, graph = tiny
    torch.manual_seed(0)
    model = LightGCN.from_data(graph, embedding_dim=8, num_layers=num_layers)
    users, items = model(graph)
    assert users.shape == (5, 8) and items.shape == (6, 8)
    e0 = (
        torch.cat([model.user_embedding.weight, model.item_embedding.weight])
        .detach()
        .double()
        .numpy()
    )
    ref = dense_lightgcn(e0, dense_adjacency(5, 6), [1.0 / (num_layers + 1)] * (num_layers + 1))
    got = torch.cat([users, items]).detach().double().numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    # The isolated item keeps only its (weighted) ego embedding.
    np.testing.assert_allclose(got[5 + 5], e0[5 + 5] / (num_layers + 1), rtol=1e-6)


def test_custom_layer_weights(tiny):
    _, graph = tiny
    torch.manual_seed(1)
    weights = [0.5, 0.3, 0.2]
    model = LightGCN.from_data(graph, embedding_dim=4, num_layers=2, layer_weights=weights)
    e0 = (
        torch.cat([model.user_embedding.weight, model.item_embedding.weight])
        .detach()
        .double()
        .numpy()
    )
    got = torch.cat(model(graph)).detach().double().numpy()
    np.testing.assert_allclose(
        got, dense_lightgcn(e0, dense_adjacency(5, 6), weights), rtol=1e-5, atol=1e-6
    )


def test_gradients_match_dense_autograd(tiny):
    """Backward through the symmetric CSR op equals autograd through dense matrices."""
    _, graph = tiny
    torch.manual_seed(2)
    model = LightGCN.from_data(graph, embedding_dim=6, num_layers=3).double()
    graph64 = copy.copy(graph)
    graph64.norm_adj = graph.norm_adj.to(torch.float64)
    probe_u = torch.randn(5, 6, dtype=torch.float64)
    probe_i = torch.randn(6, 6, dtype=torch.float64)

    users, items = model(graph64)
    ((users * probe_u).sum() + (items * probe_i).pow(2).sum()).backward()

    a_hat = graph64.norm_adj.to_dense()  # the same values; only the product differs
    eu = model.user_embedding.weight.detach().clone().requires_grad_(True)
    ei = model.item_embedding.weight.detach().clone().requires_grad_(True)
    x = torch.cat([eu, ei])
    out = x / 4
    for _ in range(3):
        x = a_hat @ x
        out = out + x / 4
    ((out[:5] * probe_u).sum() + (out[5:] * probe_i).pow(2).sum()).backward()

    torch.testing.assert_close(model.user_embedding.weight.grad, eu.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(model.item_embedding.weight.grad, ei.grad, rtol=1e-10, atol=1e-12)


def test_symmetric_spmm_gradcheck(tiny):
    _, graph = tiny
    adj = graph.norm_adj.to(torch.float64)
    x = torch.randn(11, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: SymmetricSpMM.apply(adj, t), (x,))
    # The non-symmetric path (PyTorch's own backward) gives the same gradient here.
    y1 = propagate(adj, x).pow(2).sum()
    (g1,) = torch.autograd.grad(y1, x)
    y2 = propagate(adj, x, symmetric=False).pow(2).sum()
    (g2,) = torch.autograd.grad(y2, x)
    torch.testing.assert_close(g1, g2)


def test_errors_name_the_fix(tiny):
    _, graph = tiny
    with pytest.raises(ValueError, match="from_data"):
        LightGCN(4, 6)(graph)
    with pytest.raises(ValueError, match="layer_weights"):
        LightGCN(5, 6, num_layers=2, layer_weights=[0.5, 0.5])
    coo = copy.copy(graph)
    coo.norm_adj = graph.norm_adj.to_sparse_coo()
    with pytest.raises(ValueError, match="to_sparse_csr"):
        LightGCN.from_data(graph)(coo)
    with pytest.raises(ValueError, match="expected features with 11 rows"):
        propagate(graph.norm_adj, torch.randn(10, 2))
    bare = copy.copy(graph)
    del bare.norm_adj
    with pytest.raises(ValueError, match="build_graph"):
        LightGCN.from_data(graph)(bare)


def test_graph_is_not_stored(tiny):
    _, graph = tiny
    model = LightGCN.from_data(graph, embedding_dim=4)
    assert set(model.state_dict()) == {"user_embedding.weight", "item_embedding.weight"}
    assert not any(v is graph or v is graph.norm_adj for v in vars(model).values())
