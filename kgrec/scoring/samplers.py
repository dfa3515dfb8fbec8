"""Negative samplers: for each training user, items the user did not interact with.

Interface (:class:`NegativeSampler`): ``sample(users, num_items, generator)`` returns one item
per entry of ``users`` (same shape; pass ``users[:, None].expand(-1, n)`` for ``n`` negatives per
positive), drawing every random number from ``generator`` so runs are reproducible. The fit loop
calls ``on_epoch_start(epoch)`` before each epoch (the hook for curricula that change the
distribution over time) and saves ``state_dict()`` in its checkpoints.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
import torch
from torch import Tensor

from kgrec.data.dataset import RecDataset

__all__ = ["SAMPLERS", "NegativeSampler", "PositiveIndex", "UniformSampler", "get_sampler"]

_STRIDE = 1 << 32  # key = user * _STRIDE + item: independent of the catalogue size, no overflow


class NegativeSampler(abc.ABC):
    """Draws negative items for a batch of users; see the module docstring for the contract."""

    @abc.abstractmethod
    def sample(self, users: Tensor, num_items: int, generator: torch.Generator) -> Tensor:
        """One negative item per entry of ``users`` (int64, same shape), from ``generator``."""

    def on_epoch_start(self, epoch: int) -> None:
        """Called by the fit loop before epoch ``epoch`` (0-based); default: nothing."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must keep to resume identically (tensors and plain types only)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        return None


class PositiveIndex:
    """The set of training pairs as sorted int64 keys ``user * 2**32 + item``.

    ``contains(users, items)`` is a vectorised membership test (one ``searchsorted``);
    ``nth_negative(users, r)`` maps a rank ``r`` in ``[0, num_items - |P(u)|)`` to the ``r``-th
    item (ascending) that user ``u`` did not interact with, also without a loop.
    """

    def __init__(
        self, users: np.ndarray | Tensor, items: np.ndarray | Tensor, *, num_users: int
    ) -> None:
        u = torch.as_tensor(np.asarray(users, dtype=np.int64).copy())
        i = torch.as_tensor(np.asarray(items, dtype=np.int64).copy())
        keys = torch.unique(u * _STRIDE + i)  # sorted, duplicates merged
        u = torch.div(keys, _STRIDE, rounding_mode="floor")
        i = keys - u * _STRIDE
        self.num_users = int(num_users)
        self.keys = keys
        self.counts = torch.bincount(u, minlength=self.num_users)  # |P(u)|
        self.offsets = torch.cat([torch.zeros(1, dtype=torch.long), self.counts.cumsum(0)])
        # For the j-th positive p_j (0-based, ascending) of u, p_j - j is non-decreasing in j;
        # the r-th non-positive item is r + #{j : p_j - j <= r}.
        rank = torch.arange(len(keys)) - self.offsets[u]
        self.shifted_keys = u * _STRIDE + (i - rank)
        self.max_item = int(i.max()) if len(i) else -1

    def contains(self, users: Tensor, items: Tensor) -> Tensor:
        """Boolean tensor (shape of ``users``): is ``(users[k], items[k])`` a training pair?"""
        q = users.to(torch.long) * _STRIDE + items.to(torch.long)
        if len(self.keys) == 0:
            return torch.zeros_like(q, dtype=torch.bool)
        pos = torch.searchsorted(self.keys, q).clamp_(max=len(self.keys) - 1)
        return self.keys[pos] == q

    def nth_negative(self, users: Tensor, ranks: Tensor) -> Tensor:
        """The ``ranks[k]``-th (0-based) item, ascending, that ``users[k]`` never interacted with."""
        q = users * _STRIDE + ranks
        below = torch.searchsorted(self.shifted_keys, q, right=True) - self.offsets[users]
        return ranks + below


class UniformSampler(NegativeSampler):
    """Uniform negatives over the items each user did not interact with in ``train``.

    Exact and loop-free: for user ``u`` with ``|P(u)|`` positives it draws a rank
    ``r ~ U{0, .., num_items - |P(u)| - 1}`` and maps it to the ``r``-th non-positive item with
    one ``searchsorted`` (:meth:`PositiveIndex.nth_negative`). This is the distribution that
    rejection sampling (RecBole) draws from, but with a fixed cost per draw: no resampling
    rounds, and a user who has seen nearly the whole catalogue costs no more than anyone else.

    Args:
        train: the training interactions (their pairs are never returned).

    Raises (in ``sample``):
        ValueError: a user has interacted with every item (no negative exists), an index is out
            of range, or ``num_items`` is smaller than the training catalogue.
    """

    def __init__(self, train: RecDataset) -> None:
        inter = train.interactions
        self.index = PositiveIndex(
            inter["user"].to_numpy(), inter["item"].to_numpy(), num_users=train.num_users
        )
        self.num_users = train.num_users
        self.num_items = train.num_items

    def sample(self, users: Tensor, num_items: int, generator: torch.Generator) -> Tensor:
        users = users.to(torch.long)
        if num_items <= self.index.max_item:
            raise ValueError(
                f"expected num_items > {self.index.max_item}, the largest training item "
                f"(got {num_items})"
            )
        if users.numel() and (int(users.min()) < 0 or int(users.max()) >= self.num_users):
            raise ValueError(
                f"expected user indices in [0, {self.num_users}) (got min {int(users.min())}, "
                f"max {int(users.max())})"
            )
        free = num_items - self.index.counts[users]
        if bool((free <= 0).any()):
            full = torch.unique(users[free <= 0])[:5].tolist()
            raise ValueError(
                f"users {full} interacted with every one of the {num_items} items, so no negative "
                "exists for them; drop them from the training pairs"
            )
        u01 = torch.rand(users.shape, generator=generator, dtype=torch.float64)
        ranks = (u01 * free).to(torch.long)  # float64: u01 * free < free exactly
        return self.index.nth_negative(users, ranks)

    def __repr__(self) -> str:
        return f"UniformSampler(num_users={self.num_users}, num_items={self.num_items})"


SAMPLERS: dict[str, type[NegativeSampler]] = {"uniform": UniformSampler}


def get_sampler(name: str) -> type[NegativeSampler]:
    """The sampler class registered under ``name``; a wrong name lists the valid ones."""
    try:
        return SAMPLERS[name.lower()]
    except KeyError:
        raise KeyError(
            f"unknown sampler {name!r}; valid names: {', '.join(sorted(SAMPLERS))}"
        ) from None
