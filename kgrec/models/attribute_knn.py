"""Attribute-kNN: a content-based baseline over the knowledge graph (cold items included).

Each item is described by its attribute entities (the KG neighbours of its aligned entity, as in
:mod:`kgrec.graph.links`), weighted by TF-IDF; a user's profile is the sum of the normalised
vectors of the items they interacted with in train; an item scores the cosine of its vector to
the profile. Items with no interaction are scored like any other, which makes this the simplest
cold-start baseline every cold-start model must beat.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from kgrec.data.dataset import RecDataset
from kgrec.models.baselines import _Baseline, interaction_matrix

__all__ = ["AttributeKNN", "item_attribute_matrix"]


def item_attribute_matrix(dataset: RecDataset) -> sp.csr_matrix:
    """Binary ``[num_items, num_entities]`` CSR: ``X[i, e] = 1`` for each attribute ``e`` of ``i``.

    The attributes of item ``i`` are the KG neighbours, in either direction, of its aligned
    entity ``e(i)``, without ``e(i)`` itself; items without an entity have none. Item attribute
    columns read from files (``genre=Comedy``) are triples from ``e(i)``, so they count.
    """
    n_items, n_ent = dataset.num_items, dataset.num_entities
    head = dataset.triples["head"].to_numpy(dtype=np.int64)
    tail = dataset.triples["tail"].to_numpy(dtype=np.int64)
    ones = np.ones(2 * head.size, dtype=np.float64)
    kg = sp.csr_matrix(
        (ones, (np.concatenate([head, tail]), np.concatenate([tail, head]))), shape=(n_ent, n_ent)
    )
    linked = np.flatnonzero(dataset.item_entity >= 0)
    align = sp.csr_matrix(
        (np.ones(linked.size), (linked, dataset.item_entity[linked])), shape=(n_items, n_ent)
    )
    x = (align @ kg).tocsr()
    x = x - x.multiply(align)  # never the item's own entity (a KG self loop would add it)
    x.eliminate_zeros()
    x.data[:] = 1.0
    return x


class AttributeKNN(_Baseline):
    """Content-based scores from the KG: TF-IDF user profiles against item attribute vectors.

    With ``X`` the binary item x attribute matrix (:func:`item_attribute_matrix`), attributes
    linked to fewer than ``min_links`` items dropped, ``idf_e = log(I / df_e)`` over the whole
    catalogue (cold items' attributes are known, their interactions are not),
    ``x̂_i = (X_i ⊙ idf) / ||X_i ⊙ idf||``, the profile ``p_u = Σ_{i ∈ train(u)} x̂_i`` and

    .. math::  s(u, i) = \\cos(p_u, \\hat x_i) \\propto \\langle p_u, \\hat x_i \\rangle

    (the per-user factor ``1 / ||p_u||`` does not change a user's ranking and is left out).
    Items without attributes score 0.

    Args:
        min_links: attributes linked to fewer items are dropped, default 2 (an attribute of a
            single item can match no other item; it only dilutes the norms).
        idf: weight attributes by inverse document frequency (default True); False uses binary
            weights.
    """

    def __init__(self, min_links: int = 2, *, idf: bool = True) -> None:
        if int(min_links) < 1:
            raise ValueError(f"min_links must be >= 1 (got {min_links})")
        self.min_links = int(min_links)
        self.idf = bool(idf)
        self.item_vectors: sp.csr_matrix | None = None
        self._profiles: sp.csr_matrix | None = None
        self._vectors: Tensor | None = None

    def fit(self, train: RecDataset) -> AttributeKNN:
        x = interaction_matrix(train)  # also checks the type
        attrs = item_attribute_matrix(train)
        df = np.asarray(attrs.sum(axis=0)).ravel()
        keep = df >= self.min_links
        weights = np.where(
            keep, np.log(train.num_items / np.maximum(df, 1.0)) if self.idf else 1.0, 0.0
        )
        v = attrs.multiply(weights[None, :]).tocsr()
        norms = np.sqrt(np.asarray(v.multiply(v).sum(axis=1)).ravel())
        v = sp.diags(np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)) @ v
        v = v.tocsr()
        v.eliminate_zeros()
        self.item_vectors = v.astype(np.float32)
        self._profiles = (x @ v).tocsr().astype(np.float32)  # [U, E]
        with warnings.catch_warnings():  # torch's "sparse CSR support is in beta" notice
            warnings.simplefilter("ignore", UserWarning)
            self._vectors = torch.sparse_csr_tensor(  # X̂ [I, E]: scores^T = X̂ p_u^T
                torch.from_numpy(v.indptr.astype(np.int64)),
                torch.from_numpy(v.indices.astype(np.int64)),
                torch.from_numpy(v.data.astype(np.float32)),
                size=v.shape,
                check_invariants=False,  # built by scipy: sorted, in range
            )
        self.num_users, self.num_items = train.num_users, train.num_items
        return self

    def score_users(self, users: Tensor) -> Tensor:
        """``[B] -> [B, num_items]`` float32: :math:`\\langle p_u, \\hat x_i \\rangle`."""
        u = self._check_users(users)
        assert self._profiles is not None and self._vectors is not None
        profiles = torch.from_numpy(self._profiles[u].toarray())  # [B, E]
        return torch.sparse.mm(self._vectors, profiles.T).T.contiguous()  # X̂ [I, E] @ p^T

    def __repr__(self) -> str:
        return f"AttributeKNN(min_links={self.min_links}, idf={self.idf})"
