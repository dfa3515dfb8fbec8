"""Training: the one fit loop, its callbacks and schedules."""

from kgrec.train.callbacks import (
    Callback,
    Checkpoint,
    CSVLogger,
    EarlyStopping,
    TimeBudget,
    load_checkpoint,
    save_checkpoint,
)
from kgrec.train.loop import TrainState, fit, make_score_fn
from kgrec.train.schedules import (
    LinearSchedule,
    LRSchedule,
    ProgressiveUnfreezing,
    Schedule,
    SelfPacedSchedule,
    StepSchedule,
)

__all__ = [
    "CSVLogger",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "LRSchedule",
    "LinearSchedule",
    "ProgressiveUnfreezing",
    "Schedule",
    "SelfPacedSchedule",
    "StepSchedule",
    "TimeBudget",
    "TrainState",
    "fit",
    "load_checkpoint",
    "make_score_fn",
    "save_checkpoint",
]
