"""Schedules: values at given epochs, their effect inside the fit loop, and exact resume."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.data.dataset import RecDataset
from kgrec.graph import build_graph
from kgrec.models import MF, LightGCN
from kgrec.scoring import MixedSampler, SimGCLLoss
from kgrec.train import (
    Callback,
    LinearSchedule,
    LRSchedule,
    ProgressiveUnfreezing,
    SelfPacedSchedule,
    StepSchedule,
    fit,
    load_checkpoint,
)

TIMING = ["seconds", "eval_seconds"]
KW = dict(batch_size=64, lr=0.05, seed=11, progress=False)


class Knob:
    def __init__(self) -> None:
        self.level = 0.0
        self.count = 1


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(0)
    rows = []
    for u in range(30):
        block = np.arange(20) if u % 2 == 0 else np.arange(20, 40)
        rows += [(u, i) for i in rng.choice(block, size=10, replace=False)]
    frame = pd.DataFrame(rows, columns=["user", "item"])
    full = RecDataset.from_frames(frame, items=range(40))
    valid_rows = frame.groupby("user").head(2).index.to_numpy()
    train_rows = np.setdiff1d(np.arange(len(frame)), valid_rows)
    train, valid = full.subset(train_rows), full.subset(valid_rows)
    return train, valid, build_graph(train)


# ------------------------------------------------------------------ values at given epochs
def test_linear_schedule_values():
    s = LinearSchedule(Knob(), "level", start=0.0, end=1.0, epochs=4, delay=2)
    assert [s.value(e) for e in range(8)] == [0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    jump = LinearSchedule(Knob(), "level", start=2.0, end=5.0, epochs=0, delay=3)
    assert [jump.value(e) for e in range(5)] == [2.0, 2.0, 2.0, 5.0, 5.0]


def test_step_schedule_values():
    s = StepSchedule(Knob(), "count", values=[1, 4, 16], milestones=[5, 15])
    assert [s.value(e) for e in (0, 4, 5, 14, 15, 100)] == [1, 1, 4, 4, 16, 16]
    with pytest.raises(ValueError, match="milestones"):
        StepSchedule(Knob(), "count", values=[1, 2], milestones=[5, 15])


def test_integer_attributes_are_rounded_and_recorded():
    knob = Knob()
    s = LinearSchedule(knob, "count", start=1, end=8, epochs=7, name="M")
    state = SimpleNamespace(epoch=2, epoch_info={})  # the epoch about to run is 3
    s.on_epoch_start(state)
    assert knob.count == 4 and isinstance(knob.count, int) and state.epoch_info == {"M": 4.0}
    with pytest.raises(AttributeError, match="attribute 'nope'"):
        LinearSchedule(knob, "nope", start=0, end=1)


def test_self_paced_schedule_advances_on_plateaus():
    knob = Knob()
    s = SelfPacedSchedule(
        knob, "level", start=0.0, end=1.0, step=0.5, metric="valid_ndcg@20", patience=2
    )
    values = [0.1, 0.2, 0.2, 0.15, 0.3, 0.1, 0.1, 0.0, 0.0, 0.0]
    seen = []
    state = SimpleNamespace(epoch=-1, epoch_info={}, history=[])
    for v in values:
        s.on_epoch_start(state)  # reads the previous epoch's record, then sets the level
        seen.append(knob.level)
        state.epoch += 1
        state.history.append({"epoch": state.epoch, "valid_ndcg@20": v})
    s.on_epoch_start(state)
    seen.append(knob.level)
    # 0.1 0.2 then two epochs without improvement -> 0.5; the new level's best restarts at 0.3,
    # then 0.1 0.1 -> 1.0, which is the end
    assert seen == [0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0]
    wait = s.wait
    s.on_epoch_start(state)  # the same record is not counted twice
    assert s.wait == wait == 2
    restored = SelfPacedSchedule(Knob(), "level", start=0.0, end=1.0, step=0.5, patience=2)
    restored.load_state_dict(s.state_dict())
    assert restored.state_dict() == s.state_dict()
    with pytest.raises(ValueError, match="step"):
        SelfPacedSchedule(knob, "level", start=0.0, end=1.0, step=-0.5)


def test_lr_schedule_factors():
    s = LRSchedule(warmup_epochs=4, decay="cosine", total_epochs=14, min_factor=0.0)
    assert [s.factor(e, 100) for e in range(4)] == [0.2, 0.4, 0.6, 0.8]
    assert s.factor(4, 100) == pytest.approx(1.0)
    assert s.factor(9, 100) == pytest.approx(0.5)
    assert s.factor(14, 100) == pytest.approx(0.0, abs=1e-12)
    assert LRSchedule(decay="linear", min_factor=0.1).factor(5, 10) == pytest.approx(0.55)
    assert LRSchedule(decay="step", gamma=0.5, step_size=3).factor(7, 50) == pytest.approx(0.25)
    assert LRSchedule(decay="exponential", gamma=0.9).factor(2, 50) == pytest.approx(0.81)
    with pytest.raises(ValueError, match="unknown decay"):
        LRSchedule(decay="warm")  # type: ignore[arg-type]


# ------------------------------------------------------------------ inside the fit loop
class SeeSampler(Callback):
    def __init__(self, sampler) -> None:
        self.sampler = sampler
        self.seen: list[float] = []

    def on_epoch_end(self, state) -> None:
        self.seen.append(self.sampler.hard_fraction)


def test_fit_applies_schedules_each_epoch(split):
    train, _, graph = split
    torch.manual_seed(0)
    enc = MF.from_data(graph, embedding_dim=8)
    sampler = MixedSampler(train, num_candidates=4, hard_fraction=0.0)
    see = SeeSampler(sampler)
    lr = LRSchedule(warmup_epochs=2, decay="linear", total_epochs=6, min_factor=0.5)
    hist = fit(enc, graph, train, sampler=sampler, epochs=6,
               callbacks=[LinearSchedule(sampler, "hard_fraction", start=0.0, end=1.0, epochs=4), lr, see],
               **KW)  # fmt: skip
    want = [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert hist["hard_fraction"].tolist() == want and see.seen == want
    expected_lr = [0.05 * lr.factor(e, 6) for e in range(6)]
    np.testing.assert_allclose(hist["lr"], expected_lr)
    assert list(hist.columns) == [
        "epoch",
        "loss",
        "bpr",
        "reg",
        "aux",
        "hard_fraction",
        "lr",
        "seconds",
    ]


class Interrupt(Callback):
    def __init__(self, after_epoch: int) -> None:
        self.after_epoch = after_epoch

    def on_epoch_end(self, state) -> None:
        if state.epoch == self.after_epoch:
            raise KeyboardInterrupt


class ToyEvaluator:
    """Deterministic stand-in: mean score of the valid pairs (no ranking needed)."""

    def evaluate(self, score_fn, *, target, exclude=()):
        u = torch.tensor(target.interactions["user"].to_numpy())
        i = torch.tensor(target.interactions["item"].to_numpy())
        value = float(score_fn(u).gather(1, i[:, None]).mean())
        return SimpleNamespace(mean={"ndcg@20": value})


@pytest.mark.parametrize("encoder_cls", [MF, LightGCN])
def test_resume_with_schedules_and_loss_terms_is_exact(split, tmp_path, encoder_cls):
    train, valid, graph = split

    def run(run_dir, extra=()):
        torch.manual_seed(0)
        enc = encoder_cls.from_data(graph, embedding_dim=8)
        sampler = MixedSampler(train, num_candidates=4, hard_fraction=0.0)
        callbacks = [
            # advances whenever the loss falls by less than 0.05 in an epoch
            SelfPacedSchedule(sampler, "hard_fraction", start=0.0, end=1.0, step=0.25, metric="loss",
                              mode="min", patience=1, min_delta=0.05),
            LinearSchedule(sampler, "num_candidates", start=2, end=6, epochs=5),
            LRSchedule(warmup_epochs=2, decay="cosine", total_epochs=8),
            *extra,
        ]  # fmt: skip
        hist = fit(enc, graph, train, valid=valid, evaluator=ToyEvaluator(), sampler=sampler, epochs=8,
                   patience=None, run_dir=run_dir, callbacks=callbacks,
                   losses=[SimGCLLoss(weight=0.05)], **KW)  # fmt: skip
        return enc, hist.drop(columns=TIMING)

    ref, ref_hist = run(tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "cut", extra=[Interrupt(after_epoch=3)])
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 3
    resumed, resumed_hist = run(tmp_path / "cut")
    assert all(
        torch.equal(a, b)
        for a, b in zip(ref.state_dict().values(), resumed.state_dict().values(), strict=True)
    )
    pd.testing.assert_frame_equal(ref_hist, resumed_hist)
    assert ref_hist["hard_fraction"].nunique() > 1  # the self-paced schedule did move
    assert "simgcl" in ref_hist.columns and (ref_hist["simgcl"] > 0).all()


def test_loss_term_config_is_part_of_the_resume_check(split, tmp_path):
    train, _, graph = split
    fit(MF.from_data(graph, embedding_dim=8), graph, train, epochs=1, run_dir=tmp_path,
        losses=[SimGCLLoss()], **KW)  # fmt: skip
    with pytest.raises(ValueError, match="losses"):
        fit(MF.from_data(graph, embedding_dim=8), graph, train, epochs=2, run_dir=tmp_path, **KW)


# ------------------------------------------------------------------ progressive unfreezing
class Weights(Callback):
    def __init__(self) -> None:
        self.items: list[torch.Tensor] = []
        self.users: list[torch.Tensor] = []

    def on_epoch_end(self, state) -> None:
        self.items.append(state.encoder.item_embedding.weight.detach().clone())
        self.users.append(state.encoder.user_embedding.weight.detach().clone())


def test_progressive_unfreezing_freezes_then_releases(split):
    train, _, graph = split
    torch.manual_seed(0)
    enc = MF.from_data(graph, embedding_dim=8)
    start = enc.item_embedding.weight.detach().clone()
    w = Weights()
    hist = fit(enc, graph, train, epochs=5,
               callbacks=[ProgressiveUnfreezing(["item_embedding.weight"], epochs=3), w], **KW)  # fmt: skip
    assert all(torch.equal(t, start) for t in w.items[:3])  # epochs 0-2 frozen
    assert not torch.equal(w.items[3], start)  # released at epoch 3
    assert not torch.equal(w.users[0], w.users[1])  # the user table trained all along
    assert hist["frozen"].tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert enc.item_embedding.weight.requires_grad  # released at the end


def test_progressive_unfreezing_of_everything_and_bad_names(split):
    train, _, graph = split
    enc = MF.from_data(graph, embedding_dim=8)
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    both = {"item_embedding.weight": 2, "user_embedding.weight": 2}
    hist = fit(enc, graph, train, epochs=2, callbacks=[ProgressiveUnfreezing(both)], **KW)
    assert all(torch.equal(before[k], v) for k, v in enc.state_dict().items())  # nothing to train
    assert math.isfinite(hist["loss"].iloc[0])
    with pytest.raises(KeyError, match="valid names"):
        fit(
            enc,
            graph,
            train,
            epochs=1,
            callbacks=[ProgressiveUnfreezing(["entity.weight"], epochs=1)],
            **KW,
        )
    with pytest.raises(ValueError, match="epochs"):
        ProgressiveUnfreezing(["item_embedding.weight"])
