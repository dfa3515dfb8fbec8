"""LightGCN (He et al., "LightGCN: Simplifying and Powering Graph Convolution Network for
Recommendation", SIGIR 2020)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from kgrec.models.base import Batch, Encoder, batch_ego_rows, init_embedding
from kgrec.models.registry import register_encoder
from kgrec.nn.propagation import check_adjacency, propagate

__all__ = ["LightGCN"]


@register_encoder("lightgcn")
class LightGCN(Encoder):
    """Linear propagation over the normalised user-item graph, layers averaged.

    ``E^(0) = [E_U; E_I]``, ``E^(k+1) = Â E^(k)`` with ``Â = D^-1/2 A D^-1/2`` (``graph.norm_adj``,
    a symmetric ``(U+I) x (U+I)`` sparse CSR matrix, users first), and the output
    ``E = Σ_{k=0..K} α_k E^(k)`` with ``α_k = 1 / (K+1)`` by default (the mean of the layers).

    The propagation reuses ``Â`` for the backward pass (``Â^T = Â``), so a training step costs
    ``2K`` CSR products and no transposition.

    Args:
        num_users, num_items: table sizes (``from_data`` reads them from the graph).
        embedding_dim: ``d``, default 64.
        num_layers: ``K``, default 3.
        layer_weights: ``K + 1`` weights ``α_0..α_K``; default uniform ``1 / (K+1)``.
        init_std: None (default) for Xavier-normal initialisation, or the standard deviation of
            a normal initialisation (0.1 in the paper's code).

    Shapes: ``forward(graph) -> ([num_users, d], [num_items, d])``.
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        *,
        embedding_dim: int = 64,
        num_layers: int = 3,
        layer_weights: Sequence[float] | None = None,
        init_std: float | None = None,
    ) -> None:
        super().__init__()
        if num_users <= 0 or num_items <= 0 or embedding_dim <= 0:
            raise ValueError(
                "expected positive num_users, num_items and embedding_dim "
                f"(got {num_users}, {num_items}, {embedding_dim})"
            )
        if num_layers < 0:
            raise ValueError(f"expected num_layers >= 0 (got {num_layers})")
        if layer_weights is None:
            weights = [1.0 / (num_layers + 1)] * (num_layers + 1)
        else:
            weights = [float(w) for w in layer_weights]
            if len(weights) != num_layers + 1:
                raise ValueError(
                    f"expected num_layers + 1 = {num_layers + 1} layer_weights "
                    f"(got {len(weights)}: {weights})"
                )
        self.num_users = int(num_users)
        self.num_items = int(num_items)
        self.out_channels = int(embedding_dim)
        self.num_layers = int(num_layers)
        self.layer_weights = weights
        self.init_std = init_std
        self.user_embedding = torch.nn.Embedding(self.num_users, self.out_channels)
        self.item_embedding = torch.nn.Embedding(self.num_items, self.out_channels)
        self.reset_parameters()

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """Re-draw both tables (pass a seeded ``generator`` for reproducible weights)."""
        init_embedding(self.user_embedding.weight, std=self.init_std, generator=generator)
        init_embedding(self.item_embedding.weight, std=self.init_std, generator=generator)

    def forward(self, graph: Any) -> tuple[Tensor, Tensor]:
        self.check_graph(graph)
        adj = getattr(graph, "norm_adj", None)
        if adj is None:
            raise ValueError(
                "LightGCN expected graph.norm_adj (the normalised user-item adjacency); build the "
                "graph with kgrec.graph.build_graph(train)"
            )
        check_adjacency(adj, self.num_users + self.num_items)
        x = torch.cat([self.user_embedding.weight, self.item_embedding.weight])
        out = x * self.layer_weights[0]
        for k in range(1, self.num_layers + 1):
            x = propagate(adj, x)
            out = torch.add(out, x, alpha=self.layer_weights[k])
        return out[: self.num_users], out[self.num_users :]

    def reg_params(self, batch: Batch) -> list[Tensor]:
        return batch_ego_rows(self.user_embedding.weight, self.item_embedding.weight, batch)

    def extra_repr(self) -> str:
        return (
            f"num_users={self.num_users}, num_items={self.num_items}, "
            f"embedding_dim={self.out_channels}, num_layers={self.num_layers}"
        )
