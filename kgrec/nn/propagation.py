"""Sparse propagation ``Â X`` with a symmetric normalised adjacency, fast in both directions.

``torch.sparse.mm`` differentiates a CSR product by transposing the matrix on every backward
pass (a CSR -> CSC conversion). For a symmetric ``Â`` (LightGCN's ``D^-1/2 A D^-1/2``) the
gradient ``∂L/∂X = Â^T G = Â G`` needs no transpose: :class:`SymmetricSpMM` reuses the same CSR
matrix for the backward, so forward and backward each cost one CSR product.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["SymmetricSpMM", "check_adjacency", "propagate"]


class SymmetricSpMM(torch.autograd.Function):
    """``Y = Â X`` for a *symmetric* sparse CSR ``Â`` (constant); backward ``∂X = Â ∂Y``.

    The adjacency gets no gradient. Use through :func:`propagate`.
    """

    @staticmethod
    def forward(ctx, adj: Tensor, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.adj = adj  # a constant: kept by reference, not saved for gradient checks
        return torch.sparse.mm(adj, x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[None, Tensor | None]:  # type: ignore[override]
        if not ctx.needs_input_grad[1]:
            return None, None
        return None, torch.sparse.mm(ctx.adj, grad.contiguous())


def check_adjacency(adj: Tensor, num_nodes: int | None = None) -> None:
    """Raise ``ValueError`` unless ``adj`` is a square sparse CSR matrix (of ``num_nodes`` rows)."""
    if not isinstance(adj, Tensor) or adj.layout != torch.sparse_csr:
        layout = adj.layout if isinstance(adj, Tensor) else type(adj).__name__
        raise ValueError(
            f"expected a sparse CSR adjacency (got {layout}); convert it once with "
            "adj.to_sparse_csr() or build it with kgrec.graph.normalized_adjacency"
        )
    n, m = adj.shape
    if n != m or (num_nodes is not None and n != num_nodes):
        want = f"{num_nodes} x {num_nodes}" if num_nodes is not None else "a square matrix"
        raise ValueError(f"expected an adjacency of {want} (got {n} x {m})")


def propagate(adj: Tensor, x: Tensor, *, symmetric: bool = True) -> Tensor:
    """One propagation step ``Â X``.

    Args:
        adj: ``[N, N]`` sparse CSR matrix (float, same dtype and device as ``x``).
        x: ``[N, d]`` dense node features.
        symmetric: ``Â`` is symmetric (default), so its backward reuses ``Â`` itself. Pass False
            for a non-symmetric matrix: PyTorch's own (transposing) backward is used.

    Returns:
        ``[N, d]`` dense tensor.
    """
    if adj.shape[1] != x.shape[0]:
        raise ValueError(
            f"expected features with {adj.shape[1]} rows to match the adjacency (got {x.shape[0]})"
        )
    if not symmetric:
        return torch.sparse.mm(adj, x)
    return SymmetricSpMM.apply(adj, x)
