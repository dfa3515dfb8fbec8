"""KGAT attention and propagation against hand computations and dense references."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from kgrec.nn.kg_attention import (
    KGAttentionConv,
    SparsePattern,
    kg_attention,
    kg_attention_logits,
    sparse_propagate,
    transr_loss,
)


def test_attention_by_hand_on_three_nodes() -> None:
    # Nodes 0, 1, 2 (d = 2), relations 0 and 1 (k = 2); edges 0 -r0-> 1, 0 -r1-> 2, 1 -r0-> 2.
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    rel = torch.tensor([[0.5, -0.5], [0.0, 1.0]])
    proj = torch.stack([torch.eye(2), torch.tensor([[2.0, 0.0], [0.0, 1.0]])])
    edge_index = torch.tensor([[0, 0, 1], [1, 2, 2]])
    edge_type = torch.tensor([0, 1, 0])

    # π(h, r, t) = (e_t W_r) · tanh(e_h W_r + e_r), written out component by component:
    # edge 0 (0, r0, 1): e_h W = (1, 0), + e_r = (1.5, -0.5); e_t W = (0, 1)  -> tanh(-0.5)
    # edge 1 (0, r1, 2): e_h W = (2, 0), + e_r = (2, 1);      e_t W = (2, 1)  -> 2 tanh 2 + tanh 1
    # edge 2 (1, r0, 2): e_h W = (0, 1), + e_r = (0.5, 0.5);  e_t W = (1, 1)  -> 2 tanh 0.5
    logits = [math.tanh(-0.5), 2 * math.tanh(2.0) + math.tanh(1.0), 2 * math.tanh(0.5)]
    got = kg_attention_logits(x, edge_index, edge_type, rel, proj)
    torch.testing.assert_close(got, torch.tensor(logits))

    # softmax over each head's edges: head 0 has two, head 1 one, head 2 none
    z = math.exp(logits[0]) + math.exp(logits[1])
    expected = torch.tensor([math.exp(logits[0]) / z, math.exp(logits[1]) / z, 1.0])
    att = kg_attention(x, edge_index, edge_type, rel, proj)
    torch.testing.assert_close(att, expected)

    # propagation: e_N(0) = π̃01 e_1 + π̃02 e_2, e_N(1) = e_2, e_N(2) = 0
    conv = KGAttentionConv(2, 3, aggregator="gcn", dropout=0.0)
    neigh = conv.neighbourhood(x, edge_index, att)
    torch.testing.assert_close(neigh[0], expected[0] * x[1] + expected[1] * x[2])
    torch.testing.assert_close(neigh[1], x[2])
    torch.testing.assert_close(neigh[2], torch.zeros(2))


def random_graph(seed: int = 0, n: int = 30, e: int = 200, r: int = 5, d: int = 8, k: int = 6):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    edge_index = torch.randint(n, (2, e), generator=g)
    edge_type = torch.randint(r, (e,), generator=g)
    rel = torch.randn(r, k, generator=g)
    proj = torch.randn(r, d, k, generator=g) / math.sqrt(d)
    return x, edge_index, edge_type, rel, proj


def test_softmax_sums_to_one_per_head() -> None:
    x, edge_index, edge_type, rel, proj = random_graph()
    att = kg_attention(x, edge_index, edge_type, rel, proj, chunk_size=7)
    sums = torch.zeros(x.shape[0]).index_add_(0, edge_index[0], att)
    has_edges = torch.bincount(edge_index[0], minlength=x.shape[0]) > 0
    torch.testing.assert_close(sums[has_edges], torch.ones(int(has_edges.sum())))
    assert torch.all(sums[~has_edges] == 0)
    assert torch.all(att > 0)


def test_logits_match_a_per_edge_loop_in_any_order() -> None:
    x, edge_index, edge_type, rel, proj = random_graph(1)
    ref = torch.stack(
        [
            (x[t] @ proj[r]) @ torch.tanh(x[h] @ proj[r] + rel[r])
            for h, t, r in zip(
                edge_index[0].tolist(), edge_index[1].tolist(), edge_type.tolist(), strict=True
            )
        ]
    )
    torch.testing.assert_close(
        kg_attention_logits(x, edge_index, edge_type, rel, proj, chunk_size=3), ref
    )
    # pre-sorted edges with relation_ptr give the same values
    order = torch.argsort(edge_type, stable=True)
    ptr = torch.zeros(rel.shape[0] + 1, dtype=torch.long)
    ptr[1:] = torch.cumsum(torch.bincount(edge_type, minlength=rel.shape[0]), 0)
    sorted_logits = kg_attention_logits(
        x, edge_index[:, order], edge_type[order], rel, proj, relation_ptr=ptr
    )
    torch.testing.assert_close(sorted_logits, ref[order])


def test_live_attention_is_differentiable() -> None:
    x, edge_index, edge_type, rel, proj = random_graph(2)
    rel.requires_grad_()
    proj.requires_grad_()
    att = kg_attention(x, edge_index, edge_type, rel, proj)
    (att * torch.randn_like(att)).sum().backward()
    assert rel.grad is not None and rel.grad.abs().sum() > 0
    assert proj.grad is not None and proj.grad.abs().sum() > 0


def dense_reference(conv: KGAttentionConv, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    neigh = a @ x
    s = conv.negative_slope
    if conv.aggregator == "bi-interaction":
        assert conv.lin2 is not None
        return F.leaky_relu(conv.lin1(x + neigh), s) + F.leaky_relu(conv.lin2(x * neigh), s)
    if conv.aggregator == "gcn":
        return F.leaky_relu(conv.lin1(x + neigh), s)
    return F.leaky_relu(conv.lin1(torch.cat([x, neigh], -1)), s)


@pytest.mark.parametrize("aggregator", ["bi-interaction", "gcn", "graphsage"])
def test_sparse_and_edge_list_paths_match_dense(aggregator: str) -> None:
    x, edge_index, edge_type, rel, proj = random_graph(3)
    att = kg_attention(x, edge_index, edge_type, rel, proj)
    n = x.shape[0]
    dense = torch.zeros(n, n).index_put_((edge_index[0], edge_index[1]), att, accumulate=True)
    torch.manual_seed(0)
    conv = KGAttentionConv(x.shape[1], 5, aggregator=aggregator, dropout=0.0)
    a, a_t = SparsePattern(edge_index, n).matrices(att)
    torch.testing.assert_close(a.to_dense(), dense)
    torch.testing.assert_close(a_t.to_dense(), dense.T)

    outs, grads = [], []
    for adj, w, t in [(edge_index, att, None), (a, None, a_t), (a, None, None)]:
        xi = x.clone().requires_grad_()
        out = conv(xi, adj, w, transpose=t)
        out.pow(2).sum().backward()
        outs.append(out.detach())
        grads.append(xi.grad)
    xi = x.clone().requires_grad_()
    ref = dense_reference(conv, xi, dense)
    ref.pow(2).sum().backward()
    for out, grad in zip(outs, grads, strict=True):
        torch.testing.assert_close(out, ref.detach(), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(grad, xi.grad, rtol=1e-4, atol=1e-5)


def test_parallel_edges_are_summed() -> None:
    edge_index = torch.tensor([[0, 0, 1], [1, 1, 0]])
    a, a_t = SparsePattern(edge_index, 2).matrices(torch.tensor([0.25, 0.5, 1.0]))
    assert a._nnz() == 2
    torch.testing.assert_close(a.to_dense(), torch.tensor([[0.0, 0.75], [1.0, 0.0]]))
    torch.testing.assert_close(sparse_propagate(a, torch.eye(2), a_t), a.to_dense())


def test_message_dropout_only_in_training() -> None:
    x, edge_index, edge_type, rel, proj = random_graph(4)
    att = kg_attention(x, edge_index, edge_type, rel, proj)
    conv = KGAttentionConv(x.shape[1], 16, dropout=0.5)
    conv.eval()
    torch.testing.assert_close(conv(x, edge_index, att), conv(x, edge_index, att))
    conv.train()
    torch.manual_seed(0)
    out = conv(x, edge_index, att)
    assert (out == 0).float().mean() > 0.3


def test_transr_loss_matches_a_per_triple_loop() -> None:
    g = torch.Generator().manual_seed(5)
    b, d, k, r = 9, 4, 3, 3
    h, t, tn = (torch.randn(b, d, generator=g) for _ in range(3))
    rel_ids = torch.randint(r, (b,), generator=g)
    rel, proj = torch.randn(r, k, generator=g), torch.randn(r, d, k, generator=g)
    loss = transr_loss(h, t, tn, rel_ids, rel, proj, reg_weight=0.1)
    terms, l2 = [], 0.0
    for i in range(b):
        w, e_r = proj[rel_ids[i]], rel[rel_ids[i]]
        pos = (h[i] @ w + e_r - t[i] @ w).pow(2).sum()
        neg = (h[i] @ w + e_r - tn[i] @ w).pow(2).sum()
        terms.append(-F.logsigmoid(neg - pos))
        l2 = (
            l2
            + (h[i] @ w).pow(2).sum()
            + e_r.pow(2).sum()
            + (t[i] @ w).pow(2).sum()
            + (tn[i] @ w).pow(2).sum()
        )
    torch.testing.assert_close(loss, torch.stack(terms).mean() + 0.1 * l2 / (2 * b))


def test_errors_say_what_was_expected() -> None:
    with pytest.raises(ValueError, match="expected aggregator in"):
        KGAttentionConv(4, 4, aggregator="mean")  # type: ignore[arg-type]
    conv = KGAttentionConv(4, 4)
    with pytest.raises(ValueError, match=r"expected x of shape \[N, 4\]"):
        conv(torch.randn(3, 5), torch.tensor([[0], [1]]), torch.ones(1))
    with pytest.raises(ValueError, match="expected edge_weight of shape"):
        conv(torch.randn(3, 4), torch.tensor([[0], [1]]))
    with pytest.raises(ValueError, match=r"relation_proj \[R, d, k\]"):
        kg_attention_logits(
            torch.randn(3, 4),
            torch.tensor([[0], [1]]),
            torch.tensor([0]),
            torch.randn(2, 3),
            torch.randn(2, 3, 3),
        )
