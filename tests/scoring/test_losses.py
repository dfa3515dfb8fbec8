"""The MF head and the losses against direct formulas."""

from __future__ import annotations

import math

import torch

from kgrec.scoring import MFHead, bpr_loss, l2_reg


def test_mf_head_scores():
    torch.manual_seed(0)
    ue, ie = torch.randn(4, 3), torch.randn(6, 3)
    head = MFHead()
    users = torch.tensor([0, 3, 3])
    items = torch.tensor([5, 0, 2])
    expected = torch.stack(
        [ue[u] @ ie[i] for u, i in zip(users.tolist(), items.tolist(), strict=True)]
    )
    torch.testing.assert_close(head.pair_scores(ue, ie, users, items), expected)
    many = torch.tensor([[5, 1], [0, 0], [2, 4]])
    got = head.pair_scores(ue, ie, users, many)
    assert got.shape == (3, 2)
    torch.testing.assert_close(got[:, 0], expected)
    torch.testing.assert_close(head.all_scores(ue, ie, users), ue[users] @ ie.T)
    torch.testing.assert_close(head.all_scores(ue, ie, users)[torch.arange(3), items], expected)


def test_bpr_loss():
    pos = torch.tensor([2.0, -1.0])
    neg = torch.tensor([0.0, 1.0])
    expected = (
        -math.log(torch.sigmoid(torch.tensor(2.0))) - math.log(torch.sigmoid(torch.tensor(-2.0)))
    ) / 2
    assert math.isclose(float(bpr_loss(pos, neg)), expected, rel_tol=1e-6)
    # [B, n] negatives: each compared with its row's positive
    neg2 = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    assert math.isclose(float(bpr_loss(pos, neg2)), expected, rel_tol=1e-6)
    # stable for large margins
    assert torch.isfinite(bpr_loss(torch.tensor([-1e4]), torch.tensor([1e4])))


def test_l2_reg():
    a, b = torch.ones(2, 3), torch.full((1, 3), 2.0)
    assert float(l2_reg([a, b], 4)) == (6 + 12) / (2 * 4)
    assert float(l2_reg([], 4)) == 0.0
