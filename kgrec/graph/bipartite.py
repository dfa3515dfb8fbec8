"""The symmetric-normalised user-item adjacency used by LightGCN-style propagation."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor


def normalized_adjacency(
    users: np.ndarray | Tensor, items: np.ndarray | Tensor, *, num_users: int, num_items: int
) -> Tensor:
    """``D^-1/2 A D^-1/2`` of the bipartite graph as a ``(U+I) x (U+I)`` sparse CSR tensor.

    ``A = [[0, R], [R^T, 0]]`` with ``R[u, i] = 1`` for each training pair; users come first,
    items are offset by ``num_users``. Nodes with no edge keep an all-zero row (no division by
    zero). The matrix is symmetric, which lets propagation reuse it for the backward pass.
    A pair given twice counts twice (in ``R`` and in the degrees); validated datasets have none.

    Built with scipy's single-threaded CSR routines (no COO sort, no coalesce): building is
    memory-bound, and torch's threaded sort stalls when another process holds the other cores.
    """
    u = np.asarray(users.cpu() if isinstance(users, Tensor) else users, dtype=np.int64)
    i = np.asarray(items.cpu() if isinstance(items, Tensor) else items, dtype=np.int64)
    n = num_users + num_items
    r = sp.csr_matrix(
        (np.ones(u.size, dtype=np.float32), (u, i)), shape=(num_users, num_items)
    )  # sums duplicates, sorts each row's columns
    a = sp.bmat([[None, r], [r.T, None]], format="csr", dtype=np.float32)
    a.sort_indices()
    deg = np.asarray(a.sum(axis=1)).ravel()
    inv_sqrt = np.zeros(n, dtype=np.float32)
    np.power(deg, -0.5, out=inv_sqrt, where=deg > 0)
    row_of = np.repeat(np.arange(n), np.diff(a.indptr))
    values = a.data * inv_sqrt[row_of] * inv_sqrt[a.indices]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        # int32 indices: torch would convert int64 ones on every product (about 20% slower)
        return torch.sparse_csr_tensor(
            torch.from_numpy(a.indptr.astype(np.int32)),
            torch.from_numpy(a.indices.astype(np.int32)),
            torch.from_numpy(values.astype(np.float32, copy=False)),
            (n, n),
            check_invariants=False,
        )
