"""Training losses: BPR and the L2 penalty on the batch's ego embeddings."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["bpr_loss", "l2_reg"]


def bpr_loss(pos: Tensor, neg: Tensor) -> Tensor:
    """Bayesian personalised ranking (Rendle et al., UAI 2009), averaged over the batch.

    ``L = mean_b softplus(s_neg[b] - s_pos[b]) = mean_b -log σ(s_pos[b] - s_neg[b])`` (softplus is
    the numerically stable form).

    Args:
        pos: ``[B]`` scores of the positive pairs.
        neg: ``[B]`` scores of one negative per positive, or ``[B, n]`` for ``n`` negatives
            (each compared with its row's positive; the mean runs over all ``B * n`` pairs).
    """
    if neg.dim() == pos.dim() + 1:
        pos = pos.unsqueeze(-1)
    return F.softplus(neg - pos).mean()


def l2_reg(tensors: Iterable[Tensor], batch_size: int) -> Tensor:
    """``Σ_t ||t||_F² / (2 * batch_size)``: the L2 penalty of the LightGCN paper's code.

    Applied to the ego (layer-0) embeddings of the batch's users, positives and negatives, and
    multiplied by ``reg_weight`` (default 1e-4) in the fit loop. Note: RecBole's ``EmbLoss``
    default (``require_pow=False``) sums plain, unsquared norms instead; its ``require_pow=True``
    equals this definition.

    Returns a scalar tensor (0 when ``tensors`` is empty).
    """
    total: Tensor | None = None
    for t in tensors:
        term = t.pow(2).sum()
        total = term if total is None else total + term
    if total is None:
        return torch.zeros(())
    return total / (2 * batch_size)
