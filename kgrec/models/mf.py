"""Matrix factorisation: the identity encoder (Rendle et al., "BPR", UAI 2009)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from kgrec.models.base import Batch, Encoder, batch_ego_rows, init_embedding
from kgrec.models.registry import register_encoder

__all__ = ["MF"]


@register_encoder("mf")
class MF(Encoder):
    """Free user and item embeddings, returned as they are: ``e_u = E_U[u]``, ``e_i = E_I[i]``.

    With the MF head and the BPR loss this is BPR-MF. The graph is only checked for its sizes.

    Args:
        num_users, num_items: table sizes (``from_data`` reads them from the graph).
        embedding_dim: ``d``, default 64.
        init_std: None (default) for Xavier-normal initialisation (RecBole's BPR), or the standard
            deviation of a normal initialisation (0.1 in the LightGCN paper).

    Shapes: ``forward(graph) -> ([num_users, d], [num_items, d])``.
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        *,
        embedding_dim: int = 64,
        init_std: float | None = None,
    ) -> None:
        super().__init__()
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
        self.reset_parameters()

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """Re-draw both tables (pass a seeded ``generator`` for reproducible weights)."""
        init_embedding(self.user_embedding.weight, std=self.init_std, generator=generator)
        init_embedding(self.item_embedding.weight, std=self.init_std, generator=generator)

    def forward(self, graph: Any) -> tuple[Tensor, Tensor]:
        self.check_graph(graph)
        return self.user_embedding.weight, self.item_embedding.weight

    def reg_params(self, batch: Batch) -> list[Tensor]:
        return batch_ego_rows(self.user_embedding.weight, self.item_embedding.weight, batch)

    def extra_repr(self) -> str:
        return f"num_users={self.num_users}, num_items={self.num_items}, embedding_dim={self.out_channels}"
