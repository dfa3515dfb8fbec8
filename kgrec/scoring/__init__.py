"""Scoring: the one MF head, training losses and negative samplers."""

from kgrec.scoring.head import MFHead
from kgrec.scoring.losses import bpr_loss, l2_reg
from kgrec.scoring.samplers import (
    SAMPLERS,
    NegativeSampler,
    PositiveIndex,
    UniformSampler,
    get_sampler,
)

__all__ = [
    "SAMPLERS",
    "MFHead",
    "NegativeSampler",
    "PositiveIndex",
    "UniformSampler",
    "bpr_loss",
    "get_sampler",
    "l2_reg",
]
