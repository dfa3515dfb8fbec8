"""kgrec: graph and knowledge-graph recommendation on PyTorch Geometric."""

from kgrec.data.dataset import RecDataset

__version__ = "0.1.0"
__all__ = ["RecDataset", "__version__"]
