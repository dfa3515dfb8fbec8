"""The MF head and the losses against direct formulas."""

from __future__ import annotations

import math

import pytest
import torch

from kgrec.scoring import (
    RANKING_LOSSES,
    BPRLoss,
    MFHead,
    SampledSoftmaxLoss,
    SoftmaxLoss,
    bpr_loss,
    get_ranking_loss,
    l2_reg,
)


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


def _batch(users, pos, neg):
    from kgrec.models.base import Batch

    return Batch(torch.tensor(users), torch.tensor(pos), torch.tensor(neg, dtype=torch.long))


def test_softmax_loss_is_cross_entropy_over_the_catalogue():
    ue = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    ie = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    batch = _batch([0, 1], [2, 1], [[], []])
    # user 0 scores [1, 0, 1], positive 2; user 1 scores [0, 2, 2], positive 1
    expected = (
        -1 + math.log(math.e + 1 + math.e) + (-2 + math.log(1 + 2 * math.e**2))
    ) / 2
    got = SoftmaxLoss()(head=MFHead(), user_emb=ue, item_emb=ie, batch=batch)
    assert math.isclose(float(got), expected, rel_tol=1e-6)
    # temperature 0.5 doubles every score
    hot = SoftmaxLoss(temperature=0.5)(head=MFHead(), user_emb=ue, item_emb=ie, batch=batch)
    twice = SoftmaxLoss()(head=MFHead(), user_emb=2 * ue, item_emb=ie, batch=batch)
    assert math.isclose(float(hot), float(twice), rel_tol=1e-6)


def test_sampled_softmax_and_bpr_use_the_batch_negatives():
    ue = torch.tensor([[1.0, 0.0]])
    ie = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    batch = _batch([0], [0], [[1, 2]])  # scores: positive 1, negatives 0 and 3
    got = SampledSoftmaxLoss()(head=MFHead(), user_emb=ue, item_emb=ie, batch=batch)
    assert math.isclose(float(got), -1 + math.log(math.e + 1 + math.e**3), rel_tol=1e-6)
    bpr = BPRLoss()(head=MFHead(), user_emb=ue, item_emb=ie, batch=batch)
    assert math.isclose(float(bpr), float(bpr_loss(torch.tensor([1.0]), torch.tensor([[0.0, 3.0]]))))


def test_get_ranking_loss_specs_and_errors():
    assert isinstance(get_ranking_loss("bpr"), BPRLoss)
    loss = get_ranking_loss({"name": "Softmax", "temperature": 0.2})
    assert isinstance(loss, SoftmaxLoss) and loss.temperature == 0.2
    assert loss.config() == {"name": "softmax", "temperature": 0.2}
    assert get_ranking_loss(loss) is loss
    assert sorted(RANKING_LOSSES) == ["bpr", "sampled_softmax", "softmax"]
    with pytest.raises(ValueError, match="unknown loss 'hinge'; valid names: bpr, softmax"):
        get_ranking_loss("hinge")
    with pytest.raises(TypeError, match="bad options for loss 'softmax'"):
        get_ranking_loss({"name": "softmax", "tau": 1})
    with pytest.raises(ValueError, match="temperature > 0"):
        SoftmaxLoss(temperature=0)
    with pytest.raises(TypeError, match="a dict with a 'name' key"):
        get_ranking_loss({"temperature": 1})
