"""Plumbing shared by encoders with the attribute cold-start path (MF, LightGCN, KG-LightGCN).

An encoder mixes in :class:`ColdStartMixin`, calls :meth:`ColdStartMixin._init_attributes` in its
constructor and :meth:`ColdStartMixin.ego` in its forward; ``from_data`` passes the number of
attribute entities read from the graph, ``aux_loss`` adds the L2 term of the attribute
embeddings, and ``_cold_items_output`` treats cold items' final rows (zero in training, scaled
by ``cold_scale`` at inference). The maths lives in :mod:`kgrec.nn.attributes`.

Registered names: ``mf-attr`` and ``lightgcn-attr`` are ``mf`` / ``lightgcn`` with
``attributes=True`` by default (``Recommender("lightgcn", attributes=True)`` is the same model);
``kglightgcn`` always has the cold-start path.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from kgrec.graph.links import MIN_LINKS, MIN_SUPPORT, attribute_links
from kgrec.models.base import Batch, init_embedding
from kgrec.nn.attributes import AttributeEgo, AttributeEncoder

__all__ = ["ColdStartMixin"]


class ColdStartMixin:
    """Adds an optional :class:`~kgrec.nn.attributes.AttributeEncoder` to an id-embedding encoder.

    The host defines ``user_embedding`` / ``item_embedding`` (``torch.nn.Embedding``) and
    ``num_users`` / ``num_items``; ``self.attributes`` is the attribute encoder or None.
    """

    #: the default of the host's ``attributes`` argument (True for the ``*-attr`` classes)
    attributes_default: bool = False
    attributes: AttributeEncoder | None
    attr_reg: float
    #: eval-time multiplier of cold items' embeddings (see ``_cold_items_output``)
    cold_scale: float = 1.0
    num_users: int
    num_items: int
    out_channels: int
    init_std: float | None
    user_embedding: torch.nn.Embedding
    item_embedding: torch.nn.Embedding

    def _init_id_tables(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int,
        *,
        init_std: float | None,
        **attribute_options: Any,
    ) -> None:
        """The user and item id tables plus the optional attribute path (see
        :meth:`_init_attributes` for ``attribute_options``): how every host's constructor starts."""
        if num_users <= 0 or num_items <= 0 or embedding_dim <= 0:
            raise ValueError(
                "expected positive num_users, num_items and embedding_dim "
                f"(got {num_users}, {num_items}, {embedding_dim})"
            )
        self.num_users = int(num_users)
        self.num_items = int(num_items)
        self.out_channels = int(embedding_dim)
        self.init_std = init_std
        self.user_embedding = torch.nn.Embedding(self.num_users, self.out_channels)
        self.item_embedding = torch.nn.Embedding(self.num_items, self.out_channels)
        self._init_attributes(embedding_dim=self.out_channels, **attribute_options)

    def _reset_id_tables(self, generator: torch.Generator | None, *, attributes: bool = True) -> None:
        """Re-draw the id tables (and the attribute encoder's own parameters when ``attributes``)."""
        init_embedding(self.user_embedding.weight, std=self.init_std, generator=generator)
        init_embedding(self.item_embedding.weight, std=self.init_std, generator=generator)
        if attributes and self.attributes is not None:
            self.attributes.reset_parameters(generator=generator)

    def _init_attributes(
        self,
        *,
        attributes: bool,
        num_attributes: int | None,
        embedding_dim: int,
        id_dropout: float,
        user_id_dropout: float,
        min_support: int,
        min_links: int,
        user_links: bool,
        attr_reg: float,
        cold_scale: float = 1.0,
        relation_weights: bool = False,
        num_relations: int | None = None,
        own_table: bool = True,
    ) -> None:
        if float(attr_reg) < 0:
            raise ValueError(f"expected attr_reg >= 0 (got {attr_reg})")
        if float(cold_scale) <= 0:
            raise ValueError(f"expected cold_scale > 0 (got {cold_scale})")
        self.attr_reg = float(attr_reg)
        self.cold_scale = float(cold_scale)
        if not attributes:
            self.attributes = None
            return
        if own_table and num_attributes is None:
            raise ValueError(
                "attributes=True needs num_attributes (got None); build the encoder with "
                f"{type(self).__name__}.from_data(graph, ...), which reads it from the graph"
            )
        self.attributes = AttributeEncoder(
            num_attributes if own_table else None,
            embedding_dim,
            id_dropout=id_dropout,
            user_id_dropout=user_id_dropout,
            min_support=min_support,
            min_links=min_links,
            user_links=user_links,
            relation_weights=relation_weights,
            num_relations=num_relations,
        )

    @classmethod
    def _with_attribute_count(cls, graph: Any, hyper: dict[str, Any]) -> dict[str, Any]:
        """``hyper`` plus ``num_attributes`` read from the graph when attributes are on."""
        if not hyper.get("attributes", cls.attributes_default):
            return hyper
        links = attribute_links(
            graph,
            min_support=hyper.get("min_support", MIN_SUPPORT),
            min_links=hyper.get("min_links", MIN_LINKS),
            user_links=hyper.get("user_links", True),
        )
        found = {"num_attributes": links.num_attributes, "num_relations": links.num_relations}
        return {**found, **hyper}

    def ego(self, graph: Any) -> AttributeEgo:
        """Layer-0 embeddings ``m e + a`` (just the id tables when attributes are off)."""
        users, items = self.user_embedding.weight, self.item_embedding.weight
        if self.attributes is None:
            ones_u = torch.ones(users.shape[0], dtype=torch.bool, device=users.device)
            ones_i = torch.ones(items.shape[0], dtype=torch.bool, device=items.device)
            return AttributeEgo(users, items, ones_u, ones_i)
        return self.attributes(graph, users, items)

    def _cold_items_output(self, graph: Any, items: Tensor) -> Tensor:
        """The final item embeddings with the rows of cold items adjusted.

        Training mode: cold items (no training interaction) output zeros. Such an item can only
        ever be drawn as a *negative*, and an item that nobody could interact with is unknown,
        not disliked: as a constant 0 it adds no gradient to the shared attribute table and only
        asks the positive to score above 0. (Tried: left as they are, a fifth of the negatives
        teach the model that cold items are bad, and cold-only NDCG@20 on the ml-100k-kg-cold
        valid part fell from 0.22 to 0.15.)

        Eval mode: cold items' rows are multiplied by ``cold_scale`` (default 1.0: as dropped
        items were scored in training). Scaling every cold item by the same ``γ > 0`` leaves their
        order among themselves unchanged and moves them up (``γ > 1``) among warm items for users
        whose scores of them are positive: a new-item boost, to be chosen on a validation part
        that holds new items (a user has had the chance to interact with a warm item she has not
        interacted with, but not with a new one).
        """
        if self.attributes is None:
            return items
        warm = self.attributes.links(graph).item_warm
        if self.training:
            return torch.where(warm[:, None], items, 0.0)
        if self.cold_scale != 1.0:
            return torch.where(warm[:, None], items, items * self.cold_scale)
        return items

    def attribute_penalty(
        self, graph: Any, batch: Batch, table: Tensor | None = None
    ) -> Tensor | None:
        """``attr_reg · Σ_b Σ_e P_{be} ||w_e||² / (2B)`` over the batch's users and items."""
        if self.attributes is None or self.attr_reg == 0:
            return None
        items = torch.cat([batch.pos_items.reshape(-1), batch.neg_items.reshape(-1)])
        total = self.attributes.penalty(graph, batch.users.reshape(-1), items, table)
        return self.attr_reg * total / (2 * batch.users.numel())
