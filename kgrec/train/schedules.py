"""Schedules: callbacks that change a training setting before each epoch.

Each is a :class:`~kgrec.train.Callback` whose ``on_epoch_start`` sets something for the epoch
about to run (``e = state.epoch + 1``) and records the value in the epoch's history row:

- curricula, easy to hard (Bengio et al., "Curriculum Learning", ICML 2009): an attribute of any
  object (usually the negative sampler's hardness: ``MixedSampler.hard_fraction``,
  ``DynamicNegativeSampler.num_candidates``) follows :class:`LinearSchedule`,
  :class:`StepSchedule` or :class:`SelfPacedSchedule` (which raises the hardness when the
  monitored validation metric or training loss stops improving, in the spirit of self-paced
  learning, Kumar et al., NeurIPS 2010: the learner's own progress sets the pace);
- :class:`LRSchedule`: learning-rate warm-up, then constant / cosine / linear / exponential /
  step decay;
- :class:`ProgressiveUnfreezing`: named parameters (e.g. pretrained embedding tables) frozen for
  their first epochs, then released (Howard & Ruder, "ULMFiT", ACL 2018).

Everything a schedule sets is a function of the epoch and of its own ``state_dict`` (saved in
checkpoints), so a resumed run sets exactly what the uninterrupted one did. A schedule that
learns from the history reads the previous epoch's record in ``on_epoch_start`` rather than in
``on_epoch_end``: extra callbacks run after the built-in ``Checkpoint``, so state changed in
``on_epoch_end`` would be saved one epoch late.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from kgrec.train.callbacks import Callback

if TYPE_CHECKING:
    from kgrec.train.loop import TrainState

__all__ = [
    "LRSchedule",
    "LinearSchedule",
    "ProgressiveUnfreezing",
    "Schedule",
    "SelfPacedSchedule",
    "StepSchedule",
]


class Schedule(Callback):
    """Set ``target.<attribute> = value(epoch)`` before each epoch.

    Subclasses implement :meth:`value`. When the attribute currently holds an ``int`` (e.g. a
    candidate count) the value is rounded to the nearest int. The value also goes into the
    epoch's history row under ``name`` (default: the attribute's name).

    Args:
        target: the object to change (a sampler, a loss term, ...).
        attribute: the attribute's name; it must exist.
        name: the history column, default ``attribute``.
    """

    def __init__(self, target: Any, attribute: str, *, name: str | None = None) -> None:
        if not hasattr(target, attribute):
            raise AttributeError(
                f"{type(self).__name__} expected {type(target).__name__} to have an attribute "
                f"{attribute!r}; choose one of {sorted(k for k in vars(target) if not k.startswith('_'))}"
            )
        self.target = target
        self.attribute = attribute
        self.name = name or attribute
        current = getattr(target, attribute)
        self.integer = isinstance(current, int) and not isinstance(current, bool)
        self.current: float | None = None

    def value(self, epoch: int, state: TrainState | None = None) -> float:
        """The value for 0-based ``epoch``."""
        raise NotImplementedError

    def on_epoch_start(self, state: TrainState) -> None:
        v = self.value(state.epoch + 1, state)
        self.current = v
        setattr(self.target, self.attribute, int(round(v)) if self.integer else float(v))
        state.epoch_info[self.name] = float(getattr(self.target, self.attribute))


class LinearSchedule(Schedule):
    """``start`` for the first ``delay`` epochs, then a straight line to ``end`` over ``epochs``.

    ``v(e) = start + (end - start) · clip((e - delay) / epochs, 0, 1)``; ``epochs = 0`` jumps to
    ``end`` at ``delay``.

    Args:
        target, attribute, name: see :class:`Schedule`.
        start, end: the values at the ramp's ends.
        epochs: the ramp's length (default 20). delay: epochs at ``start`` first (default 0).
    """

    def __init__(
        self,
        target: Any,
        attribute: str,
        *,
        start: float,
        end: float,
        epochs: int = 20,
        delay: int = 0,
        name: str | None = None,
    ) -> None:
        super().__init__(target, attribute, name=name)
        if epochs < 0 or delay < 0:
            raise ValueError(f"expected epochs >= 0 and delay >= 0 (got {epochs}, {delay})")
        self.start, self.end = float(start), float(end)
        self.epochs, self.delay = int(epochs), int(delay)

    def value(self, epoch: int, state: TrainState | None = None) -> float:
        if epoch < self.delay:
            return self.start
        progress = 1.0 if self.epochs == 0 else min(1.0, (epoch - self.delay) / self.epochs)
        return self.start + (self.end - self.start) * progress


class StepSchedule(Schedule):
    """Piecewise constant: ``values[k]`` from epoch ``milestones[k - 1]`` on (``values[0]`` first).

    Example: ``StepSchedule(sampler, "num_candidates", values=[1, 4, 16], milestones=[5, 15])``
    gives 1 for epochs 0-4, 4 for 5-14 and 16 from 15 on.

    Args:
        values: ``n + 1`` values. milestones: ``n`` increasing epochs.
    """

    def __init__(
        self,
        target: Any,
        attribute: str,
        *,
        values: Sequence[float],
        milestones: Sequence[int],
        name: str | None = None,
    ) -> None:
        super().__init__(target, attribute, name=name)
        values, milestones = [float(v) for v in values], [int(m) for m in milestones]
        if len(values) != len(milestones) + 1 or any(
            b <= a for a, b in zip(milestones, milestones[1:], strict=False)
        ):
            raise ValueError(
                "expected len(values) == len(milestones) + 1 and increasing milestones "
                f"(got values={values}, milestones={milestones})"
            )
        self.values, self.milestones = values, milestones

    def value(self, epoch: int, state: TrainState | None = None) -> float:
        return self.values[sum(epoch >= m for m in self.milestones)]


class SelfPacedSchedule(Schedule):
    """Raise the hardness when learning stalls: ``v += step`` (up to ``end``) after ``patience``
    epochs without improvement of ``metric``.

    Starts at ``start``. After every epoch the monitored entry of the history row (a validation
    metric such as ``"valid_ndcg@20"`` with ``mode="max"``, or the training ``"loss"`` with
    ``mode="min"``) is compared with the best seen at the current level; ``patience`` epochs
    in a row without improvement move to the next level and restart the comparison (a harder
    level has a higher loss, so the old best would never be beaten). The learner's own progress
    sets the pace: a model still improving on easy negatives keeps them.

    Args:
        start, end: first and last value; ``step`` (signed) is added at each advance.
        metric: the history column to watch, default ``"valid_ndcg@20"``.
        mode: ``"max"`` (default) or ``"min"``.
        patience: epochs without improvement before advancing, default 2.
        min_delta: the improvement that counts, default 0.
    """

    def __init__(
        self,
        target: Any,
        attribute: str,
        *,
        start: float,
        end: float,
        step: float,
        metric: str = "valid_ndcg@20",
        mode: Literal["max", "min"] = "max",
        patience: int = 2,
        min_delta: float = 0.0,
        name: str | None = None,
    ) -> None:
        super().__init__(target, attribute, name=name)
        if mode not in ("max", "min") or patience < 1 or step == 0 or (end - start) * step < 0:
            raise ValueError(
                "expected mode 'max' or 'min', patience >= 1 and a non-zero step towards end "
                f"(got mode={mode!r}, patience={patience}, start={start}, end={end}, step={step})"
            )
        self.start, self.end, self.step = float(start), float(end), float(step)
        self.metric, self.mode = metric, mode
        self.patience, self.min_delta = int(patience), float(min_delta)
        self.level_value = self.start
        self.best: float | None = None
        self.wait = 0
        self.seen_epoch = -1

    def value(self, epoch: int, state: TrainState | None = None) -> float:
        return self.level_value

    def on_epoch_start(self, state: TrainState) -> None:
        # The previous epoch's record is read here, not in on_epoch_end: user callbacks run
        # after the Checkpoint callback, so state changed in on_epoch_end would reach the
        # checkpoint one epoch late and a resumed run would differ.
        history = getattr(state, "history", [])
        if history and int(history[-1]["epoch"]) > self.seen_epoch:
            self.observe(history[-1])
        super().on_epoch_start(state)

    def observe(self, record: Mapping[str, Any]) -> None:
        """Take one epoch's record into account (advance the level after a plateau)."""
        if self.metric not in record:
            raise KeyError(
                f"SelfPacedSchedule expected {self.metric!r} in the epoch record (got {sorted(record)}); "
                "watch 'loss' when training without validation"
            )
        self.seen_epoch = int(record["epoch"])
        v = float(record[self.metric])
        better = self.best is None or (
            v > self.best + self.min_delta if self.mode == "max" else v < self.best - self.min_delta
        )
        if better and not math.isnan(v):
            self.best, self.wait = v, 0
            return
        self.wait += 1
        if self.wait >= self.patience and self.level_value != self.end:
            nxt = self.level_value + self.step
            self.level_value = min(nxt, self.end) if self.step > 0 else max(nxt, self.end)
            self.best, self.wait = None, 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "level_value": self.level_value,
            "best": self.best,
            "wait": self.wait,
            "seen_epoch": self.seen_epoch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.level_value = float(state["level_value"])
        self.best = state["best"]
        self.wait = int(state["wait"])
        self.seen_epoch = int(state["seen_epoch"])


Decay = Literal["constant", "cosine", "linear", "exponential", "step"]


class LRSchedule(Callback):
    """Learning-rate warm-up then decay, set per epoch on every parameter group.

    ``lr(e) = lr₀ · f(e)`` with ``lr₀`` the fit loop's ``lr``. Warm-up (Goyal et al., 2017):
    ``f(e) = (e + 1) / (W + 1)`` for ``e < W``. Then, with ``p = (e - W) / (T - W)`` clipped
    to ``[0, 1]``:

    - ``constant``: 1; ``cosine`` (Loshchilov & Hutter, SGDR, ICLR 2017):
      ``m + (1 - m) (1 + cos πp) / 2``; ``linear``: ``1 - (1 - m) p``;
    - ``exponential``: ``max(m, γ^(e - W))``; ``step``: ``max(m, γ^⌊(e - W) / step_size⌋)``.

    Args:
        warmup_epochs: ``W``, default 0.
        decay: default ``"cosine"``.
        total_epochs: ``T`` for cosine / linear; default the fit loop's ``epochs``.
        min_factor: ``m``, the floor of the factor, default 0.01.
        gamma: ``γ`` for exponential / step, default 0.95. step_size: default 10.
    """

    def __init__(
        self,
        *,
        warmup_epochs: int = 0,
        decay: Decay = "cosine",
        total_epochs: int | None = None,
        min_factor: float = 0.01,
        gamma: float = 0.95,
        step_size: int = 10,
    ) -> None:
        if decay not in ("constant", "cosine", "linear", "exponential", "step"):
            raise ValueError(
                f"unknown decay {decay!r}; valid: constant, cosine, linear, exponential, step"
            )
        if warmup_epochs < 0 or step_size < 1 or not 0 <= min_factor <= 1 or not 0 < gamma <= 1:
            raise ValueError(
                "expected warmup_epochs >= 0, step_size >= 1, min_factor in [0, 1], gamma in (0, 1] "
                f"(got {warmup_epochs}, {step_size}, {min_factor}, {gamma})"
            )
        self.warmup_epochs = int(warmup_epochs)
        self.decay = decay
        self.total_epochs = total_epochs
        self.min_factor = float(min_factor)
        self.gamma = float(gamma)
        self.step_size = int(step_size)

    def factor(self, epoch: int, total_epochs: int) -> float:
        """``f(epoch)`` for a run of ``total_epochs`` (used unless ``total_epochs`` was given)."""
        w = self.warmup_epochs
        if epoch < w:
            return (epoch + 1) / (w + 1)
        m, e = self.min_factor, epoch - w
        total = self.total_epochs if self.total_epochs is not None else total_epochs
        p = min(1.0, e / max(1, total - w))
        if self.decay == "cosine":
            return m + (1 - m) * 0.5 * (1 + math.cos(math.pi * p))
        if self.decay == "linear":
            return 1 - (1 - m) * p
        if self.decay == "exponential":
            return max(m, self.gamma**e)
        if self.decay == "step":
            return max(m, self.gamma ** (e // self.step_size))
        return 1.0

    def on_epoch_start(self, state: TrainState) -> None:
        lr = float(state.config["lr"]) * self.factor(state.epoch + 1, int(state.config["epochs"]))
        for group in state.optimizer.param_groups:
            group["lr"] = lr
        state.epoch_info["lr"] = lr


class ProgressiveUnfreezing(Callback):
    """Freeze named parameters for their first epochs, then train them (``requires_grad``).

    ``ProgressiveUnfreezing(["item_embedding.weight"], epochs=5)`` keeps that table fixed for
    epochs 0-4; a mapping gives each its own release epoch, e.g.
    ``{"entity_embedding.weight": 10, "item_embedding.weight": 5}``. While frozen a parameter
    gets no gradient (``requires_grad=False``), so Adam leaves it and its moments untouched; the
    rest of the model adapts to the pretrained tables first, then all is fine-tuned. Everything
    is released at the end of ``fit``. The history gets a ``frozen`` column (tables frozen in
    that epoch).

    Args:
        tables: parameter names (``encoder.named_parameters()``), or ``{name: release_epoch}``.
        epochs: the release epoch for a list of names.
    """

    def __init__(
        self, tables: Sequence[str] | Mapping[str, int], *, epochs: int | None = None
    ) -> None:
        if isinstance(tables, Mapping):
            if epochs is not None:
                raise ValueError("pass epochs only with a list of names, not with a mapping")
            self.release = {str(k): int(v) for k, v in tables.items()}
        else:
            if epochs is None:
                raise ValueError("expected epochs=N with a list of parameter names")
            self.release = {str(k): int(epochs) for k in tables}
        if any(v < 0 for v in self.release.values()):
            raise ValueError(f"expected release epochs >= 0 (got {self.release})")

    def _params(self, state: TrainState) -> dict[str, Any]:
        params = dict(state.encoder.named_parameters())
        missing = sorted(set(self.release) - set(params))
        if missing:
            raise KeyError(
                f"ProgressiveUnfreezing: {type(state.encoder).__name__} has no parameter(s) "
                f"{missing}; valid names: {sorted(params)}"
            )
        return {k: params[k] for k in self.release}

    def on_fit_start(self, state: TrainState) -> None:
        self._params(state)

    def on_epoch_start(self, state: TrainState) -> None:
        epoch = state.epoch + 1
        frozen = 0
        for name, p in self._params(state).items():
            train = epoch >= self.release[name]
            p.requires_grad_(train)
            frozen += not train
        state.epoch_info["frozen"] = float(frozen)

    def on_fit_end(self, state: TrainState) -> None:
        for p in self._params(state).values():
            p.requires_grad_(True)
