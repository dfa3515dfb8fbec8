"""Contrastive auxiliary losses on augmented views: SGL (edge dropout) and SimGCL (noise).

Both are :class:`~kgrec.scoring.LossTerm` s any encoder can switch on with
``fit(..., losses=[SGLLoss()])`` (or ``Recommender(..., augment="sgl")``): they work through the
encoder contract alone, ``encoder(graph) -> (user_emb, item_emb)``, so no model needs a trainer
of its own.

InfoNCE (van den Oord et al., 2018) between two views ``a`` and ``b`` of the same ``n`` nodes::

    L = 1/n Σ_i -log( exp(cos(a_i, b_i) / τ) / Σ_j exp(cos(a_i, b_j) / τ) )

i.e. the cross-entropy of the ``[n, n]`` cosine-similarity logits ``/ τ`` with the diagonal as
the target. The nodes are the batch's distinct users and (separately) its distinct positive
items; the other nodes of the batch are the negatives. The papers sum over anchors; the mean
here makes ``weight`` independent of the batch size (SELFRec's SimGCL code also takes the mean).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from kgrec.graph.bipartite import normalized_adjacency
from kgrec.scoring.losses import LossTerm

__all__ = ["SGLLoss", "SimGCLLoss", "edge_dropout_view", "info_nce"]

INTERACTS = ("user", "interacts", "item")
REV_INTERACTS = ("item", "rev_interacts", "user")


def info_nce(a: Tensor, b: Tensor, *, temperature: float = 0.2) -> Tensor:
    """InfoNCE of paired rows: ``a[i]`` and ``b[i]`` are positives, ``b[j != i]`` negatives.

    Args:
        a, b: ``[n, d]`` two views of the same ``n`` nodes (rows are L2-normalised here).
        temperature: ``τ > 0``, default 0.2 (SGL's and SimGCL's choice).

    Returns:
        A scalar: ``mean_i CE(cos(a_i, b_·) / τ, i)``.
    """
    if a.shape != b.shape or a.dim() != 2:
        raise ValueError(
            f"expected two [n, d] views of the same shape (got {tuple(a.shape)} and {tuple(b.shape)})"
        )
    if temperature <= 0:
        raise ValueError(f"expected temperature > 0 (got {temperature})")
    logits = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(a), device=a.device))


def edge_dropout_view(graph: Any, *, drop_ratio: float, generator: torch.Generator) -> Any:
    """A view of ``graph`` with each user-item edge dropped with probability ``drop_ratio``.

    SGL's edge dropout (ED): the kept edges get a re-normalised adjacency
    ``D'^-1/2 A' D'^-1/2`` (``norm_adj``), and the view's ``(user, interacts, item)`` and reverse
    edge indices hold the kept edges too, so encoders reading either see the same view. The view
    is a shallow copy: node counts, KG edges and every other attribute are shared with
    ``graph``, which is left untouched. Cost: one mask over the ``E`` edges and one adjacency
    build (``O(E)``).
    """
    if not 0.0 <= drop_ratio < 1.0:
        raise ValueError(f"expected drop_ratio in [0, 1) (got {drop_ratio})")
    edge_index = graph[INTERACTS].edge_index
    keep = torch.rand(edge_index.shape[1], generator=generator) >= drop_ratio
    kept = edge_index[:, keep.to(edge_index.device)]
    view = copy.copy(graph)
    view[INTERACTS].edge_index = kept
    if REV_INTERACTS in getattr(graph, "edge_types", ()):
        view[REV_INTERACTS].edge_index = kept.flip(0)
    num_users, num_items = graph["user"].num_nodes, graph["item"].num_nodes
    adj = normalized_adjacency(
        kept[0].cpu().numpy(), kept[1].cpu().numpy(), num_users=num_users, num_items=num_items
    )
    old = getattr(graph, "norm_adj", None)
    view.norm_adj = adj.to(old.device) if isinstance(old, Tensor) else adj
    return view


def _batch_nodes(batch: Any) -> tuple[Tensor, Tensor]:
    return torch.unique(batch.users), torch.unique(batch.pos_items)


class SGLLoss(LossTerm):
    """Self-supervised graph learning with edge-dropout views (SGL-ED).

    Wu et al., "Self-supervised Graph Learning for Recommendation", SIGIR 2021. Before each
    epoch two views ``G'``, ``G''`` of the training graph are drawn by
    :func:`edge_dropout_view` (ratio ``ρ = drop_ratio``); for each batch the encoder runs on
    both, and

        ``L_ssl = weight · (InfoNCE(z'_U, z''_U) + InfoNCE(z'_I, z''_I))``

    over the batch's distinct users ``U`` and positive items ``I`` (:func:`info_nce`, mean over
    anchors, temperature ``τ``). Two extra encoder forwards (and backwards) per batch.

    An encoder that ignores the graph (MF) gets identical views: the term then only spreads
    the batch's embeddings apart on the sphere (the uniformity part of InfoNCE).

    Args:
        weight: ``λ``, default 0.1. temperature: ``τ``, default 0.2. drop_ratio: ``ρ``, default
            0.1 (SGL's defaults are λ=0.1, τ=0.2, ρ=0.1; SGL sums over anchors).
    """

    name = "sgl"

    def __init__(
        self, *, weight: float = 0.1, temperature: float = 0.2, drop_ratio: float = 0.1
    ) -> None:
        if weight < 0 or temperature <= 0 or not 0.0 <= drop_ratio < 1.0:
            raise ValueError(
                "expected weight >= 0, temperature > 0 and drop_ratio in [0, 1) "
                f"(got {weight}, {temperature}, {drop_ratio})"
            )
        self.weight = float(weight)
        self.temperature = float(temperature)
        self.drop_ratio = float(drop_ratio)
        self.views: tuple[Any, Any] | None = None

    def on_epoch_start(self, epoch: int, *, graph: Any, generator: torch.Generator) -> None:
        self.views = (
            edge_dropout_view(graph, drop_ratio=self.drop_ratio, generator=generator),
            edge_dropout_view(graph, drop_ratio=self.drop_ratio, generator=generator),
        )

    def __call__(self, *, encoder: Any, graph: Any, batch: Any, user_emb: Tensor, item_emb: Tensor,
                 generator: torch.Generator) -> Tensor:  # fmt: skip
        if self.views is None:  # called outside the fit loop: draw views now
            self.on_epoch_start(0, graph=graph, generator=generator)
        assert self.views is not None
        users, items = _batch_nodes(batch)
        u1, i1 = encoder(self.views[0])
        u2, i2 = encoder(self.views[1])
        loss = info_nce(u1[users], u2[users], temperature=self.temperature) + info_nce(
            i1[items], i2[items], temperature=self.temperature
        )
        return self.weight * loss

    def __repr__(self) -> str:
        return f"SGLLoss(weight={self.weight}, temperature={self.temperature}, drop_ratio={self.drop_ratio})"


def sign_noise(x: Tensor, *, eps: float, generator: torch.Generator) -> Tensor:
    """SimGCL's perturbation ``Δ = eps · normalize(U(0, 1)^d) ⊙ sign(x)`` (``||Δ_i||₂ = eps``).

    Each row is moved by ``eps`` in a random direction inside its own orthant, so it keeps
    most of its information while the views differ.
    """
    noise = torch.rand(x.shape, generator=generator, dtype=torch.float32).to(
        device=x.device, dtype=x.dtype
    )
    return eps * F.normalize(noise, dim=-1) * torch.sign(x)


class SimGCLLoss(LossTerm):
    """Contrast two noise-perturbed views of the embeddings (SimGCL).

    Yu et al., "Are Graph Augmentations Necessary? Simple Graph Contrastive Learning for
    Recommendation", SIGIR 2022: instead of dropping edges, add uniform noise of norm ``eps``
    in the sign direction of each embedding, ``e' = e + Δ'``, ``e'' = e + Δ''`` with
    ``Δ = eps · normalize(U(0, 1)^d) ⊙ sign(e)`` (:func:`sign_noise`), and

        ``L_cl = weight · (InfoNCE(e'_U, e''_U) + InfoNCE(e'_I, e''_I))``

    over the batch's distinct users and positive items (temperature ``τ``).

    **Deviation from the paper, and why.** SimGCL adds ``Δ^(k)`` after *each* propagation layer
    of its LightGCN and averages layers 1..K. That needs the encoder's internals; to stay a
    component any encoder can use, the noise is added here to the encoder's *output*
    (``(user_emb, item_emb)`` of the batch's own forward). For a linear encoder the paper's
    per-layer noise reaches the output as ``Σ_k α_k Σ_{j≤k} Â^{k-j} Δ^(j)``, a graph-smoothed
    noise; the output noise keeps the two properties the paper argues matter — a perturbation
    of fixed small norm that keeps each vector in its orthant, giving a tunable uniformity
    pressure — without the extra propagations: no extra forward at all (cheaper than the paper's
    three). Layer 0 stays in the output average.

    Args:
        weight: ``λ``, default 0.1 (SimGCL uses 0.2 on Yelp2018, 0.5 on Amazon-Book).
        temperature: ``τ``, default 0.2. eps: noise norm, default 0.1 (the paper's choice).
    """

    name = "simgcl"

    def __init__(self, *, weight: float = 0.1, temperature: float = 0.2, eps: float = 0.1) -> None:
        if weight < 0 or temperature <= 0 or eps < 0:
            raise ValueError(
                f"expected weight >= 0, temperature > 0, eps >= 0 (got {weight}, {temperature}, {eps})"
            )
        self.weight = float(weight)
        self.temperature = float(temperature)
        self.eps = float(eps)

    def __call__(self, *, encoder: Any, graph: Any, batch: Any, user_emb: Tensor, item_emb: Tensor,
                 generator: torch.Generator) -> Tensor:  # fmt: skip
        users, items = _batch_nodes(batch)
        total = user_emb.new_zeros(())
        for x in (user_emb.index_select(0, users), item_emb.index_select(0, items)):
            a = x + sign_noise(x, eps=self.eps, generator=generator)
            b = x + sign_noise(x, eps=self.eps, generator=generator)
            total = total + info_nce(a, b, temperature=self.temperature)
        return self.weight * total

    def __repr__(self) -> str:
        return f"SimGCLLoss(weight={self.weight}, temperature={self.temperature}, eps={self.eps})"
