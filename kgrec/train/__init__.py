"""Training: the one fit loop and its callbacks."""

from kgrec.train.callbacks import (
    Callback,
    Checkpoint,
    CSVLogger,
    EarlyStopping,
    load_checkpoint,
    save_checkpoint,
)
from kgrec.train.loop import TrainState, fit, make_score_fn

__all__ = [
    "CSVLogger",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "TrainState",
    "fit",
    "load_checkpoint",
    "make_score_fn",
    "save_checkpoint",
]
