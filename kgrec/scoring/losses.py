"""Training losses: BPR, the L2 penalty on the batch's ego embeddings, and the
:class:`LossTerm` interface for extra terms any encoder can switch on (contrastive views, ...)."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from kgrec.models.base import Batch, Encoder

__all__ = ["LossTerm", "bpr_loss", "l2_reg"]


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


class LossTerm(abc.ABC):
    """An extra term of the training loss that the one fit loop adds to every batch.

    ``fit(..., losses=[term])`` calls ``term.on_epoch_start(epoch, graph=..., generator=...)``
    before each epoch (e.g. to draw augmented graph views) and, for every batch,

        ``term(encoder=..., graph=..., batch=..., user_emb=..., item_emb=..., generator=...)``

    with the batch's forward ``(user_emb [U, d], item_emb [I, d]) = encoder(graph)``; the
    returned scalar (already weighted) is added to the loss and its epoch mean is logged in the
    history column :attr:`name`. Every random number must come from ``generator`` (the loop's
    seeded one), and anything that must survive a resume goes in :meth:`state_dict`, so runs
    stay reproducible and resume exactly. A term is a component, not a model: it works through
    the encoder contract only (``encoder(graph)``), so any encoder can use it.
    """

    #: the history column of this term
    name: str = "term"

    def on_epoch_start(self, epoch: int, *, graph: Any, generator: torch.Generator) -> None:
        """Called before epoch ``epoch`` (0-based); default: nothing."""
        return None

    @abc.abstractmethod
    def __call__(
        self,
        *,
        encoder: Encoder,
        graph: Any,
        batch: Batch,
        user_emb: Tensor,
        item_emb: Tensor,
        generator: torch.Generator,
    ) -> Tensor:
        """The weighted scalar loss of ``batch``."""

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must keep for an identical resumed run (tensors, plain types)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        return None
