"""Knowledge-graph embedding pretraining: TransE and TransR on a dataset's triples.

The pretrained entity vectors initialise the item (and, through them, user) tables of an
encoder before the recommendation fit (:func:`kgrec.pretrain.init_from_pretrained`): items that
share genres, directors or actors start close together.

Both models follow PyKEEN's split into representations plus an interaction function, with
``f(h, r, t)`` a plausibility score (higher = more plausible), trained with the margin ranking
loss of the papers over uniformly corrupted triples::

    L = mean_b max(0, γ - f(h, r, t) + f(h', r, t'))

where ``(h', t')`` replaces the head or the tail (each with probability 1/2) by a uniformly
drawn entity. Adam replaces the papers' SGD (fewer epochs for a short pretraining run).
Everything is vectorised over a batch of triples; there is no loop over entities or triples.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from kgrec.data.dataset import RecDataset

__all__ = ["KGMethod", "PretrainResult", "TransE", "TransR", "pretrain_kg", "tables_from_entities"]

logger = logging.getLogger(__name__)

KGMethod = Literal["transe", "transr"]


@dataclass
class PretrainResult:
    """What a pretraining run returns.

    Attributes:
        tables: parameter name -> tensor, e.g. ``user_embedding.weight`` ``[U, d]``,
            ``item_embedding.weight`` ``[I, d]``, ``entity_embedding.weight`` ``[E, d]``,
            ``relation_embedding.weight``; copied into an encoder by
            :func:`~kgrec.pretrain.init_from_pretrained` where names and shapes match.
        history: one row per epoch (``epoch``, ``loss``, ``seconds`` and the method's own
            columns).
        method: ``"mf"``, ``"transe"`` or ``"transr"``.
        model: the trained module (for inspection).
    """

    tables: dict[str, Tensor]
    history: pd.DataFrame
    method: str
    model: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class TransE(torch.nn.Module):
    """TransE (Bordes et al., "Translating Embeddings for Modeling Multi-relational Data",
    NeurIPS 2013): a relation is a translation, ``e_h + w_r ≈ e_t``.

    ``f(h, r, t) = -||e_h + w_r - e_t||_p``. Entities are renormalised to unit L2 norm after
    every step (the paper's constraint, :meth:`constrain_`).

    Args:
        num_entities, num_relations: table sizes.
        embedding_dim: ``d``, default 64. p_norm: 1 (default) or 2.
    """

    def __init__(
        self, num_entities: int, num_relations: int, *, embedding_dim: int = 64, p_norm: int = 1
    ) -> None:
        super().__init__()
        if num_entities < 1 or num_relations < 1 or embedding_dim < 1 or p_norm not in (1, 2):
            raise ValueError(
                "expected num_entities, num_relations, embedding_dim >= 1 and p_norm 1 or 2 "
                f"(got {num_entities}, {num_relations}, {embedding_dim}, {p_norm})"
            )
        self.p_norm = p_norm
        self.entity_embedding = torch.nn.Embedding(num_entities, embedding_dim)
        self.relation_embedding = torch.nn.Embedding(num_relations, embedding_dim)

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """The paper's initialisation: ``U(-6/√d, 6/√d)``, relations then normalised."""
        bound = 6.0 / math.sqrt(self.entity_embedding.embedding_dim)
        with torch.no_grad():
            for table in (self.entity_embedding.weight, self.relation_embedding.weight):
                table.uniform_(-bound, bound, generator=generator)
            self.relation_embedding.weight.copy_(
                F.normalize(self.relation_embedding.weight, dim=-1)
            )
        self.constrain_()

    def score(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        """``f(h, r, t)`` for index tensors of one shape; returns that shape."""
        e = self.entity_embedding.weight
        x = e[h] + self.relation_embedding.weight[r] - e[t]
        return -x.norm(p=self.p_norm, dim=-1)

    def score_tails(self, h: Tensor, r: Tensor) -> Tensor:
        """``f(h[b], r[b], t)`` for every entity ``t``: ``[B, E]``."""
        q = self.entity_embedding.weight[h] + self.relation_embedding.weight[r]
        return -torch.cdist(q, self.entity_embedding.weight, p=float(self.p_norm))

    @torch.no_grad()
    def constrain_(self) -> None:
        """Renormalise entity vectors to unit L2 norm."""
        w = self.entity_embedding.weight
        w.copy_(F.normalize(w, dim=-1))

    def entity_vectors(self) -> Tensor:
        return self.entity_embedding.weight.detach().clone()


class TransR(torch.nn.Module):
    """TransR (Lin et al., "Learning Entity and Relation Embeddings for Knowledge Graph
    Completion", AAAI 2015): entities live in ``R^d``, each relation has its own space ``R^k``
    reached by a projection ``M_r ∈ R^{d×k}``.

    ``f(h, r, t) = -||e_h M_r + w_r - e_t M_r||²₂``; constraints ``||e|| ≤ 1``, ``||w_r|| ≤ 1``
    (rows renormalised after every step when above 1). ``M_r`` starts as the identity (when
    ``k = d``), so training starts from TransE's geometry as the paper's initialisation does.
    A batch gathers ``[B, d, k]`` projections and uses one batched product (``(e_h - e_t) M_r``,
    by linearity).

    Args:
        num_entities, num_relations: table sizes.
        embedding_dim: ``d``, default 64. relation_dim: ``k``, default ``d``.
    """

    def __init__(
        self,
        num_entities: int,
        num_relations: int,
        *,
        embedding_dim: int = 64,
        relation_dim: int | None = None,
    ) -> None:
        super().__init__()
        k = embedding_dim if relation_dim is None else int(relation_dim)
        if num_entities < 1 or num_relations < 1 or embedding_dim < 1 or k < 1:
            raise ValueError(
                "expected num_entities, num_relations, embedding_dim, relation_dim >= 1 "
                f"(got {num_entities}, {num_relations}, {embedding_dim}, {k})"
            )
        self.entity_embedding = torch.nn.Embedding(num_entities, embedding_dim)
        self.relation_embedding = torch.nn.Embedding(num_relations, k)
        self.relation_projection = torch.nn.Parameter(torch.empty(num_relations, embedding_dim, k))

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        d, k = self.relation_projection.shape[1:]
        with torch.no_grad():
            bound = 6.0 / math.sqrt(d)
            self.entity_embedding.weight.uniform_(-bound, bound, generator=generator)
            self.relation_embedding.weight.uniform_(-bound, bound, generator=generator)
            eye = torch.eye(d, k)
            self.relation_projection.copy_(eye.expand_as(self.relation_projection))
        self.constrain_()

    def _project(self, e: Tensor, r: Tensor) -> Tensor:
        """``e [B, d]`` projected by ``M_r`` for ``r [B]``: ``[B, k]``."""
        return torch.bmm(e.unsqueeze(1), self.relation_projection[r]).squeeze(1)

    def score(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        shape = h.shape
        h, r, t = h.reshape(-1), r.reshape(-1), t.reshape(-1)
        e = self.entity_embedding.weight
        x = self._project(e[h] - e[t], r) + self.relation_embedding.weight[r]
        return -x.pow(2).sum(-1).view(shape)

    def score_tails(self, h: Tensor, r: Tensor) -> Tensor:
        """``f(h[b], r[b], t)`` for every entity ``t``: ``[B, E]``.

        All entities are projected once per distinct relation of the batch (``E x k`` each; a
        loop over relations, never over entities), so memory stays ``O(E k + B E)``.
        """
        e = self.entity_embedding.weight
        out = e.new_empty(len(h), len(e))
        for rel in torch.unique(r).tolist():
            rows = (r == rel).nonzero().view(-1)
            proj = self.relation_projection[rel]  # [d, k]
            all_t = e @ proj  # [E, k]
            q = e[h[rows]] @ proj + self.relation_embedding.weight[rel]  # [b, k]
            out[rows] = -torch.cdist(q, all_t).pow(2)
        return out

    @torch.no_grad()
    def constrain_(self) -> None:
        for w in (self.entity_embedding.weight, self.relation_embedding.weight):
            norms = w.norm(dim=-1, keepdim=True).clamp_min(1.0)
            w.div_(norms)

    def entity_vectors(self) -> Tensor:
        return self.entity_embedding.weight.detach().clone()


def _triples(train: RecDataset) -> Tensor:
    t = train.triples
    return torch.from_numpy(
        np.stack([t["head"].to_numpy(), t["relation"].to_numpy(), t["tail"].to_numpy()], 1).astype(
            np.int64
        )
    )


@torch.no_grad()
def tail_ranks(model: TransE | TransR, triples: Tensor, *, chunk: int = 256) -> Tensor:
    """Raw rank (1 = best; ties count against) of each true tail among all entities: ``[n]``."""
    ranks = []
    for start in range(0, len(triples), chunk):
        h, r, t = triples[start : start + chunk].T
        scores = model.score_tails(h, r)
        true = scores.gather(1, t[:, None])
        ranks.append((scores >= true).sum(1))
    return torch.cat(ranks) if ranks else torch.zeros(0, dtype=torch.long)


def tables_from_entities(
    train: RecDataset, entity_vectors: Tensor, *, generator: torch.Generator | None = None
) -> dict[str, Tensor]:
    """Item and user tables from entity vectors ``[E, d]``.

    ``item_embedding.weight[i] = entity_vectors[item_entity[i]]`` for linked items; items
    without an entity get ``N(0, σ²)`` rows with ``σ`` the standard deviation of the linked
    rows (they have nothing to inherit). ``user_embedding.weight[u]`` is the mean of the item
    rows of ``u``'s *training* interactions (one sparse product; users without one get random
    rows), so scores ``<e_u, e_i>`` start as a content-based profile match.
    """
    d = entity_vectors.shape[1]
    item_entity = torch.as_tensor(np.asarray(train.item_entity, dtype=np.int64))
    linked = item_entity >= 0
    items = torch.empty(train.num_items, d)
    sigma = (
        float(entity_vectors[item_entity[linked]].std())
        if bool(linked.any())
        else float(entity_vectors.std())
    )
    items[~linked] = torch.randn(int((~linked).sum()), d, generator=generator) * sigma
    items[linked] = entity_vectors[item_entity[linked]]
    inter = train.interactions
    u = torch.as_tensor(inter["user"].to_numpy().astype(np.int64))
    i = torch.as_tensor(inter["item"].to_numpy().astype(np.int64))
    counts = torch.bincount(u, minlength=train.num_users).to(torch.float32)
    users = torch.zeros(train.num_users, d).index_add_(0, u, items[i])
    has = counts > 0
    users[has] /= counts[has, None]
    users[~has] = torch.randn(int((~has).sum()), d, generator=generator) * sigma
    return {"item_embedding.weight": items, "user_embedding.weight": users}


def pretrain_kg(
    train: RecDataset,
    *,
    method: KGMethod = "transe",
    embedding_dim: int = 64,
    relation_dim: int | None = None,
    epochs: int = 20,
    batch_size: int = 4096,
    lr: float = 1e-2,
    margin: float = 1.0,
    p_norm: int = 1,
    eval_triples: int = 500,
    seed: int = 2026,
    run_dir: str | Path | None = None,
    device: str | torch.device | None = None,
) -> PretrainResult:
    """Train TransE or TransR on ``train.triples`` and return tables for an encoder.

    Each epoch shuffles the triples (a ``torch.Generator`` seeded with ``seed``), and for each
    batch corrupts the head or the tail of every triple with a uniform entity and takes an Adam
    step on the margin ranking loss (module docstring), then applies the model's norm
    constraint. After each epoch the raw rank of the true tail among all entities is measured
    on ``eval_triples`` fixed training triples (``mrr`` and ``hits@10`` columns: evidence that the
    embedding learned the KG, not a link-prediction benchmark).

    Args:
        train: the training part (its triples, item alignment and training pairs).
        method: ``"transe"`` (default) or ``"transr"``.
        embedding_dim: ``d`` (default 64); must equal the target encoder's table width.
        relation_dim: TransR's ``k`` (default ``d``).
        epochs: default 20. batch_size: default 4096. lr: Adam, default 1e-2.
        margin: ``γ``, default 1.0. p_norm: TransE's norm, default 1.
        eval_triples: triples ranked after each epoch (0: none), default 500.
        seed: default 2026 (initialisation, shuffling, corruption).
        run_dir: when given, the history is written to ``run_dir/history.csv``.
        device: where the model trains (default the CPU; the random draws stay on the CPU
            generator, so a seed gives the same batches on every device). Tables come back on
            the CPU.

    Returns:
        :class:`PretrainResult` with ``entity_embedding.weight`` ``[E, d]``,
        ``relation_embedding.weight``, ``item_embedding.weight`` ``[I, d]`` and
        ``user_embedding.weight`` ``[U, d]`` (:func:`tables_from_entities`).
    """
    method = method.lower()  # type: ignore[assignment]
    if method not in ("transe", "transr"):
        raise ValueError(f"unknown KG method {method!r}; valid: transe, transr")
    if epochs < 0 or batch_size < 1 or lr <= 0 or margin < 0:
        raise ValueError(
            f"expected epochs >= 0, batch_size >= 1, lr > 0, margin >= 0 (got {epochs}, {batch_size}, {lr}, {margin})"
        )
    triples = _triples(train)
    if len(triples) == 0:
        raise ValueError(
            f"{method} pretraining expected KG triples in the dataset (got none); use pretrain='mf'"
        )
    num_entities, num_relations = max(train.num_entities, 1), max(train.num_relations, 1)
    gen = torch.Generator().manual_seed(int(seed))
    model: TransE | TransR
    if method == "transe":
        model = TransE(num_entities, num_relations, embedding_dim=embedding_dim, p_norm=p_norm)
    else:
        model = TransR(
            num_entities, num_relations, embedding_dim=embedding_dim, relation_dim=relation_dim
        )
    model.reset_parameters(generator=gen)
    device = torch.device(device if device is not None else "cpu")
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(triples)
    probe = triples[torch.randperm(n, generator=gen)[: min(eval_triples, n)]].to(device)
    history: list[dict[str, float]] = []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        total, batches = 0.0, 0
        for start in range(0, n, batch_size):
            h, r, t = triples[perm[start : start + batch_size]].to(device).T
            corrupt = torch.randint(num_entities, h.shape, generator=gen).to(device)
            head_side = (torch.rand(h.shape, generator=gen) < 0.5).to(device)
            h_neg = torch.where(head_side, corrupt, h)
            t_neg = torch.where(head_side, t, corrupt)
            loss = F.relu(margin - model.score(h, r, t) + model.score(h_neg, r, t_neg)).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            model.constrain_()
            total += loss.item()
            batches += 1
        record: dict[str, float] = {"epoch": epoch, "loss": total / max(batches, 1)}
        if len(probe):
            ranks = tail_ranks(model, probe).double().cpu()
            record["mrr"] = float((1.0 / ranks).mean())
            record["hits@10"] = float((ranks <= 10).double().mean())
        record["seconds"] = time.perf_counter() - t0
        history.append(record)
        logger.info("%s epoch %d loss %.5f", method, epoch, record["loss"])
    frame = pd.DataFrame(history)
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        frame.to_csv(Path(run_dir) / "history.csv", index=False)
    entities = model.entity_vectors().cpu()
    tables = {
        "entity_embedding.weight": entities,
        "relation_embedding.weight": model.relation_embedding.weight.detach().cpu().clone(),
        **tables_from_entities(train, entities, generator=gen),
    }
    if isinstance(model, TransR):
        tables["relation_projection"] = model.relation_projection.detach().cpu().clone()
    return PretrainResult(tables=tables, history=frame, method=method, model=model)
