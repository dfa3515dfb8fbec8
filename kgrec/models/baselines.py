"""Simple baselines every graph / KG model must be reported beside.

``MostPopular``, ``ItemKNN`` (cosine item-item neighbourhoods), ``EASE`` (closed-form linear
autoencoder) and ``RandomScorer``. Each follows the same small protocol::

    model = EASE(l2=500.0).fit(train)          # hyper-parameters in the constructor, data in fit
    scores = model.score_users(users)           # LongTensor [B] -> FloatTensor [B, num_items]
    FullRankingEvaluator().evaluate(model.score_users, target=test, exclude=[train, valid])

Fitting uses numpy / scipy on the binary train matrix :math:`X \\in \\{0,1\\}^{U \\times I}`
(one entry per train pair; ratings and weights ignored); scoring returns float32 torch tensors.
Train items are not masked here: the evaluator does that.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from kgrec.data.dataset import RecDataset
from kgrec.evaluate.ranking import tie_break_hash
from kgrec.exceptions import NotFittedError

__all__ = ["EASE", "ItemKNN", "MostPopular", "RandomScorer", "interaction_matrix"]


def interaction_matrix(train: RecDataset) -> sp.csr_matrix:
    """Binary ``[num_users, num_items]`` CSR matrix (float64) of the train pairs."""
    if not isinstance(train, RecDataset):
        raise TypeError(f"fit expects a RecDataset (got {type(train).__name__})")
    inter = train.interactions
    users = inter["user"].to_numpy(dtype=np.int64)
    items = inter["item"].to_numpy(dtype=np.int64)
    x = sp.csr_matrix(
        (np.ones(users.size, dtype=np.float64), (users, items)),
        shape=(train.num_users, train.num_items),
    )
    x.sum_duplicates()
    x.data[:] = 1.0  # binary even if a pair were repeated
    return x


class _Baseline:
    """Shared plumbing: fitted check and user-index validation."""

    num_users: int | None = None
    num_items: int | None = None

    def _check_users(self, users: Tensor) -> np.ndarray:
        if self.num_users is None or self.num_items is None:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet; call .fit(train) before score_users"
            )
        u = torch.as_tensor(users)
        if u.dim() != 1 or u.dtype not in (torch.int64, torch.int32):
            raise ValueError(
                f"users must be a 1-D integer tensor (got dtype {u.dtype}, shape {tuple(u.shape)})"
            )
        arr = u.cpu().numpy().astype(np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= self.num_users):
            raise ValueError(
                f"user indices must be in [0, {self.num_users}) (got min {arr.min()}, "
                f"max {arr.max()})"
            )
        return arr


class MostPopular(_Baseline):
    """Score every item by its number of train interactions, the same for all users.

    :math:`s(u, i) = |\\{v : X_{vi} = 1\\}|`. Equal counts are ties: rank with random
    tie-breaking (the evaluator does), never by item index.
    """

    def __init__(self) -> None:
        self.item_counts: Tensor | None = None

    def fit(self, train: RecDataset) -> MostPopular:
        x = interaction_matrix(train)
        counts = np.asarray(x.sum(axis=0)).ravel()
        self.item_counts = torch.from_numpy(counts.astype(np.float32))
        self.num_users, self.num_items = train.num_users, train.num_items
        return self

    def score_users(self, users: Tensor) -> Tensor:
        """``[B] -> [B, num_items]`` float32: each row is the train count of every item."""
        u = self._check_users(users)
        assert self.item_counts is not None
        return self.item_counts.unsqueeze(0).expand(u.size, -1).clone()

    def __repr__(self) -> str:
        return "MostPopular()"


class ItemKNN(_Baseline):
    """Item-based k-nearest-neighbours with cosine similarity (as RecBole's ItemKNN).

    :math:`S_{ij} = \\frac{(X^\\top X)_{ij}}{\\lVert x_i \\rVert \\lVert x_j \\rVert + h + 10^{-6}}`
    for :math:`i \\ne j` (:math:`x_i` the item's user column, :math:`h` = ``shrink``;
    :math:`S_{ii} = 0`). For each target item j only its k most similar items i are kept
    (column-wise top-k), giving a sparse :math:`W`; :math:`s(u, j) = \\sum_i X_{ui} W_{ij}`.

    Args:
        k: neighbours kept per target item, default 200.
        shrink: added to the cosine denominator to damp similarities built on few co-occurring
            users, default 0.0.
        block_size: columns of :math:`X^\\top X` made dense at once while selecting neighbours
            (memory ``num_items x block_size`` floats), default 512.
    """

    def __init__(self, k: int = 200, shrink: float = 0.0, *, block_size: int = 512) -> None:
        if int(k) < 1:
            raise ValueError(f"k must be >= 1 (got {k})")
        if float(shrink) < 0:
            raise ValueError(f"shrink must be >= 0 (got {shrink})")
        self.k = int(k)
        self.shrink = float(shrink)
        self.block_size = int(block_size)
        self.similarity: sp.csc_matrix | None = None
        self._x: sp.csr_matrix | None = None
        self._w_t: Tensor | None = None

    def fit(self, train: RecDataset) -> ItemKNN:
        x = interaction_matrix(train)
        n_items = x.shape[1]
        xc = x.tocsc()
        gram = (xc.T @ xc).tocsc()  # co-occurrence counts, [I, I]
        norms = np.sqrt(np.asarray(xc.power(2).sum(axis=0)).ravel())
        k = min(self.k, n_items)
        rows, cols, vals = [], [], []
        for start in range(0, n_items, self.block_size):
            stop = min(start + self.block_size, n_items)
            block = gram[:, start:stop].toarray()  # [I, b]
            local = np.arange(stop - start)
            block[start + local, local] = 0.0  # no self-similarity
            block /= norms[:, None] * norms[None, start:stop] + self.shrink + 1e-6
            if k < n_items:
                top = np.argpartition(-block, k - 1, axis=0)[:k]  # [k, b]
            else:
                top = np.broadcast_to(np.arange(n_items)[:, None], block.shape)
            top_vals = np.take_along_axis(block, top, axis=0)
            keep = top_vals != 0.0
            rows.append(top[keep])
            cols.append(np.broadcast_to(local + start, top.shape)[keep])
            vals.append(top_vals[keep])
        w = sp.csc_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_items, n_items),
        )
        self.similarity = w
        self._x = x
        self._w_t = _torch_csr(w.T.tocsr())  # scores^T = W^T X_u^T
        self.num_users, self.num_items = train.num_users, train.num_items
        return self

    def score_users(self, users: Tensor) -> Tensor:
        """``[B] -> [B, num_items]`` float32: :math:`X_{u\\cdot} W`."""
        u = self._check_users(users)
        assert self._x is not None and self._w_t is not None
        xu = torch.from_numpy(self._x[u].toarray().astype(np.float32))  # [B, I]
        return torch.sparse.mm(self._w_t, xu.T).T.contiguous()

    def __repr__(self) -> str:
        return f"ItemKNN(k={self.k}, shrink={self.shrink})"


def _torch_csr(x: sp.csr_matrix) -> Tensor:
    """A scipy CSR matrix as a float32 torch CSR tensor (rows of a 0/1 interaction matrix)."""
    x = x.tocsr()
    with warnings.catch_warnings():  # torch's "sparse CSR support is in beta" notice
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(x.indptr.astype(np.int64)),
            torch.from_numpy(x.indices.astype(np.int64)),
            torch.from_numpy(x.data.astype(np.float32)),
            size=x.shape,
            check_invariants=False,  # built by scipy: sorted, in range
        )


class EASE(_Baseline):
    """EASE, Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019.

    :math:`P = (X^\\top X + \\lambda I)^{-1}`, :math:`B = I - P \\,\\mathrm{diag}(P)^{-1}`, i.e.
    :math:`B_{ij} = -P_{ij} / P_{jj}` and :math:`B_{jj} = 0`; :math:`s(u, \\cdot) = X_{u\\cdot} B`.
    Dense ``[num_items, num_items]``: fine up to a few tens of thousands of items.

    Args:
        l2: the ridge weight :math:`\\lambda`, default 500.0 (tuned on the ml-100k-kg valid
            part).
    """

    def __init__(self, l2: float = 500.0) -> None:
        if float(l2) <= 0:
            raise ValueError(f"l2 must be > 0 (got {l2})")
        self.l2 = float(l2)
        self.weights: Tensor | None = None
        self._x: sp.csr_matrix | None = None

    def fit(self, train: RecDataset) -> EASE:
        x = interaction_matrix(train)
        gram = torch.from_numpy((x.T @ x).toarray())  # float64 [I, I]
        gram.diagonal().add_(self.l2)
        # G is symmetric positive definite: invert through its Cholesky factor, in float64.
        # torch's cholesky_inverse took 0.24 s for 1,682 items on 2 cores, against 0.6 s for
        # numpy.linalg.inv and 0.9 s for scipy's cho_solve.
        # In place where torch allows: at most two [I, I] float64 matrices live at once (10 GB
        # at 25,000 items instead of 20).
        factor = torch.linalg.cholesky(gram)
        del gram
        p = torch.cholesky_inverse(factor)
        del factor
        diag = p.diagonal().clone()
        b = p.div_(diag.neg_().unsqueeze(0))  # B_ij = -P_ij / P_jj
        b.diagonal().zero_()
        self.weights = b.to(torch.float32)
        self._x = x
        self.num_users, self.num_items = train.num_users, train.num_items
        return self

    def score_users(self, users: Tensor) -> Tensor:
        """``[B] -> [B, num_items]`` float32: :math:`X_{u\\cdot} B`."""
        u = self._check_users(users)
        assert self._x is not None and self.weights is not None
        return torch.sparse.mm(_torch_csr(self._x[u]), self.weights)  # O(nnz(X_u) * I)

    def __repr__(self) -> str:
        return f"EASE(l2={self.l2})"


class RandomScorer(_Baseline):
    """Uniform random scores, a fixed function of ``(seed, user, item)``.

    :math:`s(u, i) = h(\\mathrm{seed}, u, i) / 2^{24} \\in [0, 1)` with a 24-bit integer hash, so
    the same user gets the same scores in every batch. The floor every model must clear.

    Args:
        seed: default 0.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)

    def fit(self, train: RecDataset) -> RandomScorer:
        if not isinstance(train, RecDataset):
            raise TypeError(f"fit expects a RecDataset (got {type(train).__name__})")
        self.num_users, self.num_items = train.num_users, train.num_items
        return self

    def score_users(self, users: Tensor) -> Tensor:
        """``[B] -> [B, num_items]`` float32 in ``[0, 1)``."""
        u = self._check_users(users)
        assert self.num_items is not None
        h = tie_break_hash(torch.from_numpy(u), torch.arange(self.num_items), seed=self.seed)
        return (h >> 7).to(torch.float32) / float(1 << 24)

    def __repr__(self) -> str:
        return f"RandomScorer(seed={self.seed})"
