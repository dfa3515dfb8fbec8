"""Encoders: training graph -> (user embeddings, item embeddings), one contract for all."""

from kgrec.models.base import Batch, Encoder
from kgrec.models.lightgcn import LightGCN
from kgrec.models.mf import MF
from kgrec.models.registry import ENCODERS, get_encoder, register_encoder

__all__ = ["ENCODERS", "Batch", "Encoder", "LightGCN", "MF", "get_encoder", "register_encoder"]
