"""Data layer: readers, the validated RecDataset, splits and the embedded synthetic dataset."""

from kgrec.data.dataset import RecDataset
from kgrec.data.idmap import IdMap

__all__ = ["IdMap", "RecDataset"]
