"""KGAT (Wang et al., "KGAT: Knowledge Graph Attention Network for Recommendation", KDD 2019)."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from kgrec.graph.ckg import CollaborativeKG, collaborative_kg
from kgrec.models.base import Batch, Encoder, init_embedding
from kgrec.models.registry import register_encoder
from kgrec.nn.kg_attention import (
    Aggregator,
    KGAttentionConv,
    SparsePattern,
    check_transr_options,
    kg_attention,
    transr_loss,
)

__all__ = ["KGAT", "corrupt_tails", "sample_triples"]

AttentionMode = Literal["fixed", "live"]

# One sparsity pattern per CKG (sorting the edges is the costly part of building CSR matrices).
_PATTERNS: weakref.WeakKeyDictionary[CollaborativeKG, SparsePattern] = weakref.WeakKeyDictionary()


def _pattern(ckg: CollaborativeKG) -> SparsePattern:
    pattern = _PATTERNS.get(ckg)
    if pattern is None:
        pattern = _PATTERNS[ckg] = SparsePattern(ckg.edge_index, ckg.num_nodes)
    return pattern


def sample_triples(ckg: CollaborativeKG, n: int) -> tuple[Tensor, Tensor, Tensor]:
    """``n`` knowledge triples ``(h, r, t)`` of ``ckg`` drawn uniformly with replacement (global
    torch RNG, so a seeded fit is reproducible): three ``[n]`` int64 tensors, sorted by relation
    (the CKG's triples are, so sorting the draws suffices)."""
    idx = torch.sort(torch.randint(ckg.num_triples, (n,), device=ckg.edge_index.device)).values
    index = ckg.triple_index
    return index[0, idx], ckg.triple_type[idx], index[1, idx]


def corrupt_tails(ckg: CollaborativeKG, tail: Tensor) -> Tensor:
    """A uniformly drawn node of the same kind as each tail (a user for a user, else an entity
    or unaligned item node): the negative of TransR's pairwise loss. True triples are not
    filtered out (a collision has probability ``deg / num_nodes``)."""
    u = ckg.num_users
    n = tail.numel()
    users = torch.randint(max(u, 1), (n,), device=tail.device)
    others = torch.randint(u, max(ckg.num_nodes, u + 1), (n,), device=tail.device)
    return torch.where(tail < u, users, others)


@register_encoder("kgat")
class KGAT(Encoder):
    """Attentive propagation over the collaborative knowledge graph, with an optional TransR term.

    Node embeddings ``E^(0)`` ([N, d]) live on the CKG (:func:`kgrec.graph.ckg.collaborative_kg`:
    users + entities, each item merged into its entity). Each layer ``l = 1..L`` is a
    :class:`~kgrec.nn.kg_attention.KGAttentionConv`:
    ``E^(l) = f(E^(l-1), A E^(l-1))`` with the knowledge-aware attention
    ``A[h, t] = softmax_{t ∈ N_h} (e_t W_r)ᵀ tanh(e_h W_r + e_r)`` (eq. 4-5) and the
    bi-interaction aggregator by default. The output of a node is
    ``e* = e^(0) ‖ ê^(1) ‖ … ‖ ê^(L)`` with ``ê = e / ||e||`` (eq. 11; the layer outputs are
    L2-normalised, the ego part is not), so ``out_channels = d + Σ layer_dims``
    (64 + 64 + 32 + 16 = 176 by default). Users get rows ``user_node``, items ``item_node``.

    The auxiliary loss is TransR on knowledge triples (every CKG relation but the interactions)
    sampled per call, with a corrupted tail (eq. 1-2); the fit loop adds it to BPR.

    **From scratch.** The official code needs MF-pretrained embeddings (without them its losses
    turn NaN); here the ego embeddings start at N(0, 0.1²), every layer output is
    L2-normalised before the concatenation and the attention is a softmax of bounded ``tanh``
    terms, so training from random weights is stable (no NaN in any run of the sweep, lr up to
    2e-2). Xavier initialisation of the 36K-row ml-100k node table (std 0.007) stalls instead.

    **Attention, as the paper trains it.** With ``attention="fixed"`` (default) the scores are
    computed in a no-grad pass from the ego embeddings and the TransR parameters, kept in the
    non-persistent buffer ``attention`` ([E], per CKG edge) and used as constant edge weights
    (a sparse CSR matrix and its transpose), and recomputed once per epoch: on the first
    forward after ``train()`` / ``eval()`` (the fit loop calls ``train()`` at the start of each
    epoch and ``eval()`` to validate) if the weights they depend on changed since the last
    computation. In eval mode every forward re-checks the weights, so inference never uses
    stale scores. This is the official code's ``update_attentive_A`` schedule; the attention
    parameters then learn through TransR only. ``attention="live"`` recomputes the scores in
    every forward with gradient (edge-list propagation, ``O(E · d)`` memory per layer).

    Args:
        num_users, num_items, num_nodes, num_relations, item_node: sizes and each item's node;
            :meth:`from_data` reads them from the graph's CKG.
        embedding_dim: ``d`` of the ego (and TransR entity) embeddings, default 64.
        layer_dims: output width of each layer, default ``(64, 32, 16)`` (the paper's 3 layers).
        kg_dim: ``k``, the relation space of TransR (default 64).
        aggregator: ``"bi-interaction"`` (default), ``"gcn"`` or ``"graphsage"``.
        dropout: message dropout of every layer (default 0.0; the paper's 0.1 gave the same
            valid NDCG@20 on ml-100k-kg and costs about 15 % of a CPU step).
        attention: ``"fixed"`` (default, refreshed per epoch) or ``"live"``.
        kg_weight: weight of the TransR loss added to BPR; default 0.0 (see below), the
            paper's setting is 1.0. With 0 no KG loss is computed and ``W_r``, ``e_r`` keep their
            initial values: the attention is then a fixed random bilinear form per relation
            over the learnt embeddings.
        kg_reg_weight: L2 weight inside the TransR loss (default 1e-5).
        kg_batch_size: triples per ``aux_loss`` call; ``None`` (default) = the BPR batch size.
        negative_slope: LeakyReLU slope of the aggregators (default 0.2).
        init_std: ``None`` for Xavier-normal ego embeddings, else N(0, init_std²); default 0.1
            (Xavier on a table of tens of thousands of rows gives std < 0.01, which trains
            slowly from scratch).
        chunk_size: edges per chunk of the attention pass (default 65,536).

    **Defaults** were selected on the validation part of the shared ml-100k-kg split (Freebase
    KG, best valid NDCG@20 with early stopping, never on test; ``benchmarks/kg_sweep.py``):
    the TransR term lowers valid NDCG@20 monotonically (kg_weight 0 / 0.01 / 0.1 / 1:
    0.266 / 0.260 / 0.257 / 0.241, mean of the best 10 epochs, lr 1e-3), so ``kg_weight``
    defaults to 0; 3 layers beat 1 (0.266 vs 0.262), bi-interaction beat gcn (0.261);
    dropout 0 and 0.1 tie; batch 4096 with lr 2e-3 ties batch 2048 with lr 1e-3 (0.266) at
    half the steps per epoch; lr above 2e-3 overfits within a few epochs (5e-3: 0.227).

    Shapes: ``forward(graph) -> ([num_users, out_channels], [num_items, out_channels])``.
    """

    #: defaults of the fit loop for this encoder (read by :class:`kgrec.Recommender`)
    fit_defaults: dict[str, Any] = {
        "lr": 2e-3,
        "reg_weight": 1e-4,
        "epochs": 300,
        "batch_size": 4096,
    }
    #: under the full softmax loss: a stronger L2, chosen on valid NDCG@20 among 1e-2, 3e-2, 0.1
    #: and 0.2 (seed 2026: valid 0.297 at 0.1 against 0.278 at 1e-2 and 0.288 at 0.2)
    loss_fit_defaults: dict[str, dict[str, Any]] = {"softmax": {"reg_weight": 0.1}}

    def __init__(
        self,
        num_users: int,
        num_items: int,
        num_nodes: int,
        num_relations: int,
        item_node: Tensor,
        *,
        embedding_dim: int = 64,
        layer_dims: Sequence[int] = (64, 32, 16),
        kg_dim: int = 64,
        aggregator: Aggregator = "bi-interaction",
        dropout: float = 0.0,
        attention: AttentionMode = "fixed",
        kg_weight: float = 0.0,
        kg_reg_weight: float = 1e-5,
        kg_batch_size: int | None = None,
        negative_slope: float = 0.2,
        init_std: float | None = 0.1,
        chunk_size: int = 1 << 16,
    ) -> None:
        super().__init__()
        item_node = torch.as_tensor(item_node, dtype=torch.long)
        if min(num_users, num_items, num_nodes, num_relations, embedding_dim, kg_dim) <= 0:
            raise ValueError(
                "expected positive num_users, num_items, num_nodes, num_relations, embedding_dim "
                f"and kg_dim (got {num_users}, {num_items}, {num_nodes}, {num_relations}, "
                f"{embedding_dim}, {kg_dim})"
            )
        if item_node.shape != (num_items,) or (
            num_items and (int(item_node.min()) < num_users or int(item_node.max()) >= num_nodes)
        ):
            raise ValueError(
                f"expected item_node of shape [{num_items}] with values in [{num_users}, {num_nodes}) "
                f"(got shape {tuple(item_node.shape)})"
            )
        dims = [int(k) for k in layer_dims]
        if any(k <= 0 for k in dims):
            raise ValueError(f"expected positive layer_dims (got {list(layer_dims)})")
        if attention not in ("fixed", "live"):
            raise ValueError(f"expected attention 'fixed' or 'live' (got {attention!r})")
        check_transr_options(kg_weight, kg_reg_weight, kg_batch_size)
        self.num_users = int(num_users)
        self.num_items = int(num_items)
        self.num_nodes = int(num_nodes)
        self.num_relations = int(num_relations)
        self.embedding_dim = int(embedding_dim)
        self.layer_dims = dims
        self.kg_dim = int(kg_dim)
        self.attention_mode: AttentionMode = attention
        self.kg_weight = float(kg_weight)
        self.kg_reg_weight = float(kg_reg_weight)
        self.kg_batch_size = kg_batch_size
        self.init_std = init_std
        self.chunk_size = int(chunk_size)
        self.out_channels = self.embedding_dim + sum(dims)

        self.node_embedding = torch.nn.Embedding(self.num_nodes, self.embedding_dim)
        self.relation_embedding = torch.nn.Embedding(self.num_relations, self.kg_dim)
        self.relation_proj = torch.nn.Parameter(
            torch.empty(self.num_relations, self.embedding_dim, self.kg_dim)
        )
        widths = [self.embedding_dim, *dims]
        self.convs = torch.nn.ModuleList(
            KGAttentionConv(
                widths[i],
                widths[i + 1],
                aggregator=aggregator,
                dropout=dropout,
                negative_slope=negative_slope,
            )  # fmt: skip
            for i in range(len(dims))
        )
        self.register_buffer("item_node", item_node.clone(), persistent=False)
        self.register_buffer("attention", torch.zeros(0), persistent=False)
        self._cache: tuple[Any, ...] | None = None  # (ckg weakref, snapshot, A, Aᵀ)
        self._attention_stale = True
        self.reset_parameters()

    @classmethod
    def from_data(cls, graph: Any, **hyper: Any) -> KGAT:
        ckg = collaborative_kg(graph)
        return cls(
            ckg.num_users, ckg.num_items, ckg.num_nodes, ckg.num_relations, ckg.item_node, **hyper
        )

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """Re-draw every weight (pass a seeded ``generator`` for reproducible embeddings)."""
        init_embedding(self.node_embedding.weight, std=self.init_std, generator=generator)
        init_embedding(self.relation_embedding.weight, generator=generator)
        with torch.no_grad():
            for r in range(self.num_relations):
                torch.nn.init.xavier_normal_(self.relation_proj[r], generator=generator)
        for conv in self.convs:
            conv.reset_parameters()
        self._cache = None

    # ------------------------------------------------------------------ attention
    def train(self, mode: bool = True) -> KGAT:
        # The fit loop calls train() at each epoch start and eval() before validating: the
        # attention is re-checked (and recomputed if the weights changed) at those points only.
        self._attention_stale = True
        return super().train(mode)

    def _attention_inputs(self) -> tuple[Tensor, Tensor, Tensor]:
        return self.node_embedding.weight, self.relation_embedding.weight, self.relation_proj

    def compute_attention(self, ckg: CollaborativeKG) -> Tensor:
        """Normalised attention ``π̃`` of every CKG edge ([E]) from the current weights, no grad."""
        x, rel, proj = self._attention_inputs()
        with torch.no_grad():
            return kg_attention(
                x.detach(), ckg.edge_index, ckg.edge_type, rel.detach(), proj.detach(),
                num_nodes=ckg.num_nodes, relation_ptr=ckg.relation_ptr, chunk_size=self.chunk_size,
            )  # fmt: skip

    def edge_attention(self, graph: Any) -> tuple[Tensor, Tensor, Tensor]:
        """Every CKG edge of ``graph`` with its attention from the current weights, no grad:
        ``(edge_index [2, E] (head, tail) node ids, edge_type [E] relation ids, π̃ [E])``, node and
        relation ids as in :mod:`kgrec.graph.ckg`. Leaves the cached fixed attention alone
        (used by :mod:`kgrec.explain` to score paths)."""
        ckg = self._ckg(graph)
        return ckg.edge_index, ckg.edge_type, self.compute_attention(ckg)

    def refresh_attention(self, graph: Any) -> Tensor:
        """Recompute the fixed attention for ``graph`` now; returns it ([E], CKG edge order)."""
        ckg = self._ckg(graph)
        self._refresh(ckg)
        return self.attention

    def _refresh(self, ckg: CollaborativeKG) -> tuple[Tensor, Tensor]:
        weights = self.compute_attention(ckg)
        a, a_t = _pattern(ckg).matrices(weights)
        snapshot = tuple(t.detach().clone() for t in self._attention_inputs())
        self.attention = weights
        self._cache = (weakref.ref(ckg), snapshot, a, a_t)
        return a, a_t

    def _fixed_attention(self, ckg: CollaborativeKG) -> tuple[Tensor, Tensor]:
        cache = self._cache
        check = self._attention_stale or not self.training
        self._attention_stale = False
        if (
            cache is not None
            and cache[0]() is ckg
            and cache[2].device == self.node_embedding.weight.device
        ):
            if not check or all(
                torch.equal(old, new.detach())
                for old, new in zip(cache[1], self._attention_inputs(), strict=True)
            ):
                return cache[2], cache[3]
        return self._refresh(ckg)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = None  # weak references do not pickle; the cache is rebuilt on demand
        return state

    # ------------------------------------------------------------------ the contract
    def _ckg(self, graph: Any) -> CollaborativeKG:
        self.check_graph(graph)
        ckg = collaborative_kg(graph)
        if (ckg.num_nodes, ckg.num_relations) != (
            self.num_nodes,
            self.num_relations,
        ) or not torch.equal(ckg.item_node.to(self.item_node.device), self.item_node):
            raise ValueError(
                f"KGAT expected a collaborative KG of {self.num_nodes} nodes and {self.num_relations} "
                f"relations with the same item alignment (got {ckg.num_nodes} nodes, "
                f"{ckg.num_relations} relations); build the encoder for this graph with "
                "KGAT.from_data(graph)"
            )
        return ckg.to(self.node_embedding.weight.device)

    def forward(self, graph: Any) -> tuple[Tensor, Tensor]:
        ckg = self._ckg(graph)
        x = self.node_embedding.weight
        if self.attention_mode == "live":
            rel, proj = self.relation_embedding.weight, self.relation_proj
            weights = kg_attention(
                x, ckg.edge_index, ckg.edge_type, rel, proj,
                num_nodes=ckg.num_nodes, relation_ptr=ckg.relation_ptr, chunk_size=self.chunk_size,
            )  # fmt: skip
            adj, edge_weight, transpose = ckg.edge_index, weights, None
        else:
            adj, transpose = self._fixed_attention(ckg)
            edge_weight = None
        rows = torch.cat([ckg.user_node, ckg.item_node])
        outs = [x.index_select(0, rows)]
        for conv in self.convs:
            x = conv(x, adj, edge_weight, transpose=transpose)
            outs.append(F.normalize(x.index_select(0, rows), dim=-1))
        out = torch.cat(outs, -1)
        return out[: self.num_users], out[self.num_users :]

    def reg_params(self, batch: Batch) -> list[Tensor]:
        """Ego rows of the batch's users and items (positives and negatives)."""
        items = torch.cat([batch.pos_items.reshape(-1), batch.neg_items.reshape(-1)])
        nodes = torch.cat([batch.users.reshape(-1), self.item_node.index_select(0, items)])
        # One gather from the node table: its backward is one dense [N, d] gradient, not two.
        return [self.node_embedding.weight.index_select(0, nodes)]

    def aux_loss(self, graph: Any, batch: Batch) -> Tensor | None:
        """``kg_weight ·`` TransR loss on ``kg_batch_size`` (default: the batch size) triples."""
        if self.kg_weight == 0:
            return None
        ckg = self._ckg(graph)
        if ckg.num_triples == 0:
            return None
        n = self.kg_batch_size or int(batch.users.numel())
        h, r, t = sample_triples(ckg, n)
        t_neg = corrupt_tails(ckg, t)
        e = self.node_embedding.weight.index_select(0, torch.cat([h, t, t_neg])).view(3, n, -1)
        loss = transr_loss(
            *e.unbind(0), r,
            self.relation_embedding.weight, self.relation_proj, reg_weight=self.kg_reg_weight,
        )  # fmt: skip
        return self.kg_weight * loss

    def extra_repr(self) -> str:
        return (
            f"num_users={self.num_users}, num_items={self.num_items}, num_nodes={self.num_nodes}, "
            f"num_relations={self.num_relations}, embedding_dim={self.embedding_dim}, "
            f"layer_dims={self.layer_dims}, attention={self.attention_mode!r}"
        )
