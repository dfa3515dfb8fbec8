"""CKE (Zhang et al., "Collaborative Knowledge Base Embedding for Recommender Systems", KDD 2016),
structural-knowledge part (no textual or visual component)."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from kgrec.models.base import Batch, Encoder, init_embedding
from kgrec.models.registry import register_encoder
from kgrec.nn.kg_attention import check_transr_options, transr_loss

__all__ = ["CKE"]

INTERACTS = ("user", "interacts", "item")
KG = ("entity", "relates", "entity")
ColdItems = Literal["entity", "id"]


@register_encoder("cke")
class CKE(Encoder):
    """Matrix factorisation whose item vectors include a TransR embedding of the item's entity.

    ``e_u = U[u]``, ``e_i = η_i + v_{ent(i)}`` (eq. 7 of the paper without the textual and visual
    terms): ``η_i`` the item's own (offset) vector and ``v_e`` the structural embedding of its
    aligned KG entity (zero for an item without one). The entity and relation embeddings are
    learnt by TransR on the KG (``graph["entity", "relates", "entity"]``, forward and reverse
    relations): :meth:`aux_loss` samples triples per call, corrupts their tails uniformly and
    returns ``kg_weight · `` the pairwise TransR loss (:func:`kgrec.nn.kg_attention.transr_loss`).

    **Cold items.** With ``cold_items="entity"`` (default) an item without a training
    interaction in the graph gets ``e_i = v_{ent(i)}`` only: its id vector never received a
    positive gradient, so it is dropped rather than scored as noise (DESIGN.md, cold start).
    ``cold_items="id"`` keeps ``η_i + v_{ent(i)}`` for every item.

    Args:
        num_users, num_items, num_entities, num_relations, item_entity: sizes and each item's
            entity (``-1`` when none); :meth:`from_data` reads them from the graph.
        embedding_dim: ``d`` of users, items and entities (default 64).
        kg_dim: ``k``, TransR's relation space (default 64).
        kg_weight: weight of the TransR loss (default 1.0); 0 disables it.
        kg_reg_weight: L2 weight inside the TransR loss (default 1e-5).
        kg_batch_size: triples per ``aux_loss`` call; ``None`` (default) = the BPR batch size.
        cold_items: ``"entity"`` (default) or ``"id"``, see above.
        init_std: ``None`` (default) for Xavier-normal tables, else N(0, init_std²).

    **Defaults** (``fit_defaults``: Adam lr 1e-3, reg 1e-4) were selected on the validation
    part of the shared ml-100k-kg split (valid NDCG@20 0.263 against 0.259 at lr 2e-3 and 0.248
    at 5e-3; the TransR term helps a little: 0.263 against 0.259 with ``kg_weight=0``).

    Shapes: ``forward(graph) -> ([num_users, d], [num_items, d])``.
    """

    #: defaults of the fit loop for this encoder (read by :class:`kgrec.Recommender`)
    fit_defaults: dict[str, Any] = {"lr": 1e-3, "reg_weight": 1e-4, "epochs": 300}
    #: under the full softmax loss: reg_weight chosen on valid NDCG@20 of the shared split among
    #: 1e-4 .. 1 (one seed; valid 0.300 at 0.15 against 0.297 at 0.12 and 0.292 at 0.2)
    loss_fit_defaults: dict[str, dict[str, Any]] = {"softmax": {"reg_weight": 0.15}}

    def __init__(
        self,
        num_users: int,
        num_items: int,
        num_entities: int,
        num_relations: int,
        item_entity: Tensor,
        *,
        embedding_dim: int = 64,
        kg_dim: int = 64,
        kg_weight: float = 1.0,
        kg_reg_weight: float = 1e-5,
        kg_batch_size: int | None = None,
        cold_items: ColdItems = "entity",
        init_std: float | None = None,
    ) -> None:
        super().__init__()
        item_entity = torch.as_tensor(item_entity, dtype=torch.long)
        if (
            min(num_users, num_items, embedding_dim, kg_dim) <= 0
            or num_entities < 0
            or num_relations < 0
        ):
            raise ValueError(
                "expected positive num_users, num_items, embedding_dim, kg_dim and non-negative "
                f"num_entities, num_relations (got {num_users}, {num_items}, {embedding_dim}, "
                f"{kg_dim}, {num_entities}, {num_relations})"
            )
        if item_entity.shape != (num_items,) or (
            num_items and int(item_entity.max()) >= num_entities
        ):
            raise ValueError(
                f"expected item_entity of shape [{num_items}] with values in [-1, {num_entities}) "
                f"(got shape {tuple(item_entity.shape)})"
            )
        if cold_items not in ("entity", "id"):
            raise ValueError(f"expected cold_items 'entity' or 'id' (got {cold_items!r})")
        check_transr_options(kg_weight, kg_reg_weight, kg_batch_size)
        self.num_users = int(num_users)
        self.num_items = int(num_items)
        self.num_entities = int(num_entities)
        self.num_relations = int(num_relations)
        self.out_channels = int(embedding_dim)
        self.kg_dim = int(kg_dim)
        self.kg_weight = float(kg_weight)
        self.kg_reg_weight = float(kg_reg_weight)
        self.kg_batch_size = kg_batch_size
        self.cold_items: ColdItems = cold_items
        self.init_std = init_std
        d = self.out_channels
        self.user_embedding = torch.nn.Embedding(self.num_users, d)
        self.item_embedding = torch.nn.Embedding(self.num_items, d)
        # One spare row so that relation / entity tables are never empty.
        self.entity_embedding = torch.nn.Embedding(max(self.num_entities, 1), d)
        self.relation_embedding = torch.nn.Embedding(max(self.num_relations, 1), self.kg_dim)
        self.relation_proj = torch.nn.Parameter(
            torch.empty(max(self.num_relations, 1), d, self.kg_dim)
        )
        self.register_buffer("item_entity", item_entity.clone(), persistent=False)
        self.register_buffer("aligned", (item_entity >= 0).unsqueeze(-1).float(), persistent=False)
        self.reset_parameters()

    @classmethod
    def from_data(cls, graph: Any, **hyper: Any) -> CKE:
        num_rel = int(getattr(graph, "num_kg_relations", 0) or 0)
        kg_type = graph[KG].edge_type
        if kg_type.numel():
            num_rel = max(num_rel, int(kg_type.max()) + 1)
        return cls(
            graph["user"].num_nodes,
            graph["item"].num_nodes,
            graph["entity"].num_nodes,
            num_rel,
            graph["item"].entity_index,
            **hyper,
        )

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """Re-draw every table (pass a seeded ``generator`` for reproducible weights)."""
        for table in (self.user_embedding, self.item_embedding, self.entity_embedding):
            init_embedding(table.weight, std=self.init_std, generator=generator)
        init_embedding(self.relation_embedding.weight, generator=generator)
        with torch.no_grad():
            for r in range(self.relation_proj.shape[0]):
                torch.nn.init.xavier_normal_(self.relation_proj[r], generator=generator)

    def _check(self, graph: Any) -> None:
        self.check_graph(graph)
        ent = graph["item"].entity_index
        if graph["entity"].num_nodes != self.num_entities or not torch.equal(
            ent.to(self.item_entity.device), self.item_entity
        ):
            raise ValueError(
                f"CKE expected a graph of {self.num_entities} entities with the same item alignment "
                f"(got {graph['entity'].num_nodes} entities); build the encoder for this graph with "
                "CKE.from_data(graph)"
            )

    def forward(self, graph: Any) -> tuple[Tensor, Tensor]:
        self._check(graph)
        entity = (
            self.entity_embedding.weight.index_select(0, self.item_entity.clamp(min=0))
            * self.aligned
        )
        ids = self.item_embedding.weight
        if self.cold_items == "entity":
            seen = torch.bincount(graph[INTERACTS].edge_index[1], minlength=self.num_items) > 0
            ids = ids * seen.to(ids.device, ids.dtype).unsqueeze(-1)
        return self.user_embedding.weight, ids + entity

    def reg_params(self, batch: Batch) -> list[Tensor]:
        """Rows of the batch's users, item vectors and their aligned entities."""
        items = torch.cat([batch.pos_items.reshape(-1), batch.neg_items.reshape(-1)])
        ent = self.item_entity.index_select(0, items)
        return [
            self.user_embedding.weight.index_select(0, batch.users.reshape(-1)),
            self.item_embedding.weight.index_select(0, items),
            self.entity_embedding.weight.index_select(0, ent[ent >= 0]),
        ]

    def aux_loss(self, graph: Any, batch: Batch) -> Tensor | None:
        """``kg_weight ·`` TransR loss on ``kg_batch_size`` (default: the batch size) KG triples."""
        kg_index, kg_type = graph[KG].edge_index, graph[KG].edge_type
        if self.kg_weight == 0 or kg_type.numel() == 0:
            return None
        device = self.entity_embedding.weight.device
        n = self.kg_batch_size or int(batch.users.numel())
        idx = torch.randint(kg_type.numel(), (n,), device=kg_index.device)
        r, order = torch.sort(kg_type[idx])  # grouped by relation for transr_loss
        idx = idx[order]
        h, t, r = kg_index[0, idx].to(device), kg_index[1, idx].to(device), r.to(device)
        t_neg = torch.randint(self.num_entities, (n,), device=device)
        # One gather from the entity table: its backward is one dense gradient, not three.
        e = self.entity_embedding.weight.index_select(0, torch.cat([h, t, t_neg])).view(3, n, -1)
        loss = transr_loss(
            *e.unbind(0), r,
            self.relation_embedding.weight, self.relation_proj, reg_weight=self.kg_reg_weight,
        )  # fmt: skip
        return self.kg_weight * loss

    def extra_repr(self) -> str:
        return (
            f"num_users={self.num_users}, num_items={self.num_items}, num_entities={self.num_entities}, "
            f"num_relations={self.num_relations}, embedding_dim={self.out_channels}, "
            f"cold_items={self.cold_items!r}"
        )
