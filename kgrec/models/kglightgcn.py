"""KG-LightGCN: parameter-free LightGCN propagation over users, items and KG entities together.

The simple strong baseline of the knowledge-graph family: no attention, no relation
projections, no auxiliary loss; only LightGCN's linear propagation over the union of the
user-item graph and the knowledge graph (He et al., "LightGCN", SIGIR 2020, applied to the
collaborative KG of Wang et al., "KGAT", KDD 2019).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from kgrec.graph.links import MIN_LINKS, MIN_SUPPORT, UnionGraph, attribute_links, union_adjacency
from kgrec.models.base import Batch, Encoder, batch_ego_rows
from kgrec.models.coldstart import ColdStartMixin
from kgrec.models.lightgcn import check_layer_weights
from kgrec.models.registry import register_encoder
from kgrec.nn.propagation import propagate

__all__ = ["KGLightGCN"]


@register_encoder("kglightgcn")
class KGLightGCN(ColdStartMixin, Encoder):
    """LightGCN over the union graph of users, items and entities, with the cold-start path.

    Nodes (:func:`kgrec.graph.links.union_adjacency`): users, entities (an aligned item *is* its
    entity's node) and items without an entity. ``A`` holds every training pair, every KG edge
    and (``user_links``) every user-attribute link, both directions;
    ``Â = D^-1/2 A D^-1/2`` is one symmetric sparse CSR matrix built once per graph. Ego
    embeddings (:mod:`kgrec.nn.attributes`)::

        x_u^(0) = m_u e_u + a_u,   x_i^(0) = m_i e_i + a_i,   x_e^(0) = w_e  (other entities)

    with ``a`` the mean entity embedding of the node's attributes (``attribute_ego=True``) and
    ``m = 0`` for nodes without a training interaction and, while training, for an
    ``id_dropout`` fraction of items. ``E^(k+1) = Â E^(k)``, ``E = Σ_k α_k E^(k)`` (mean of the
    ``K + 1`` layers by default); users and items read their rows.

    A cold item has no user edge: its embedding comes from its KG neighbourhood through the
    propagation, never from an id vector. An item whose id is dropped in a training step also
    loses its user edges for that step (``Â`` renormalised without them), so it is embedded
    exactly as a cold item would be and the loss trains the cold path at the scale it is used.

    Args:
        num_users, num_items, num_entity_nodes: table sizes (``from_data`` reads them;
            ``num_entity_nodes`` counts the entities that are nodes of the union graph).
        embedding_dim: ``d``, default 64.
        num_layers: ``K``, default 3.
        layer_weights: ``K + 1`` weights; default uniform ``1 / (K + 1)``.
        init_std: user / item id initialisation, None (default) for Xavier-normal.
        user_links: user-attribute links are edges of the union graph (default True).
        min_degree: entities with fewer distinct neighbours (other than items' own) are left
            out of the union graph, default 2 (:func:`kgrec.graph.links.union_adjacency`).
        attribute_ego: add the attribute mean ``a`` to the ego of users and items (default True).
        id_dropout: item-id (and interaction) dropout in training, default 0.2.
        user_id_dropout: user-id dropout in training, default 0.0.
        min_support, min_links: which entities count as attributes in ``a``
            (:func:`kgrec.graph.links.attribute_links`), defaults 1 and 2.
        attr_reg: L2 weight of the attribute embeddings of the batch's nodes, default 1e-4.
        cold_scale, relation_weights, num_relations: as in :class:`~kgrec.models.MF`.

    Entity embeddings start at zero (an entity no training signal reaches adds nothing).

    Shapes: ``forward(graph) -> ([num_users, d], [num_items, d])``.
    """

    fit_defaults: dict[str, Any] = {"lr": 5e-3}
    #: under the full softmax loss: reg_weight chosen on valid NDCG@20 of the shared split among
    #: 1e-4 .. 1e-1 (one seed; test 0.332, against 0.328 at the loop default 1e-4)
    loss_fit_defaults: dict[str, dict[str, Any]] = {"softmax": {"reg_weight": 1e-2}}

    def __init__(
        self,
        num_users: int,
        num_items: int,
        *,
        num_entity_nodes: int,
        embedding_dim: int = 64,
        num_layers: int = 3,
        layer_weights: Sequence[float] | None = None,
        init_std: float | None = None,
        user_links: bool = True,
        min_degree: int = 2,
        attribute_ego: bool = True,
        id_dropout: float = 0.2,
        user_id_dropout: float = 0.0,
        min_support: int = MIN_SUPPORT,
        min_links: int = MIN_LINKS,
        attr_reg: float = 1e-4,
        cold_scale: float = 1.0,
        relation_weights: bool = True,
        num_relations: int | None = None,
    ) -> None:
        super().__init__()
        if num_entity_nodes < 0:
            raise ValueError(f"expected num_entity_nodes >= 0 (got {num_entity_nodes})")
        self.num_entity_nodes = int(num_entity_nodes)
        self.min_degree = int(min_degree)
        self.num_layers = int(num_layers)
        self.layer_weights = check_layer_weights(num_layers, layer_weights)
        self.user_links = bool(user_links)
        self.attribute_ego = bool(attribute_ego)
        # the attribute path reads this model's entity table (no table of its own)
        self._init_id_tables(
            num_users,
            num_items,
            embedding_dim,
            init_std=init_std,
            attributes=True,
            num_attributes=None,
            id_dropout=id_dropout,
            user_id_dropout=user_id_dropout,
            min_support=min_support,
            min_links=min_links,
            user_links=user_links,
            attr_reg=attr_reg if attribute_ego else 0.0,
            cold_scale=cold_scale,
            relation_weights=relation_weights,
            num_relations=num_relations,
            own_table=False,
        )
        self.entity_embedding = torch.nn.Embedding(self.num_entity_nodes, self.out_channels)
        self.reset_parameters()

    @classmethod
    def from_data(cls, graph: Any, **hyper: Any) -> KGLightGCN:
        if "num_entity_nodes" not in hyper:
            union = union_adjacency(
                graph,
                user_links=hyper.get("user_links", True),
                min_degree=hyper.get("min_degree", 2),
            )
            hyper = {**hyper, "num_entity_nodes": union.num_entity_nodes}
        if hyper.get("relation_weights", True) and "num_relations" not in hyper:
            links = attribute_links(
                graph,
                min_support=hyper.get("min_support", MIN_SUPPORT),
                min_links=hyper.get("min_links", MIN_LINKS),
                user_links=hyper.get("user_links", True),
            )
            hyper = {**hyper, "num_relations": links.num_relations}
        return cls(graph["user"].num_nodes, graph["item"].num_nodes, **hyper)

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """Re-draw the id tables; the entity table restarts at zero."""
        self._reset_id_tables(generator, attributes=False)
        with torch.no_grad():
            self.entity_embedding.weight.zero_()

    def union(self, graph: Any) -> UnionGraph:
        """The memoised union graph of ``graph`` on this encoder's device, checked against it."""
        self.check_graph(graph)
        union = union_adjacency(graph, user_links=self.user_links, min_degree=self.min_degree)
        if union.num_entity_nodes != self.num_entity_nodes:
            raise ValueError(
                f"KGLightGCN expected a graph with {self.num_entity_nodes} entity nodes (got "
                f"{union.num_entity_nodes}); build the encoder with KGLightGCN.from_data(graph)"
            )
        return union.to(self.user_embedding.weight.device)

    def _attribute_rows(self, graph: Any, union: UnionGraph) -> Tensor:
        """``[K, d]``: the entity-table rows of the attribute entities (zeros for non-nodes)."""
        assert self.attributes is not None
        entities = self.attributes.links(graph).entities
        node = union.entity_node.index_select(0, entities)
        rows = self.entity_embedding.weight.index_select(0, (node - self.num_users).clamp(min=0))
        return torch.where((node >= 0)[:, None], rows, 0.0)

    def forward(self, graph: Any) -> tuple[Tensor, Tensor]:
        union = self.union(graph)
        attrs = self.attributes
        assert attrs is not None
        user_keep, item_keep = attrs.keep_masks(graph)
        users = torch.where(user_keep[:, None], self.user_embedding.weight, 0.0)
        items = torch.where(item_keep[:, None], self.item_embedding.weight, 0.0)
        if self.attribute_ego:
            table = self._attribute_rows(graph, union)
            users = users + attrs.user_attributes(graph, table)
            items = items + attrs.item_attributes(graph, table)
        # entity nodes: their own embedding, except item nodes, whose ego is the item's
        entity = self.entity_embedding.weight
        extra = union.num_nodes - self.num_users - self.num_entity_nodes  # items without an entity
        x = torch.cat([users, entity, entity.new_zeros(extra, self.out_channels)])
        x = torch.where(union.node_is_item[:, None], 0.0, x).index_add(0, union.item_node, items)

        adj = union.adj
        warm = attrs.links(graph).item_warm
        dropped = ~item_keep & warm
        if self.training and bool(dropped.any()):
            node_dropped = torch.zeros(union.num_nodes, dtype=torch.bool, device=x.device)
            node_dropped[union.item_node[dropped]] = True
            adj = union.without_interactions_of(node_dropped)
        out = x * self.layer_weights[0]
        for k in range(1, self.num_layers + 1):
            x = propagate(adj, x)
            out = torch.add(out, x, alpha=self.layer_weights[k])
        item_out = out.index_select(0, union.item_node)
        return out[: self.num_users], self._cold_items_output(graph, item_out)

    def reg_params(self, batch: Batch) -> list[Tensor]:
        return batch_ego_rows(self.user_embedding.weight, self.item_embedding.weight, batch)

    def aux_loss(self, graph: Any, batch: Batch) -> Tensor | None:
        """The L2 term of the attribute embeddings (None when ``attribute_ego`` is off)."""
        if not self.attribute_ego:
            return None
        return self.attribute_penalty(
            graph, batch, table=self._attribute_rows(graph, self.union(graph))
        )

    def extra_repr(self) -> str:
        return (
            f"num_users={self.num_users}, num_items={self.num_items}, "
            f"num_entity_nodes={self.num_entity_nodes}, embedding_dim={self.out_channels}, "
            f"num_layers={self.num_layers}, user_links={self.user_links}, "
            f"attribute_ego={self.attribute_ego}"
        )
