"""Knowledge-aware attention and KGAT's attentive embedding propagation, edge-list / sparse only.

Wang et al., "KGAT: Knowledge Graph Attention Network for Recommendation", KDD 2019, §3.2.

For a triple ``(h, r, t)`` of the collaborative KG (``edge_index[0] = h``, ``edge_index[1] = t``,
``edge_type = r``), with TransR's relation embedding ``e_r`` ([R, k]) and projection ``W_r``
([R, d, k], rows act on the right: ``e W_r``)::

    π(h, r, t) = (e_t W_r)ᵀ tanh(e_h W_r + e_r)                      (eq. 4)
    π̃(h, r, t) = exp π(h, r, t) / Σ_{(h, r', t') ∈ N_h} exp π(h, r', t')    (eq. 5)
    e_{N_h}    = Σ_{(h, r, t) ∈ N_h} π̃(h, r, t) e_t                   (eq. 3)

The softmax runs over each head's outgoing edges (``torch_geometric.utils.softmax`` grouped by
``edge_index[0]``). :class:`KGAttentionConv` then combines ``e_h`` and ``e_{N_h}`` (eq. 6-8).

Nothing here builds a dense ``N x N`` matrix: attention is computed edge-wise, one relation at a
time in chunks of edges (memory ``O(chunk · k)``), and propagation uses either the edge list
(``O(E · d)``, differentiable in the weights) or a sparse CSR matrix ``A[h, t] = π̃`` with its
transpose precomputed for the backward pass (:class:`SparsePattern`).
"""

from __future__ import annotations

import warnings
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import softmax

__all__ = [
    "check_transr_options",
    "Aggregator",
    "KGAttentionConv",
    "SparsePattern",
    "kg_attention",
    "kg_attention_logits",
    "sparse_propagate",
    "transr_loss",
]

Aggregator = Literal["bi-interaction", "gcn", "graphsage"]
AGGREGATORS = ("bi-interaction", "gcn", "graphsage")


def _relation_ptr(edge_type: Tensor, num_relations: int) -> Tensor:
    ptr = torch.zeros(num_relations + 1, dtype=torch.long, device=edge_type.device)
    ptr[1:] = torch.cumsum(torch.bincount(edge_type, minlength=num_relations), 0)
    return ptr


def kg_attention_logits(
    x: Tensor,
    edge_index: Tensor,
    edge_type: Tensor,
    relation_emb: Tensor,
    relation_proj: Tensor,
    *,
    relation_ptr: Tensor | None = None,
    chunk_size: int = 1 << 16,
) -> Tensor:
    """Unnormalised KGAT attention ``π(h, r, t) = (e_t W_r)ᵀ tanh(e_h W_r + e_r)`` per edge.

    Args:
        x: ``[N, d]`` node embeddings (KGAT uses the ego / TransR embeddings).
        edge_index: ``[2, E]`` int64 (head, tail).
        edge_type: ``[E]`` int64 relation ids in ``[0, R)``.
        relation_emb: ``[R, k]`` relation embeddings ``e_r``.
        relation_proj: ``[R, d, k]`` projections ``W_r``.
        relation_ptr: ``[R + 1]`` when the edges are already sorted by relation (edges of ``r``
            are ``relation_ptr[r]:relation_ptr[r + 1]``, as in
            :class:`~kgrec.graph.ckg.CollaborativeKG`); otherwise they are sorted here.
        chunk_size: edges projected at once without gradient (default 65,536): the memory
            of the no-grad pass is ``O(chunk_size · k)`` whatever ``E``. With gradient (live
            attention) every edge is gathered once, ``O(E · d)``.

    Returns:
        ``[E]`` logits in the input edge order (differentiable when the inputs require grad).
    """
    num_rel = relation_emb.shape[0]
    if x.dim() != 2 or relation_proj.shape != (num_rel, x.shape[1], relation_emb.shape[1]):
        raise ValueError(
            "expected x [N, d], relation_emb [R, k] and relation_proj [R, d, k] (got "
            f"{tuple(x.shape)}, {tuple(relation_emb.shape)}, {tuple(relation_proj.shape)})"
        )
    if edge_index.dim() != 2 or edge_index.shape[0] != 2 or edge_type.shape != edge_index.shape[1:]:
        raise ValueError(
            "expected edge_index [2, E] and edge_type [E] (got "
            f"{tuple(edge_index.shape)} and {tuple(edge_type.shape)})"
        )
    if chunk_size < 1:
        raise ValueError(f"expected chunk_size >= 1 (got {chunk_size})")
    order = None
    if relation_ptr is None:
        order = torch.argsort(edge_type, stable=True)
        edge_index = edge_index[:, order]
        relation_ptr = _relation_ptr(edge_type, num_rel)
    elif relation_ptr.numel() != num_rel + 1:
        raise ValueError(
            f"expected relation_ptr of length {num_rel + 1} (got {relation_ptr.numel()})"
        )
    bounds = relation_ptr.tolist()
    counts = [hi - lo for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    # unbind / split: one backward node each, not one full-size zero gradient per relation
    weights, offsets = relation_proj.unbind(0), relation_emb.unbind(0)
    pieces = []
    needs_grad = torch.is_grad_enabled() and any(
        t.requires_grad for t in (x, relation_emb, relation_proj)
    )
    if needs_grad:
        # differentiable ("live") attention: one gather per side, O(E · d) memory
        heads = x.index_select(0, edge_index[0, : bounds[-1]]).split(counts)
        tails = x.index_select(0, edge_index[1, : bounds[-1]]).split(counts)
        for h, t, w, e_r, c in zip(heads, tails, weights, offsets, counts, strict=True):
            if c:
                pieces.append(((t @ w) * torch.tanh(h @ w + e_r)).sum(-1))
    else:
        # no gradient (the per-epoch refresh): chunks of edges bound the memory whatever E;
        # a loop over relations and chunks, never over single edges, and W_r is never
        # gathered per edge
        for r in range(num_rel):
            w, e_r = weights[r], offsets[r]
            for lo in range(bounds[r], bounds[r + 1], chunk_size):
                hi = min(lo + chunk_size, bounds[r + 1])
                h = x.index_select(0, edge_index[0, lo:hi]) @ w
                t = x.index_select(0, edge_index[1, lo:hi]) @ w
                pieces.append((t * torch.tanh(h + e_r)).sum(-1))
    logits = torch.cat(pieces) if pieces else x.new_zeros(0)
    if order is not None:  # back to the caller's edge order (out-of-place: differentiable)
        logits = torch.zeros_like(logits).index_copy(0, order, logits)
    return logits


def kg_attention(
    x: Tensor,
    edge_index: Tensor,
    edge_type: Tensor,
    relation_emb: Tensor,
    relation_proj: Tensor,
    *,
    num_nodes: int | None = None,
    relation_ptr: Tensor | None = None,
    chunk_size: int = 1 << 16,
) -> Tensor:
    """Normalised KGAT attention ``π̃`` ([E]): the softmax of :func:`kg_attention_logits` over
    the edges of each head (``edge_index[0]``), so ``Σ_{t ∈ N_h} π̃(h, r, t) = 1`` for every head
    with an edge. Arguments as in :func:`kg_attention_logits`; ``num_nodes`` defaults to
    ``x.shape[0]``."""
    logits = kg_attention_logits(
        x, edge_index, edge_type, relation_emb, relation_proj,
        relation_ptr=relation_ptr, chunk_size=chunk_size,
    )  # fmt: skip
    return softmax(logits, edge_index[0], num_nodes=x.shape[0] if num_nodes is None else num_nodes)


class SparsePattern:
    """The sparsity pattern of ``A[h, t]`` for an edge list, to build CSR matrices fast.

    Built once per graph (sorting is the expensive part); :meth:`matrices` then turns per-edge
    weights into ``(A, Aᵀ)`` as sparse CSR tensors in ``O(E)``. Parallel edges (the same
    ``(h, t)`` under two relations) are summed into one entry.

    Args:
        edge_index: ``[2, E]`` int64 (head, tail).
        num_nodes: ``N``; the matrices are ``N x N``.
    """

    def __init__(self, edge_index: Tensor, num_nodes: int) -> None:
        if edge_index.dim() != 2 or edge_index.shape[0] != 2:
            raise ValueError(f"expected edge_index [2, E] (got {tuple(edge_index.shape)})")
        self.num_nodes = n = int(num_nodes)
        self.num_edges = int(edge_index.shape[1])
        head, tail = edge_index[0], edge_index[1]
        key, self.edge_to_entry = torch.unique(head * n + tail, sorted=True, return_inverse=True)
        rows, cols = key // n, key % n
        self.crow = _crow(rows, n)
        self.col = cols
        self.t_perm = torch.argsort(cols * n + rows)
        self.t_crow = _crow(cols[self.t_perm], n)
        self.t_col = rows[self.t_perm]

    @property
    def nnz(self) -> int:
        return int(self.col.numel())

    def values(self, weights: Tensor) -> Tensor:
        """Per-entry values (``[nnz]``) from per-edge weights (``[E]``), parallel edges summed."""
        if weights.shape != (self.num_edges,):
            raise ValueError(f"expected {self.num_edges} edge weights (got {tuple(weights.shape)})")
        return torch.zeros(self.nnz, dtype=weights.dtype, device=weights.device).index_add_(
            0, self.edge_to_entry, weights
        )

    def matrices(self, weights: Tensor) -> tuple[Tensor, Tensor]:
        """``(A, Aᵀ)``: ``N x N`` sparse CSR tensors with ``A[h, t] = Σ weights`` (no grad)."""
        vals = self.values(weights.detach())
        n = self.num_nodes
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            a = torch.sparse_csr_tensor(self.crow, self.col, vals, (n, n), check_invariants=False)
            a_t = torch.sparse_csr_tensor(
                self.t_crow, self.t_col, vals[self.t_perm], (n, n), check_invariants=False
            )
        return a, a_t


def _crow(sorted_rows: Tensor, n: int) -> Tensor:
    crow = torch.zeros(n + 1, dtype=torch.long, device=sorted_rows.device)
    crow[1:] = torch.cumsum(torch.bincount(sorted_rows, minlength=n), 0)
    return crow


class _SparseMM(torch.autograd.Function):
    """``Y = A X`` for a constant sparse CSR ``A``; the backward uses the given ``Aᵀ`` (CSR)."""

    @staticmethod
    def forward(ctx, a: Tensor, a_t: Tensor, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.a_t = a_t  # constants: kept by reference
        return torch.sparse.mm(a, x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[None, None, Tensor | None]:  # type: ignore[override]
        if not ctx.needs_input_grad[2]:
            return None, None, None
        return None, None, torch.sparse.mm(ctx.a_t, grad.contiguous())


def sparse_propagate(a: Tensor, x: Tensor, a_t: Tensor | None = None) -> Tensor:
    """``A X`` for a constant sparse ``A`` (``[N, M]``) and dense ``X`` (``[M, d]``).

    With ``a_t`` (``Aᵀ`` as CSR), the backward is one CSR product with it; without, PyTorch's
    own backward (which transposes ``A`` on every call) is used.
    """
    if a.shape[1] != x.shape[0]:
        raise ValueError(f"expected features with {a.shape[1]} rows (got {x.shape[0]})")
    if a_t is None:
        return torch.sparse.mm(a, x)
    return _SparseMM.apply(a, a_t, x)


class KGAttentionConv(MessagePassing):
    """One KGAT embedding-propagation layer: attentive neighbourhood sum + aggregator.

    ``e_{N_h} = Σ_{(h, r, t)} π̃(h, r, t) e_t`` (the weights come from :func:`kg_attention`),
    then, with ``σ = LeakyReLU(negative_slope)`` and message dropout on the output:

    - ``"bi-interaction"`` (default, eq. 8): ``σ(W1 (e_h + e_N)) + σ(W2 (e_h ⊙ e_N))``;
    - ``"gcn"`` (eq. 6): ``σ(W (e_h + e_N))``;
    - ``"graphsage"`` (eq. 7): ``σ(W [e_h ‖ e_N])``.

    Edges follow the KG convention ``edge_index = (head, tail)``: each head aggregates its tails.

    Args:
        in_channels, out_channels: ``d_in`` and ``d_out``.
        aggregator: ``"bi-interaction"`` (default), ``"gcn"`` or ``"graphsage"``.
        dropout: message dropout on the layer output (default 0.1, the paper's value).
        negative_slope: LeakyReLU slope (default 0.2).
        bias: whether the linear maps have a bias (default True).

    Shapes: ``forward(x [N, d_in], A, ...) -> [N, d_out]``, with either

    - ``edge_index [2, E]`` int64 plus ``edge_weight [E]`` (the attention; gradients flow into
      it: use this for attention learnt end to end), or
    - ``edge_index`` a sparse CSR ``[N, N]`` matrix ``A[h, t] = π̃`` (constant, the fast path)
      and optionally ``transpose = Aᵀ`` (CSR) so the backward needs no transposition.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        aggregator: Aggregator = "bi-interaction",
        dropout: float = 0.1,
        negative_slope: float = 0.2,
        bias: bool = True,
    ) -> None:
        super().__init__(aggr="add")
        if aggregator not in AGGREGATORS:
            raise ValueError(f"expected aggregator in {AGGREGATORS} (got {aggregator!r})")
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(
                f"expected positive in_channels and out_channels (got {in_channels}, {out_channels})"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"expected 0 <= dropout < 1 (got {dropout})")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.aggregator = aggregator
        self.dropout = float(dropout)
        self.negative_slope = float(negative_slope)
        width = 2 * in_channels if aggregator == "graphsage" else in_channels
        self.lin1 = torch.nn.Linear(width, out_channels, bias=bias)
        self.lin2 = (
            torch.nn.Linear(in_channels, out_channels, bias=bias)
            if aggregator == "bi-interaction"
            else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for lin in (self.lin1, self.lin2):
            if lin is not None:
                torch.nn.init.xavier_uniform_(lin.weight)
                if lin.bias is not None:
                    torch.nn.init.zeros_(lin.bias)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        *,
        transpose: Tensor | None = None,
    ) -> Tensor:
        neigh = self.neighbourhood(x, edge_index, edge_weight, transpose=transpose)
        return self.combine(x, neigh)

    def neighbourhood(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        *,
        transpose: Tensor | None = None,
    ) -> Tensor:
        """``e_{N_h}`` for every node: ``[N, d_in]`` (zero for a node without edges)."""
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected x of shape [N, {self.in_channels}] (got {tuple(x.shape)})")
        n = x.shape[0]
        size: tuple[int, int] | None = None
        if edge_index.layout == torch.sparse_csr:
            if edge_index.shape != (n, n):
                raise ValueError(
                    f"expected a sparse [{n}, {n}] attention matrix (got {tuple(edge_index.shape)})"
                )
            adj = edge_index  # A[h, t]: PyG's transposed adjacency (rows aggregate), as is
        else:
            if edge_weight is None or edge_weight.shape != edge_index.shape[1:]:
                got = None if edge_weight is None else tuple(edge_weight.shape)
                raise ValueError(
                    f"expected edge_weight of shape [{edge_index.shape[1]}] with an edge list (got {got})"
                )
            # PyG sends messages from edge_index[0] to edge_index[1]: tails -> heads.
            adj, size = edge_index.flip(0), (n, n)
        # One propagate call: PyG generates propagate's signature from its call sites.
        return self.propagate(adj, x=x, edge_weight=edge_weight, transpose=transpose, size=size)

    def message(self, x_j: Tensor, edge_weight: Tensor | None) -> Tensor:
        assert edge_weight is not None  # checked in neighbourhood()
        return edge_weight.unsqueeze(-1) * x_j

    def message_and_aggregate(
        self, adj_t: Tensor, x: Tensor, transpose: Tensor | None = None
    ) -> Tensor:
        return sparse_propagate(adj_t, x, transpose)

    def combine(self, x: Tensor, neigh: Tensor) -> Tensor:
        """The aggregator ``f(e_h, e_{N_h})`` followed by message dropout: ``[N, d_out]``."""
        slope = self.negative_slope
        if self.aggregator == "bi-interaction":
            assert self.lin2 is not None
            out = F.leaky_relu(self.lin1(x + neigh), slope) + F.leaky_relu(
                self.lin2(x * neigh), slope
            )
        elif self.aggregator == "gcn":
            out = F.leaky_relu(self.lin1(x + neigh), slope)
        else:
            out = F.leaky_relu(self.lin1(torch.cat([x, neigh], -1)), slope)
        return F.dropout(out, p=self.dropout, training=self.training)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
            f"aggregator={self.aggregator!r}, dropout={self.dropout})"
        )


def check_transr_options(kg_weight: float, kg_reg_weight: float, kg_batch_size: int | None) -> None:
    """Validate the TransR auxiliary-loss settings shared by KG encoders (KGAT, CKE)."""
    if kg_weight < 0 or kg_reg_weight < 0:
        raise ValueError(f"expected kg_weight, kg_reg_weight >= 0 (got {kg_weight}, {kg_reg_weight})")
    if kg_batch_size is not None and kg_batch_size < 1:
        raise ValueError(f"expected kg_batch_size >= 1 or None (got {kg_batch_size})")


def transr_loss(
    head: Tensor,
    tail: Tensor,
    neg_tail: Tensor,
    relation: Tensor,
    relation_emb: Tensor,
    relation_proj: Tensor,
    *,
    reg_weight: float = 1e-5,
) -> Tensor:
    """TransR's pairwise loss with KGAT's L2 term (Lin et al. AAAI 2015; KGAT eq. 1-2).

    ``g(h, r, t) = ||e_h W_r + e_r - e_t W_r||²``; for a true triple and a corrupted tail ``t'``::

        L = mean_b softplus(g(h, r, t) - g(h, r, t'))
            + reg_weight * (||e_h W_r||² + ||e_r||² + ||e_t W_r||² + ||e_t' W_r||²) / (2 B)

    Args:
        head, tail, neg_tail: ``[B, d]`` node embeddings.
        relation: ``[B]`` int64 relation ids.
        relation_emb: ``[R, k]``; relation_proj: ``[R, d, k]``.
        reg_weight: weight of the L2 term (default 1e-5, KGAT's).

    Returns a scalar tensor. The triples are grouped by relation (pass them sorted by relation
    to skip a reordering gather) and each group is projected
    with one ``[n_r, d] x [d, k]`` product (a loop over the relations present, not over triples),
    so ``W_r`` is never gathered per triple (that would be ``B · d · k`` floats).
    """
    if not (head.shape == tail.shape == neg_tail.shape) or relation.shape != head.shape[:1]:
        raise ValueError(
            "expected head, tail, neg_tail [B, d] and relation [B] (got "
            f"{tuple(head.shape)}, {tuple(tail.shape)}, {tuple(neg_tail.shape)}, {tuple(relation.shape)})"
        )
    num_rel = relation_proj.shape[0]
    emb = torch.stack([head, tail, neg_tail], 1)  # [B, 3, d]
    if relation.numel() > 1 and bool((relation[1:] < relation[:-1]).any()):
        relation, order = torch.sort(relation)
        emb = emb.index_select(0, order)
    counts = torch.bincount(relation, minlength=num_rel).tolist()
    # unbind / split: one backward node each (indexing W_r or slicing emb one relation at a time
    # would allocate a full-size zero gradient per relation in the backward pass)
    pieces = [
        e @ w
        for e, w, c in zip(emb.split(counts), relation_proj.unbind(0), counts, strict=True)
        if c
    ]
    proj = torch.cat(pieces)  # [B, 3, k]
    e_r = relation_emb.index_select(0, relation)  # [B, k]
    h_p, t_p, n_p = proj.unbind(1)
    moved = h_p + e_r
    pos = (moved - t_p).pow(2).sum(-1)
    neg = (moved - n_p).pow(2).sum(-1)
    loss = F.softplus(pos - neg).mean()
    if reg_weight:
        l2 = (proj.pow(2).sum() + e_r.pow(2).sum()) / (2 * head.shape[0])
        loss = loss + reg_weight * l2
    return loss
