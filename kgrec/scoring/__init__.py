"""Scoring: the one MF head, training losses, extra loss terms and negative samplers."""

from kgrec.scoring.contrastive import SGLLoss, SimGCLLoss, edge_dropout_view, info_nce
from kgrec.scoring.head import MFHead
from kgrec.scoring.losses import LossTerm, bpr_loss, l2_reg
from kgrec.scoring.samplers import (
    SAMPLERS,
    DynamicNegativeSampler,
    MixedSampler,
    NegativeSampler,
    PairScorer,
    PopularitySampler,
    PositiveIndex,
    UniformSampler,
    get_sampler,
    register_sampler,
)

__all__ = [
    "SAMPLERS",
    "DynamicNegativeSampler",
    "LossTerm",
    "MFHead",
    "MixedSampler",
    "NegativeSampler",
    "PairScorer",
    "PopularitySampler",
    "PositiveIndex",
    "SGLLoss",
    "SimGCLLoss",
    "UniformSampler",
    "bpr_loss",
    "edge_dropout_view",
    "get_sampler",
    "info_nce",
    "l2_reg",
    "register_sampler",
]
