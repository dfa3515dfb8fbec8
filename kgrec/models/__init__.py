"""Encoders: training graph -> (user embeddings, item embeddings), one contract for all."""

from kgrec.models.base import Batch, Encoder
from kgrec.models.cke import CKE
from kgrec.models.kgat import KGAT
from kgrec.models.kgin import KGIN
from kgrec.models.kglightgcn import KGLightGCN
from kgrec.models.lightgcn import AttributeLightGCN, LightGCN
from kgrec.models.mf import MF, AttributeMF
from kgrec.models.registry import ENCODERS, get_encoder, register_encoder

__all__ = [
    "ENCODERS",
    "AttributeLightGCN",
    "AttributeMF",
    "Batch",
    "CKE",
    "Encoder",
    "KGAT",
    "KGIN",
    "KGLightGCN",
    "LightGCN",
    "MF",
    "get_encoder",
    "register_encoder",
]
