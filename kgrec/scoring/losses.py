"""Training losses: the ranking losses the fit loop optimises (BPR, full and sampled softmax),
the L2 penalty on the batch's ego embeddings, and the :class:`LossTerm` interface for extra terms
any encoder can switch on (contrastive views, ...)."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from kgrec.models.base import Batch, Encoder
    from kgrec.scoring.head import MFHead

__all__ = [
    "RANKING_LOSSES",
    "BPRLoss",
    "LossTerm",
    "RankingLoss",
    "SampledSoftmaxLoss",
    "SoftmaxLoss",
    "bpr_loss",
    "get_ranking_loss",
    "l2_reg",
]


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


class RankingLoss(abc.ABC):
    """The main loss of the fit loop: how a batch's positives are ranked against other items.

    ``loss(head=..., user_emb=..., item_emb=..., batch=...)`` returns the scalar loss of the
    batch; its epoch mean is the history column :attr:`name`. A loss with
    ``uses_negatives = False`` ranks each positive against the whole catalogue, so the fit loop
    draws no negatives for it (``batch.neg_items`` is then ``[B, 0]``).
    """

    #: the history column and the name ``fit(loss=...)`` accepts
    name: str = "loss"
    #: whether the loss compares positives with the sampler's negatives
    uses_negatives: bool = True

    @abc.abstractmethod
    def __call__(self, *, head: MFHead, user_emb: Tensor, item_emb: Tensor, batch: Batch) -> Tensor:
        """The scalar loss of ``batch`` under the full-graph forward ``(user_emb, item_emb)``."""

    def config(self) -> dict[str, Any]:
        """JSON-ready ``{"name": ..., **options}``; checkpoints compare it on resume."""
        return {"name": self.name}

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({options})"


def _pos_neg_scores(head: MFHead, user_emb: Tensor, item_emb: Tensor, batch: Batch) -> Tensor:
    """``[B, 1 + n]`` scores: column 0 the positive, then the batch's negatives.

    One gather per table for positives and negatives together (a cheaper backward).
    """
    cand = torch.cat([batch.pos_items.view(-1, 1), batch.neg_items.view(len(batch.users), -1)], 1)
    return head.pair_scores(user_emb, item_emb, batch.users, cand)


class BPRLoss(RankingLoss):
    """Bayesian personalised ranking against the sampler's negatives (the default)."""

    name = "bpr"

    def __call__(self, *, head: MFHead, user_emb: Tensor, item_emb: Tensor, batch: Batch) -> Tensor:
        scores = _pos_neg_scores(head, user_emb, item_emb, batch)
        return bpr_loss(scores[:, 0], scores[:, 1:])


def _check_temperature(temperature: float) -> float:
    if not temperature > 0:
        raise ValueError(f"expected temperature > 0 (got {temperature})")
    return float(temperature)


class SoftmaxLoss(RankingLoss):
    """Full softmax cross-entropy: each positive against every item of the catalogue.

    ``L = mean_b [ -s(u_b, i_b)/τ + log Σ_j exp(s(u_b, j)/τ) ]`` with the MF head's score ``s``.
    The exact gradient of the listwise (multinomial) likelihood: no sampling noise, and no
    negative sampler (a hard-negative sampler has nothing to add). Cost per batch is a
    ``[B, I]`` score matrix, cheap for catalogues up to some 10^5 items. The user's other
    positives sit in the denominator too, as in every multinomial model (Mult-VAE, sampled
    softmax); its L2 weight usually needs to be larger than BPR's (scores are unbounded).

    Args:
        temperature: τ (default 1.0). With unnormalised embeddings it rescales the scores,
            which interacts with ``reg_weight``.
    """

    name = "softmax"
    uses_negatives = False

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = _check_temperature(temperature)

    def __call__(self, *, head: MFHead, user_emb: Tensor, item_emb: Tensor, batch: Batch) -> Tensor:
        logits = self._scaled(head.all_scores(user_emb, item_emb, batch.users))
        return F.cross_entropy(logits, batch.pos_items)

    def _scaled(self, scores: Tensor) -> Tensor:
        return scores if self.temperature == 1.0 else scores / self.temperature

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "temperature": self.temperature}


class SampledSoftmaxLoss(SoftmaxLoss):
    """Softmax cross-entropy over the positive and the sampler's negatives only.

    ``L = mean_b -log softmax([s(u, i+), s(u, j_1), ..., s(u, j_n)] / τ)[0]``, with the
    ``n = fit(num_negatives=...)`` negatives of any sampler (uniform, popularity, hard); for
    catalogues too large for :class:`SoftmaxLoss`. No log-Q correction is applied: with uniform
    negatives it is a constant, with popularity-weighted ones the loss over-penalises popular
    items (use uniform or hard negatives).
    """

    name = "sampled_softmax"
    uses_negatives = True

    def __call__(self, *, head: MFHead, user_emb: Tensor, item_emb: Tensor, batch: Batch) -> Tensor:
        logits = self._scaled(_pos_neg_scores(head, user_emb, item_emb, batch))
        return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device))


#: ranking losses by name (``fit(loss=...)``, ``Recommender(loss=...)``, ``kgrec train --loss``)
RANKING_LOSSES: dict[str, type[RankingLoss]] = {
    "bpr": BPRLoss,
    "softmax": SoftmaxLoss,
    "sampled_softmax": SampledSoftmaxLoss,
}


def get_ranking_loss(spec: str | Mapping[str, Any] | RankingLoss) -> RankingLoss:
    """A :class:`RankingLoss` from a name, ``{"name": ..., **options}`` or an instance."""
    if isinstance(spec, RankingLoss):
        return spec
    if isinstance(spec, str):
        name, options = spec, {}
    elif isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
        options = dict(spec)
        name = options.pop("name")
    else:
        raise TypeError(
            f"expected a loss name, a dict with a 'name' key or a RankingLoss (got {spec!r})"
        )
    cls = RANKING_LOSSES.get(name.lower())
    if cls is None:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(RANKING_LOSSES)}")
    try:
        return cls(**options)
    except TypeError as exc:
        raise TypeError(f"bad options for loss {name!r}: {exc}") from None


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
