"""Scoring: the one MF head, training losses, extra loss terms and negative samplers."""

from kgrec.scoring.contrastive import SGLLoss, SimGCLLoss, edge_dropout_view, info_nce
from kgrec.scoring.head import MFHead
from kgrec.scoring.losses import (
    RANKING_LOSSES,
    BPRLoss,
    LossTerm,
    RankingLoss,
    SampledSoftmaxLoss,
    SoftmaxLoss,
    bpr_loss,
    get_ranking_loss,
    l2_reg,
)
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
    "RANKING_LOSSES",
    "SAMPLERS",
    "BPRLoss",
    "DynamicNegativeSampler",
    "LossTerm",
    "MFHead",
    "MixedSampler",
    "NegativeSampler",
    "PairScorer",
    "PopularitySampler",
    "PositiveIndex",
    "RankingLoss",
    "SampledSoftmaxLoss",
    "SGLLoss",
    "SimGCLLoss",
    "SoftmaxLoss",
    "UniformSampler",
    "bpr_loss",
    "edge_dropout_view",
    "get_ranking_loss",
    "get_sampler",
    "info_nce",
    "l2_reg",
    "register_sampler",
]
