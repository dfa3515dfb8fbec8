"""Negative samplers: for each training user, items the user did not interact with.

Interface (:class:`NegativeSampler`): ``sample(users, num_items, generator)`` returns one item
per entry of ``users`` (same shape; pass ``users[:, None].expand(-1, n)`` for ``n`` negatives per
positive), drawing every random number from ``generator`` so runs are reproducible. The fit loop
calls ``on_epoch_start(epoch)`` before each epoch (the hook for curricula that change the
distribution over time) and saves ``state_dict()`` in its checkpoints.

Samplers that need the model's current scores (hard negatives) set the class attribute
``needs_scores = True``; the fit loop then runs the encoder first and passes
``score_pairs(users [B], items [B, M]) -> [B, M]`` (detached scores of the current batch's
forward) as the keyword ``score_pairs`` of ``sample``. Samplers without it are called exactly as
before, so any sampler written against the original interface keeps working.

Registered samplers (:data:`SAMPLERS`, :func:`get_sampler`):

- ``uniform``: :class:`UniformSampler`, uniform over each user's non-positives (exact, loop-free);
- ``popularity``: :class:`PopularitySampler`, ``P(j | u) ∝ (pop_j + smoothing)^alpha`` over
  the user's non-positives (exact, loop-free);
- ``dns``: :class:`DynamicNegativeSampler`, the highest-scored of ``M`` uniform candidates;
- ``mixed``: :class:`MixedSampler`, DNS for a ``hard_fraction`` of the entries, uniform for the rest.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from kgrec.data.dataset import RecDataset

__all__ = [
    "SAMPLERS",
    "DynamicNegativeSampler",
    "MixedSampler",
    "NegativeSampler",
    "PairScorer",
    "PopularitySampler",
    "PositiveIndex",
    "UniformSampler",
    "get_sampler",
    "register_sampler",
]

PairScorer = Callable[[Tensor, Tensor], Tensor]
"""``score_pairs(users [B] int64, items [B, M] int64) -> scores [B, M]`` (no gradient)."""

_STRIDE = 1 << 32  # key = user * _STRIDE + item: independent of the catalogue size, no overflow


class NegativeSampler(abc.ABC):
    """Draws negative items for a batch of users; see the module docstring for the contract.

    Attributes:
        needs_scores: when True the fit loop passes ``score_pairs=`` (a :data:`PairScorer` over
            the current model) to :meth:`sample`; default False.
    """

    needs_scores: bool = False

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
        users = self._check(users, num_items)
        u01 = torch.rand(users.shape, generator=generator, dtype=torch.float64)
        free = num_items - self.index.counts[users]
        ranks = (u01 * free).to(torch.long)  # float64: u01 * free < free exactly
        return self.index.nth_negative(users, ranks)

    def _check(self, users: Tensor, num_items: int) -> Tensor:
        """``users`` as int64 after checking indices, catalogue size and that negatives exist."""
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
        return users

    def __repr__(self) -> str:
        return f"UniformSampler(num_users={self.num_users}, num_items={self.num_items})"


class PopularitySampler(UniformSampler):
    """Negatives drawn in proportion to a power of their popularity, never a training positive.

    ``P(j | u) = w_j / Σ_{k ∉ P(u)} w_k`` for ``j ∉ P(u)`` with ``w_j = (pop_j + smoothing)^alpha``
    and ``pop_j`` the item's number of training pairs. ``alpha = 0`` is the uniform sampler;
    ``alpha = 1`` samples by popularity (popular items are the "hard" negatives of a BPR model
    early in training); ``alpha = 0.75`` (default) is word2vec's unigram^0.75 distribution
    (Mikolov et al., NeurIPS 2013), used for negatives in recommendation by e.g. Rendle &
    Freudenthaler, WSDM 2014 (adaptive oversampling, which motivates non-uniform negatives).

    Exact and loop-free: with ``C(j) = Σ_{i≤j} w_i`` and the user's positive mass below ``j``,
    ``F_u(j) = C(j) - Σ_{p∈P(u), p≤j} w_p`` is the user's cumulative distribution (it does not
    grow at positives). A draw ``t ~ U[0, F_u(I-1))`` is mapped to the smallest ``j`` with
    ``F_u(j) > t`` by a vectorised binary search of ``⌈log2 I⌉`` steps over the whole batch; the
    positive mass below ``j`` is one ``searchsorted`` in the sorted pair keys. float64 throughout;
    a draw that rounding lands on a positive or weightless item (vanishingly rare) is replaced by
    a uniform negative.

    Args:
        train: the training interactions (popularity and the excluded pairs).
        alpha: exponent, default 0.75 (>= 0).
        smoothing: added to every count before the power, default 1.0, so items without a
            training pair can still be drawn; 0 never draws them.
    """

    def __init__(self, train: RecDataset, *, alpha: float = 0.75, smoothing: float = 1.0) -> None:
        super().__init__(train)
        if alpha < 0 or smoothing < 0:
            raise ValueError(f"expected alpha >= 0 and smoothing >= 0 (got {alpha}, {smoothing})")
        self.alpha = float(alpha)
        self.smoothing = float(smoothing)
        items = torch.as_tensor(train.interactions["item"].to_numpy().astype(np.int64))
        self.counts = torch.bincount(items, minlength=train.num_items).to(torch.float64)
        self._tables: tuple[int, Tensor, Tensor, Tensor] | None = None

    def weights(self, num_items: int) -> Tensor:
        """``[num_items]`` float64 ``(pop + smoothing)^alpha`` (items past the catalogue: pop 0)."""
        counts = self.counts
        if num_items > len(counts):
            counts = torch.cat([counts, counts.new_zeros(num_items - len(counts))])
        return (counts[:num_items] + self.smoothing).pow(self.alpha)

    def _cumulative(self, num_items: int) -> tuple[Tensor, Tensor, Tensor]:
        if self._tables is None or self._tables[0] != num_items:
            w = self.weights(num_items)
            item_of_key = self.index.keys % _STRIDE
            pos_prefix = torch.cat([w.new_zeros(1), w[item_of_key].cumsum(0)])
            self._tables = (num_items, w, w.cumsum(0), pos_prefix)
        return self._tables[1], self._tables[2], self._tables[3]

    def sample(self, users: Tensor, num_items: int, generator: torch.Generator) -> Tensor:
        users = self._check(users, num_items)
        shape = users.shape
        users = users.reshape(-1)
        w, cum, pos_prefix = self._cumulative(num_items)
        offsets = self.index.offsets
        base = pos_prefix[offsets[users]]

        def cdf(j: Tensor) -> Tensor:  # F_u(j) for each entry
            below = torch.searchsorted(self.index.keys, users * _STRIDE + j, right=True)
            return cum[j] - (pos_prefix[below] - base)

        last = torch.full_like(users, num_items - 1)
        mass = cdf(last)
        if bool((mass <= 0).any()):
            bad = torch.unique(users[mass <= 0])[:5].tolist()
            raise ValueError(
                f"users {bad} have no non-positive item of positive weight; use smoothing > 0 "
                f"(got smoothing={self.smoothing})"
            )
        t = torch.rand(users.shape, generator=generator, dtype=torch.float64) * mass
        lo = torch.zeros_like(users)
        hi = last.clone()
        for _ in range(max(1, int(num_items - 1).bit_length())):
            mid = (lo + hi) // 2
            right = cdf(mid) > t
            hi = torch.where(right, mid, hi)
            lo = torch.where(right, lo, torch.minimum(mid + 1, hi))
        out = hi
        bad = self.index.contains(users, out) | (w[out] <= 0)
        if bool(bad.any()):  # floating-point edge: fall back to a uniform negative
            out = out.clone()
            out[bad] = super().sample(users[bad], num_items, generator)
        return out.view(shape)

    def __repr__(self) -> str:
        return (
            f"PopularitySampler(num_users={self.num_users}, num_items={self.num_items}, "
            f"alpha={self.alpha}, smoothing={self.smoothing})"
        )


class DynamicNegativeSampler(NegativeSampler):
    """Dynamic hard negatives (DNS): the highest-scored of ``M`` uniform candidates.

    Zhang et al., "Optimizing Top-N Collaborative Filtering via Dynamic Negative Item
    Sampling", SIGIR 2013: for each ``(u, i+)`` draw ``M`` candidates ``j_1..j_M`` uniformly from
    the items ``u`` did not interact with (:class:`UniformSampler`, so no positive is ever a
    candidate) and keep ``argmax_m s(u, j_m)`` under the *current* model. Large ``M`` gives
    harder negatives (more informative gradients, but also more false negatives); ``M = 1`` is
    the uniform sampler.

    With ``hard_fraction < 1`` each entry independently (a Bernoulli draw from the generator) is
    a hard negative with that probability and a uniform one (the first candidate) otherwise:
    that is :class:`MixedSampler`. Only the hard entries are scored.

    ``needs_scores = True``: the fit loop passes ``score_pairs`` (the batch's detached forward),
    so DNS costs one extra ``[B, M]`` gather-and-dot per batch, no extra encoder forward.
    Curricula move ``num_candidates`` or ``hard_fraction`` during training (both are saved in
    :meth:`state_dict`).

    Args:
        train: the training interactions.
        num_candidates: ``M >= 1``, default 8.
        hard_fraction: in ``[0, 1]``, default 1.0 (every negative is a DNS negative).

    Shapes: ``sample(users [*], num_items, generator, score_pairs=f) -> [*]``.
    """

    needs_scores = True

    def __init__(
        self, train: RecDataset, *, num_candidates: int = 8, hard_fraction: float = 1.0
    ) -> None:
        self.uniform = UniformSampler(train)
        self.num_candidates = num_candidates
        self.hard_fraction = hard_fraction
        self._check_settings()

    def _check_settings(self) -> None:
        m, f = self.num_candidates, self.hard_fraction
        if int(m) != m or int(m) < 1 or not 0.0 <= float(f) <= 1.0:
            raise ValueError(
                f"expected an integer num_candidates >= 1 and hard_fraction in [0, 1] "
                f"(got {m!r}, {f!r})"
            )

    def sample(
        self,
        users: Tensor,
        num_items: int,
        generator: torch.Generator,
        *,
        score_pairs: PairScorer | None = None,
    ) -> Tensor:
        self._check_settings()
        m, frac = int(self.num_candidates), float(self.hard_fraction)
        shape = users.shape
        flat = users.reshape(-1).to(torch.long)
        cand = self.uniform.sample(flat[:, None].expand(-1, m), num_items, generator)  # [N, M]
        out = cand[:, 0]
        if m == 1 or frac == 0.0 or flat.numel() == 0:
            return out.view(shape)
        if score_pairs is None:
            raise ValueError(
                f"{type(self).__name__} needs the model's scores: call sample(..., score_pairs=f) "
                "with f(users [B], items [B, M]) -> [B, M] (the fit loop passes it)"
            )
        if frac < 1.0:
            hard = (torch.rand(flat.shape, generator=generator) < frac).nonzero().view(-1)
        else:
            hard = None
        u, c = (flat, cand) if hard is None else (flat[hard], cand[hard])
        if u.numel():
            with torch.no_grad():
                scores = score_pairs(u, c)
            if scores.shape != c.shape:
                raise ValueError(
                    f"expected score_pairs to return {tuple(c.shape)} scores (got {tuple(scores.shape)})"
                )
            best = c.gather(1, scores.argmax(1, keepdim=True).to(c.device)).view(-1)
            if hard is None:
                out = best
            else:
                out = out.clone()
                out[hard] = best
        return out.view(shape)

    def state_dict(self) -> dict[str, Any]:
        return {"num_candidates": int(self.num_candidates), "hard_fraction": float(self.hard_fraction)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.num_candidates = int(state["num_candidates"])
        self.hard_fraction = float(state["hard_fraction"])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_candidates={self.num_candidates}, "
            f"hard_fraction={self.hard_fraction})"
        )


class MixedSampler(DynamicNegativeSampler):
    """A ``hard_fraction`` of DNS negatives (default 0.5), uniform negatives for the rest.

    The mixture keeps the easy, unbiased uniform negatives that stabilise early training while
    adding informative hard ones; a curriculum raising ``hard_fraction`` from 0 to 1 moves from
    uniform sampling to full DNS. See :class:`DynamicNegativeSampler` for the arguments.
    """

    def __init__(
        self, train: RecDataset, *, num_candidates: int = 8, hard_fraction: float = 0.5
    ) -> None:
        super().__init__(train, num_candidates=num_candidates, hard_fraction=hard_fraction)


SAMPLERS: dict[str, type[NegativeSampler]] = {
    "uniform": UniformSampler,
    "popularity": PopularitySampler,
    "dns": DynamicNegativeSampler,
    "mixed": MixedSampler,
}


def register_sampler(name: str) -> Callable[[type[NegativeSampler]], type[NegativeSampler]]:
    """Class decorator adding a :class:`NegativeSampler` subclass to :data:`SAMPLERS`."""
    key = name.lower()

    def decorator(cls: type[NegativeSampler]) -> type[NegativeSampler]:
        if not (isinstance(cls, type) and issubclass(cls, NegativeSampler)):
            raise TypeError(f"register_sampler expected a NegativeSampler subclass (got {cls!r})")
        other = SAMPLERS.get(key)
        if other is not None and other is not cls:
            raise ValueError(f"sampler name {key!r} is already taken by {other.__qualname__}")
        SAMPLERS[key] = cls
        return cls

    return decorator


def get_sampler(name: str) -> type[NegativeSampler]:
    """The sampler class registered under ``name``; a wrong name lists the valid ones."""
    try:
        return SAMPLERS[name.lower()]
    except KeyError:
        # registration order (uniform first), not alphabetical
        raise KeyError(f"unknown sampler {name!r}; valid names: {', '.join(SAMPLERS)}") from None
