"""Callbacks of the fit loop: small objects with ``on_fit_start`` / ``on_epoch_end`` /
``on_fit_end`` hooks that receive the loop's :class:`~kgrec.train.loop.TrainState`.

A callback may ask the loop to stop by setting ``state.stop = True``. One whose behaviour
depends on the past returns that past from ``state_dict()``: checkpoints save it and a resumed
run hands it back through ``load_state_dict``.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor

if TYPE_CHECKING:
    from kgrec.train.loop import TrainState

__all__ = [
    "CSVLogger",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "TimeBudget",
    "load_checkpoint",
    "save_checkpoint",
]

logger = logging.getLogger(__name__)


class Callback:
    """Base class: every hook does nothing."""

    def on_fit_start(self, state: TrainState) -> None:
        """After the state is built (and restored from a checkpoint), before the first epoch."""

    def on_epoch_start(self, state: TrainState) -> None:
        """Before each epoch; the epoch about to run is ``state.epoch + 1``.

        The hook of schedules (curricula, learning rate, unfreezing): what it sets must be a
        function of the epoch and of the callback's own ``state_dict``, so resumed runs match.
        Entries put in ``state.epoch_info`` (e.g. the value a schedule set) join the epoch's
        history record.
        """

    def on_epoch_end(self, state: TrainState) -> None:
        """After each epoch; ``state.history[-1]`` is that epoch's record."""

    def on_fit_end(self, state: TrainState) -> None:
        """After the last epoch, before the best weights are restored into the encoder."""

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must keep for an identical resumed run (tensors, plain types)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class EarlyStopping(Callback):
    """Track a validation metric, keep the best weights, stop after ``patience`` bad epochs.

    An epoch improves when ``value > best + min_delta`` (``mode="max"``) or
    ``value < best - min_delta`` (``mode="min"``); after ``patience`` evaluations in a row without
    improvement it sets ``state.stop``. ``patience=None`` never stops but still keeps the best
    weights. :meth:`restore` loads them back into a module (the fit loop does this at the end).

    Args:
        metric: a key of the epoch record, e.g. ``"valid_ndcg@20"``.
        patience: default 10 (RecBole's ``stopping_step`` 10 waits one evaluation longer).
    """

    def __init__(
        self,
        metric: str,
        *,
        patience: int | None = 10,
        mode: Literal["max", "min"] = "max",
        min_delta: float = 0.0,
    ) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min' (got {mode!r})")
        if patience is not None and patience < 1:
            raise ValueError(f"expected patience >= 1 or None (got {patience})")
        self.metric = metric
        self.patience = patience
        self.mode = mode
        self.min_delta = float(min_delta)
        self.best: float | None = None
        self.best_epoch: int = -1
        self.wait: int = 0
        self.best_state: dict[str, Tensor] | None = None

    def _improves(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "max":
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_epoch_end(self, state: TrainState) -> None:
        record = state.history[-1]
        if self.metric not in record:
            raise KeyError(
                f"early stopping expected {self.metric!r} in the epoch record "
                f"(got {sorted(record)})"
            )
        value = float(record[self.metric])
        if self._improves(value):
            self.best, self.best_epoch, self.wait = value, int(record["epoch"]), 0
            self.best_state = {k: v.detach().clone() for k, v in state.encoder.state_dict().items()}
        else:
            self.wait += 1
            if self.patience is not None and self.wait >= self.patience:
                state.stop = True
                state.stop_reason = (
                    f"no {self.metric} improvement for {self.wait} epochs "
                    f"(best {self.best:.5f} at epoch {self.best_epoch})"
                )

    def restore(self, module: torch.nn.Module) -> bool:
        """Load the best weights into ``module``; False when there are none yet."""
        if self.best_state is None:
            return False
        module.load_state_dict(self.best_state)
        return True

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.wait = state["wait"]
        self.best_state = state["best_state"]


class TimeBudget(Callback):
    """Stop after the epoch in which the fit's training time passed ``seconds``.

    The time counts the epochs' ``seconds`` and ``eval_seconds`` in the history, so a resumed
    run spends only what is left. With validation the best epoch's weights are still restored.
    """

    def __init__(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"expected a time budget > 0 seconds (got {seconds})")
        self.seconds = float(seconds)

    def on_epoch_end(self, state: TrainState) -> None:
        spent = sum(r.get("seconds", 0.0) + r.get("eval_seconds", 0.0) for r in state.history)
        if spent >= self.seconds and not state.stop:
            state.stop = True
            state.stop_reason = f"time budget of {self.seconds:g} s spent ({spent:.1f} s)"


def save_checkpoint(obj: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, then ``os.replace``: a reader
    (or a crash) never sees a half-written checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only``: no pickle code)."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)


class Checkpoint(Callback):
    """Write the whole training state to ``path`` after every epoch and at the end.

    The file holds the encoder, optimizer, generator and global RNG states, the sampler's and
    callbacks' states (early stopping's best weights among them) and the history: ``fit(...,
    resume=True)`` continues from it exactly as if never interrupted.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def on_epoch_end(self, state: TrainState) -> None:
        save_checkpoint(state.state_dict(), self.path)

    def on_fit_end(self, state: TrainState) -> None:
        save_checkpoint(state.state_dict(), self.path)


class CSVLogger(Callback):
    """Rewrite the history as CSV at ``path`` after every epoch (atomic replace)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _write(self, state: TrainState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        state.history_frame().to_csv(tmp, index=False)
        os.replace(tmp, self.path)

    def on_epoch_end(self, state: TrainState) -> None:
        self._write(state)

    def on_fit_end(self, state: TrainState) -> None:
        self._write(state)
