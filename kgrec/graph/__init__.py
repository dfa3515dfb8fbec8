"""Graph construction: training split -> HeteroData, normalised adjacency, collaborative KG."""

from kgrec.graph.bipartite import normalized_adjacency
from kgrec.graph.hetero import build_graph

__all__ = ["build_graph", "normalized_adjacency"]
