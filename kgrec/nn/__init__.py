"""Reusable layers and operators shared by encoders."""

from kgrec.nn.propagation import SymmetricSpMM, check_adjacency, propagate

__all__ = ["SymmetricSpMM", "check_adjacency", "propagate"]
