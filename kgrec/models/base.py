"""The one contract every encoder follows: training graph -> one embedding per user and item.

Every encoder feeds the same :class:`kgrec.scoring.MFHead`, so
``score(u, i) = <user_emb[u], item_emb[i]>`` whatever the encoder. The graph is an argument of
:meth:`Encoder.forward`, never stored state: training and inference graphs, devices and sampled
subgraphs can be swapped without a cache to invalidate.
"""

from __future__ import annotations

import abc
from typing import Any, NamedTuple

import torch
from torch import Tensor

__all__ = ["Batch", "Encoder", "batch_ego_rows", "init_embedding"]


class Batch(NamedTuple):
    """One training batch of ``(user, positive item, negative item)`` triples (local ids).

    Attributes:
        users: ``[B]`` int64 user indices.
        pos_items: ``[B]`` int64 items the users interacted with.
        neg_items: ``[B]`` (one negative per positive) or ``[B, n]`` int64 sampled negatives.
    """

    users: Tensor
    pos_items: Tensor
    neg_items: Tensor


class Encoder(torch.nn.Module, abc.ABC):
    """Maps the training graph to ``(user_emb [U, d], item_emb [I, d])`` with ``d = out_channels``.

    Subclasses implement :meth:`forward`; they may add an auxiliary loss (e.g. KGAT's TransR term)
    through :meth:`aux_loss` and name the ego embeddings of a batch for the L2 penalty through
    :meth:`reg_params`. Hyper-parameters are keyword-only constructor arguments with defaults;
    sizes come from the graph in :meth:`from_data`.

    Two optional class attributes give :class:`~kgrec.recommender.Recommender` the fit loop's
    defaults for the encoder: ``fit_defaults`` (e.g. ``{"lr": 1e-3}``) and
    ``loss_fit_defaults``, per ranking loss, on top of them (e.g. a larger ``reg_weight`` under
    ``"softmax"``, whose scores are unbounded); a caller's explicit setting always wins.
    """

    out_channels: int
    #: fit-loop settings this encoder trains well with (selected on a validation part)
    fit_defaults: dict[str, Any] = {}
    #: per ranking-loss name, settings that replace ``fit_defaults`` under that loss
    loss_fit_defaults: dict[str, dict[str, Any]] = {}

    @abc.abstractmethod
    def forward(self, graph: Any) -> tuple[Tensor, Tensor]:
        """Embed every user and item of ``graph``: ``([U, d], [I, d])``."""

    def aux_loss(self, graph: Any, batch: Batch) -> Tensor | None:
        """An extra loss term added (weight 1) to the BPR loss of ``batch``; ``None`` if none."""
        return None

    def reg_params(self, batch: Batch) -> list[Tensor]:
        """The tensors of ``batch`` that the L2 penalty acts on (usually ego embedding rows)."""
        return []

    @classmethod
    def from_data(cls, graph: Any, **hyper: Any) -> Encoder:
        """Build the encoder for ``graph``: sizes are read from it, ``hyper`` goes to ``__init__``.

        The default reads ``graph["user"].num_nodes`` and ``graph["item"].num_nodes``; encoders
        that need more (entities, relations) override it.
        """
        return cls(graph["user"].num_nodes, graph["item"].num_nodes, **hyper)

    def check_graph(self, graph: Any) -> None:
        """Raise ``ValueError`` when ``graph``'s user / item counts differ from the encoder's."""
        want = (getattr(self, "num_users", None), getattr(self, "num_items", None))
        got = (graph["user"].num_nodes, graph["item"].num_nodes)
        if want != got:
            raise ValueError(
                f"{type(self).__name__} expected a graph with {want[0]} users and {want[1]} items "
                f"(got {got[0]} users and {got[1]} items); build the encoder for this graph with "
                f"{type(self).__name__}.from_data(graph)"
            )


def init_embedding(
    weight: Tensor, *, std: float | None = None, generator: torch.Generator | None = None
) -> None:
    """Initialise an embedding table in place: Xavier-normal when ``std`` is None, else N(0, std²).

    Xavier-normal (``std = sqrt(2 / (rows + cols))``) is what RecBole uses for BPR; N(0, 0.1²) is
    the LightGCN paper's choice.
    """
    with torch.no_grad():
        if std is None:
            torch.nn.init.xavier_normal_(weight, generator=generator)
        else:
            torch.nn.init.normal_(weight, mean=0.0, std=std, generator=generator)


def batch_ego_rows(user_weight: Tensor, item_weight: Tensor, batch: Batch) -> list[Tensor]:
    """The ego embedding rows a batch touches, for the L2 penalty: ``[users [B, d], items [*, d]]``.

    Positive and negative item rows are gathered in one ``index_select`` (the squared norm of the
    concatenation equals the sum of the parts, and one gather's backward is cheaper than two).
    """
    items = torch.cat([batch.pos_items.reshape(-1), batch.neg_items.reshape(-1)])
    return [
        user_weight.index_select(0, batch.users.reshape(-1)),
        item_weight.index_select(0, items),
    ]
