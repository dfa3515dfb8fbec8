"""The one scoring head every encoder feeds: the inner product of user and item embeddings."""

from __future__ import annotations

from torch import Tensor

__all__ = ["MFHead"]


class MFHead:
    """``score(u, i) = <user_emb[u], item_emb[i]>`` (stateless, no parameters).

    Because every encoder ends in this head, a fitted model is fully described by its two
    embedding tables, and top-k retrieval is a maximum-inner-product search.
    """

    def pair_scores(
        self, user_emb: Tensor, item_emb: Tensor, users: Tensor, items: Tensor
    ) -> Tensor:
        """Scores of given pairs.

        Args:
            user_emb: ``[U, d]``; item_emb: ``[I, d]``.
            users: ``[B]`` int64.
            items: ``[B]`` (one item per user) or ``[B, n]`` (n items per user) int64.

        Returns:
            ``[B]`` or ``[B, n]``, the shape of ``items``.
        """
        # index_select, not [], because its backward (index_add) is several times faster on CPU
        # than the accumulate-index_put that advanced indexing differentiates into.
        u = user_emb.index_select(0, users.reshape(-1)).view(*users.shape, -1)
        i = item_emb.index_select(0, items.reshape(-1)).view(*items.shape, -1)
        if items.dim() == users.dim() + 1:
            u = u.unsqueeze(-2)
        return (u * i).sum(-1)

    def all_scores(self, user_emb: Tensor, item_emb: Tensor, users: Tensor) -> Tensor:
        """Scores of ``users`` (``[B]`` int64) against every item: ``[B, I]``."""
        return user_emb.index_select(0, users) @ item_emb.T

    def __repr__(self) -> str:
        return "MFHead()"
