"""The shared cold-start path: attribute embeddings from entity links, and item-id dropout.

An item that has no training interaction is still a node with links to its attribute / KG
entities; its embedding must come from them, never from an untrained id vector. Every encoder
that supports cold start builds its ego (layer-0) embeddings through :class:`AttributeEncoder`:

.. math::

    a_i = \\sum_e P_{ie} w_e, \\qquad a_u = \\sum_e Q_{ue} w_e, \\qquad
    x_i^{(0)} = m_i \\, e_i + a_i, \\qquad x_u^{(0)} = m_u \\, e_u + a_u

with ``W = [w_e]`` a ``[K, d]`` table of the ``K`` attribute entities, ``P`` / ``Q`` the
row-normalised item x entity / user x entity link matrices of
:func:`kgrec.graph.links.attribute_links` (``a_i`` is the mean of the item's attribute
embeddings; one sparse CSR product, no loop over edges), ``e_i`` / ``e_u`` the encoder's id embeddings and the mask
``m = 0`` for nodes with no training interaction (cold items, new users) and, in training mode,
for a random ``id_dropout`` fraction of the others (item-id dropout, drawn from the global torch
RNG that :func:`kgrec.train.fit` seeds). Dropping ids in training makes the model rely on
attributes the way it must for cold items; in eval mode no id is dropped. Ids are dropped whole
and not rescaled: a dropped item is meant to look exactly like a cold one.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from kgrec.graph.links import MIN_LINKS, MIN_SUPPORT, AttributeLinks, attribute_links

__all__ = ["AttributeEgo", "AttributeEncoder", "sparse_linear"]


class _SparseLinear(torch.autograd.Function):
    """``Y = P X`` for a constant sparse CSR ``P``; backward ``∂X = Pᵀ ∂Y`` with a precomputed
    CSR ``Pᵀ`` (torch would convert ``P`` to its transpose on every backward pass)."""

    @staticmethod
    def forward(ctx, p: Tensor, p_t: Tensor, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.p_t = p_t  # a constant: kept by reference
        return torch.sparse.mm(p, x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[None, None, Tensor | None]:  # type: ignore[override]
        if not ctx.needs_input_grad[2]:
            return None, None, None
        return None, None, torch.sparse.mm(ctx.p_t, grad.contiguous())


def sparse_linear(p: Tensor, x: Tensor, *, p_t: Tensor | None = None) -> Tensor:
    """``P X`` for a constant ``[N, M]`` sparse CSR ``P`` and a dense ``[M, d]`` ``X``.

    Pass ``p_t`` (``Pᵀ`` as CSR, e.g. memoised) to make the backward a single CSR product;
    without it torch's own backward is used. An empty ``P`` gives zeros (still differentiable).
    """
    if p.shape[1] != x.shape[0]:
        raise ValueError(f"expected {p.shape[1]} rows in x to match P's columns (got {x.shape[0]})")
    if p_t is None:
        return torch.sparse.mm(p, x)
    return _SparseLinear.apply(p, p_t, x)


class AttributeEgo(NamedTuple):
    """The ego embeddings and masks of one :meth:`AttributeEncoder.forward`.

    Attributes:
        users: ``[U, d]`` ``m_u e_u + a_u``.
        items: ``[I, d]`` ``m_i e_i + a_i``.
        user_keep, item_keep: ``[U]`` / ``[I]`` bool, the masks ``m`` (False: the node takes the
            cold-start path: no training interaction, or its id was dropped in this step).
    """

    users: Tensor
    items: Tensor
    user_keep: Tensor
    item_keep: Tensor


class AttributeEncoder(torch.nn.Module):
    """Attribute table + link matrices: the attribute half of a cold-start encoder's ego embeddings.

    See the module docstring for the maths. The link matrices come from the graph passed to
    :meth:`forward` (memoised per graph by :func:`kgrec.graph.links.attribute_links`), never from
    state kept here. The table has one row per *kept* attribute entity (``K`` of them, read from
    the graph by the encoders' ``from_data``), not per KG entity: on ml-100k that is about 8,000
    of 35,683 entities, which keeps the per-step gradient and Adam update small.

    Args:
        num_attributes: ``K``, rows of the attribute table (``attribute_links(graph).
            num_attributes``); None for no table of its own: the caller then passes the ``[K, d]``
            rows to use to :meth:`forward` (KG-LightGCN gathers them from its node table).
        embedding_dim: ``d``.
        id_dropout: probability of masking a warm item's id in a training forward, default 0.2.
        user_id_dropout: the same for users, default 0.0 (new users are rare in the benchmarks).
        min_support, min_links: which entities are attributes
            (:func:`kgrec.graph.links.attribute_links`), defaults 1 and 2.
        user_links: average users' attribute links into ``a_u`` (default True; users without
            links get ``a_u = 0``).
        init_std: the table starts at N(0, init_std²); default 0.0 (all zeros: an attribute that
            no training signal reaches then adds nothing, rather than noise, to a cold item; the
            gradient of a mean does not depend on the table, so zeros train fine).
        relation_weights: learn one weight ``ω_r = exp(β_r)`` per relation (``β = 0`` at the
            start) and take weighted means ``a_i = Σ_k P_ik ω_r(k) w_k / Σ_k P_ik ω_r(k)``, with
            ``r(k)`` the relation of attribute ``k`` (default False: the plain mean).
        num_relations: size of the relation vocabulary (``attribute_links(graph).num_relations``;
            needed with ``relation_weights``).

    Shapes: ``forward(graph, user_id [U, d], item_id [I, d]) -> AttributeEgo``.
    """

    def __init__(
        self,
        num_attributes: int | None,
        embedding_dim: int,
        *,
        id_dropout: float = 0.2,
        user_id_dropout: float = 0.0,
        min_support: int = MIN_SUPPORT,
        min_links: int = MIN_LINKS,
        user_links: bool = True,
        init_std: float = 0.0,
        relation_weights: bool = False,
        num_relations: int | None = None,
    ) -> None:
        super().__init__()
        if (num_attributes is not None and num_attributes < 0) or embedding_dim <= 0:
            raise ValueError(
                "expected num_attributes >= 0 (or None) and embedding_dim > 0 "
                f"(got {num_attributes}, {embedding_dim})"
            )
        for name, p in (("id_dropout", id_dropout), ("user_id_dropout", user_id_dropout)):
            if not 0.0 <= float(p) < 1.0:
                raise ValueError(f"expected {name} in [0, 1) (got {p})")
        if int(min_support) < 0 or int(min_links) < 0:
            raise ValueError(
                f"expected min_support >= 0 and min_links >= 0 (got {min_support}, {min_links})"
            )
        if float(init_std) < 0:
            raise ValueError(f"expected init_std >= 0 (got {init_std})")
        self.num_attributes = None if num_attributes is None else int(num_attributes)
        self.embedding_dim = int(embedding_dim)
        self.id_dropout = float(id_dropout)
        self.user_id_dropout = float(user_id_dropout)
        self.min_support = int(min_support)
        self.min_links = int(min_links)
        self.user_links = bool(user_links)
        self.init_std = float(init_std)
        self.relation_logit: torch.nn.Parameter | None = None
        if relation_weights:
            if num_relations is None or num_relations < 1:
                raise ValueError(
                    "relation_weights=True needs num_relations >= 1 (got "
                    f"{num_relations}); from_data reads it from the graph"
                )
            self.relation_logit = torch.nn.Parameter(torch.zeros(int(num_relations)))
        self.attribute_embedding: torch.nn.Embedding | None = None
        if self.num_attributes is not None:
            self.attribute_embedding = torch.nn.Embedding(self.num_attributes, self.embedding_dim)
        self.reset_parameters()

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        if self.attribute_embedding is None:
            return
        with torch.no_grad():
            if self.init_std == 0.0:
                self.attribute_embedding.weight.zero_()
            else:
                torch.nn.init.normal_(
                    self.attribute_embedding.weight, std=self.init_std, generator=generator
                )

    # ------------------------------------------------------------------ graph views
    def links(self, graph: Any) -> AttributeLinks:
        """The memoised link matrices of ``graph`` on this module's device, checked against the
        table size."""
        links = attribute_links(
            graph,
            min_support=self.min_support,
            min_links=self.min_links,
            user_links=self.user_links,
        )
        if self.num_attributes is not None and links.num_attributes != self.num_attributes:
            raise ValueError(
                f"expected a graph with {self.num_attributes} attribute entities (got "
                f"{links.num_attributes}); build the encoder for this graph with from_data(graph)"
            )
        for p in self.parameters():  # on this module's device; without parameters, the graph's
            return links.to(p.device)
        return links

    def _table(self, links: AttributeLinks, table: Tensor | None) -> Tensor:
        if table is not None:
            if table.shape != (links.num_attributes, self.embedding_dim):
                raise ValueError(
                    f"expected an attribute table of shape ({links.num_attributes}, "
                    f"{self.embedding_dim}), row k for entity links.entities[k] (got {tuple(table.shape)})"
                )
            return table
        if self.attribute_embedding is None:
            raise ValueError(
                "this AttributeEncoder has no table of its own (num_attributes=None); pass table="
            )
        return self.attribute_embedding.weight

    def _mean(self, p: Tensor, p_t: Tensor, w: Tensor, links: AttributeLinks) -> Tensor:
        """``P W`` or, with relation weights, the relation-weighted mean (two CSR products)."""
        if self.relation_logit is None:
            return sparse_linear(p, w, p_t=p_t)
        if int(links.num_relations) > self.relation_logit.numel():
            raise ValueError(
                f"expected at most {self.relation_logit.numel()} relations (got "
                f"{links.num_relations}); build the encoder with from_data(graph)"
            )
        col = self.relation_logit.exp().index_select(0, links.relation)  # [K]
        num = sparse_linear(p, w * col[:, None], p_t=p_t)
        den = sparse_linear(p, col[:, None], p_t=p_t)
        return num / den.clamp_min(1e-12)  # empty rows: 0 / eps = 0

    # ------------------------------------------------------------------ embeddings
    def item_attributes(self, graph: Any, table: Tensor | None = None) -> Tensor:
        """``[I, d]``: ``a_i``, the mean embedding of each item's attributes.

        ``table``: a ``[K, d]`` tensor (row ``k`` for entity ``links(graph).entities[k]``) to use
        instead of the module's own table, e.g. rows gathered from an encoder's entity table.
        """
        links = self.links(graph)
        return self._mean(links.item_attr, links.item_attr_t, self._table(links, table), links)

    def user_attributes(self, graph: Any, table: Tensor | None = None) -> Tensor:
        """``[U, d]``: ``a_u`` (zeros when ``user_links`` is False or no user has a link)."""
        links = self.links(graph)
        w = self._table(links, table)
        if links.user_attr.values().numel() == 0:
            return w.new_zeros(links.user_attr.shape[0], self.embedding_dim)
        return self._mean(links.user_attr, links.user_attr_t, w, links)

    def keep_masks(self, graph: Any) -> tuple[Tensor, Tensor]:
        """``([U], [I])`` bool: warm and, in training mode, not dropped in this call."""
        links = self.links(graph)
        user_keep, item_keep = links.user_warm, links.item_warm
        if self.training and self.id_dropout > 0:
            drop = torch.rand(item_keep.shape, device=item_keep.device) < self.id_dropout
            item_keep = item_keep & ~drop
        if self.training and self.user_id_dropout > 0:
            drop = torch.rand(user_keep.shape, device=user_keep.device) < self.user_id_dropout
            user_keep = user_keep & ~drop
        return user_keep, item_keep

    def forward(
        self, graph: Any, user_id: Tensor, item_id: Tensor, table: Tensor | None = None
    ) -> AttributeEgo:
        """Ego embeddings ``m e + a`` of every user and item (see the module docstring)."""
        if user_id.shape[1] != self.embedding_dim or item_id.shape[1] != self.embedding_dim:
            raise ValueError(
                f"expected id embeddings of width {self.embedding_dim} "
                f"(got {user_id.shape[1]} and {item_id.shape[1]})"
            )
        user_keep, item_keep = self.keep_masks(graph)
        if user_keep.numel() != user_id.shape[0] or item_keep.numel() != item_id.shape[0]:
            raise ValueError(
                f"expected {user_keep.numel()} user and {item_keep.numel()} item id rows for this "
                f"graph (got {user_id.shape[0]} and {item_id.shape[0]})"
            )
        items = torch.where(item_keep[:, None], item_id, 0.0) + self.item_attributes(graph, table)
        users = torch.where(user_keep[:, None], user_id, 0.0) + self.user_attributes(graph, table)
        return AttributeEgo(users, items, user_keep, item_keep)

    def penalty(
        self, graph: Any, users: Tensor, items: Tensor, table: Tensor | None = None
    ) -> Tensor:
        """``Σ_n Σ_k P_{nk} ||w_k||²`` over the given users and items (unnormalised).

        The L2 term of the attribute half: each node's mean squared norm of its attribute
        embeddings, summed (the caller divides by ``2B`` and weights it).
        """
        links = self.links(graph)
        sq = self._table(links, table).pow(2).sum(1, keepdim=True)  # [K, 1]
        per_item = sparse_linear(links.item_attr, sq, p_t=links.item_attr_t).squeeze(1)
        total = per_item.index_select(0, items).sum()
        if links.user_attr.values().numel():
            per_user = sparse_linear(links.user_attr, sq, p_t=links.user_attr_t).squeeze(1)
            total = total + per_user.index_select(0, users).sum()
        return total

    def extra_repr(self) -> str:
        return (
            f"num_attributes={self.num_attributes}, embedding_dim={self.embedding_dim}, "
            f"id_dropout={self.id_dropout}, user_id_dropout={self.user_id_dropout}, "
            f"min_support={self.min_support}, min_links={self.min_links}, user_links={self.user_links}, "
            f"relation_weights={self.relation_logit is not None}"
        )
