"""Copy pretrained tables into an encoder: by parameter name, or through the encoder's own hook.

The encoder contract has no pretraining method, and encoders live in files of their own; so
the transfer is generic:

1. an encoder that defines ``init_from_pretrained(tables) -> list[str]`` decides itself (the
   optional hook: return the names of the parameters it initialised);
2. otherwise every parameter whose name is a key of ``tables`` and whose shape matches is
   copied (``user_embedding.weight``, ``item_embedding.weight``, ``entity_embedding.weight``,
   ``relation_embedding.weight``: the names MF, LightGCN, CKE and the pretraining models share);
3. otherwise an encoder with one node table in the collaborative-KG layout of
   :mod:`kgrec.graph.ckg` (``node_embedding.weight`` ``[N, d]`` with users on rows ``0..U-1``,
   entity ``e`` on row ``U + e``, and an ``item_node`` buffer giving each item's row, as KGAT
   has) gets the user, entity and item rows written into it (items last, so an item's own
   pretrained vector wins over its entity's).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
from torch import Tensor

__all__ = ["init_from_pretrained"]

logger = logging.getLogger(__name__)

NODE_TABLE = "node_embedding.weight"


def _rescaled(value: Tensor, like: Tensor) -> Tensor:
    """``value`` scaled so its mean row norm equals ``like``'s."""
    target = like.detach().norm(dim=-1).mean()
    current = value.norm(dim=-1).mean().clamp_min(1e-12)
    return value * (target / current)


@torch.no_grad()
def init_from_pretrained(
    encoder: torch.nn.Module, tables: Mapping[str, Tensor], *, rescale: bool = False
) -> list[str]:
    """Initialise ``encoder``'s parameters from ``tables``; returns the names it wrote.

    Args:
        encoder: any module (usually a :class:`kgrec.models.Encoder`).
        tables: parameter name -> tensor (e.g. :attr:`PretrainResult.tables`).
        rescale: scale each copied table so its mean row norm equals the encoder's initial
            table's (KG embeddings are unit-norm, id tables start near 0.25: without it the
            first BPR steps would be dominated by the pretrained scale). Default False.

    Returns:
        The names of the parameters written, for :class:`kgrec.train.ProgressiveUnfreezing`.
        Nothing matching is not an error: a warning is logged and ``[]`` returned.
    """
    hook = getattr(encoder, "init_from_pretrained", None)
    if callable(hook):
        return list(hook(dict(tables)) or [])
    params = dict(encoder.named_parameters())
    copied = []
    for name, value in tables.items():
        p = params.get(name)
        if p is None or tuple(p.shape) != tuple(value.shape):
            continue
        v = value.to(device=p.device, dtype=p.dtype)
        p.copy_(_rescaled(v, p) if rescale else v)
        copied.append(name)
    if not copied and NODE_TABLE in params:
        copied = _copy_node_table(encoder, params[NODE_TABLE], tables, rescale=rescale)
    if not copied:
        logger.warning(
            "no pretrained table matched %s's parameters (tables: %s; parameters: %s)",
            type(encoder).__name__, sorted(tables), sorted(params),
        )  # fmt: skip
    return copied


def _copy_node_table(
    encoder: torch.nn.Module, table: Tensor, tables: Mapping[str, Tensor], *, rescale: bool
) -> list[str]:
    item_node = getattr(encoder, "item_node", None)
    num_users = getattr(encoder, "num_users", None)
    if not isinstance(item_node, Tensor) or num_users is None:
        return []
    n, d = table.shape
    new = table.detach().clone()
    wrote = False
    users = tables.get("user_embedding.weight")
    if users is not None and users.shape == (num_users, d):
        new[:num_users] = users.to(new)
        wrote = True
    entities = tables.get("entity_embedding.weight")
    if entities is not None and entities.shape[1] == d and num_users + len(entities) <= n:
        new[num_users : num_users + len(entities)] = entities.to(new)
        wrote = True
    items = tables.get("item_embedding.weight")
    if items is not None and items.shape == (len(item_node), d):
        new[item_node.to(new.device)] = items.to(new)
        wrote = True
    if not wrote:
        return []
    table.copy_(_rescaled(new, table) if rescale else new)
    return [NODE_TABLE]
