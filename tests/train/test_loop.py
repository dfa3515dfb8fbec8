"""The fit loop: history, early stopping, checkpoint resume, reproducibility."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.data.dataset import RecDataset
from kgrec.graph import build_graph
from kgrec.models import MF, Batch, LightGCN
from kgrec.recommender import Recommender
from kgrec.scoring import UniformSampler
from kgrec.train import Callback, TimeBudget, fit, load_checkpoint, make_score_fn

TIMING = ["seconds", "eval_seconds"]


@dataclass
class Result:
    mean: dict[str, float]


class RecallEvaluator:
    """A small stand-in with the FullRankingEvaluator interface: masked full-ranking Recall@k
    and a simplified NDCG@k (a deterministic function of the scores)."""

    def __init__(self, k: int = 5) -> None:
        self.k = k
        self.calls = 0

    def evaluate(self, score_fn, *, target, exclude=()):
        self.calls += 1
        n_items = target.num_items
        tu = target.interactions["user"].to_numpy()
        ti = target.interactions["item"].to_numpy()
        users = np.unique(tu)
        scores = score_fn(torch.as_tensor(users)).clone()
        row = {u: r for r, u in enumerate(users)}
        for ds in exclude:
            eu = ds.interactions["user"].to_numpy()
            ei = ds.interactions["item"].to_numpy()
            keep = np.isin(eu, users)
            scores[[row[u] for u in eu[keep]], ei[keep]] = -torch.inf
        top = torch.topk(scores, self.k, dim=1).indices.numpy()
        truth = np.zeros((len(users), n_items), dtype=bool)
        truth[[row[u] for u in tu], ti] = True
        hits = np.take_along_axis(truth, top, 1)
        recall = (hits.sum(1) / truth.sum(1)).mean()
        ndcg = (hits / np.log2(np.arange(2, self.k + 2))).sum(1).mean()
        return Result({f"recall@{self.k}": float(recall), f"ndcg@{self.k}": float(ndcg)})


class ScriptedEvaluator:
    """Returns a fixed sequence of metric values, one per call."""

    def __init__(self, values: list[float]) -> None:
        self.values = list(values)
        self.calls = 0

    def evaluate(self, score_fn, *, target, exclude=()):
        scores = score_fn(torch.tensor([0, 1]))
        assert scores.shape == (2, target.num_items)
        value = self.values[self.calls]
        self.calls += 1
        return Result({"ndcg@20": value, "recall@20": value / 2})


class Snapshots(Callback):
    def __init__(self) -> None:
        self.weights: dict[int, dict[str, torch.Tensor]] = {}

    def on_epoch_end(self, state) -> None:
        self.weights[state.epoch] = {k: v.clone() for k, v in state.encoder.state_dict().items()}


class Interrupt(Callback):
    def __init__(self, after_epoch: int) -> None:
        self.after_epoch = after_epoch

    def on_epoch_end(self, state) -> None:
        if state.epoch == self.after_epoch:
            raise KeyboardInterrupt(f"simulated interruption after epoch {state.epoch}")


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(0)
    n_users, n_items = 30, 40
    # two taste groups so that training has something to find
    rows = []
    for u in range(n_users):
        block = np.arange(20) if u % 2 == 0 else np.arange(20, 40)
        items = rng.choice(block, size=10, replace=False)
        rows += [(u, i) for i in items]
    frame = pd.DataFrame(rows, columns=["user", "item"])
    full = RecDataset.from_frames(frame, items=range(n_items))
    valid_rows = frame.groupby("user").head(2).index.to_numpy()
    train_rows = np.setdiff1d(np.arange(len(frame)), valid_rows)
    train, valid = full.subset(train_rows), full.subset(valid_rows)
    return train, valid, build_graph(train)


def new_mf(graph, seed=0):
    torch.manual_seed(seed)
    return MF.from_data(graph, embedding_dim=16)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


KW = dict(batch_size=64, lr=0.05, seed=11, progress=False)


def test_history_columns_and_csv(split, tmp_path):
    train, valid, graph = split
    enc = new_mf(graph)
    hist = fit(enc, graph, train, valid=valid, evaluator=RecallEvaluator(k=5), epochs=4,
               metric="ndcg@5", run_dir=tmp_path, **KW)  # fmt: skip
    assert list(hist.columns) == [
        "epoch", "loss", "bpr", "reg", "aux", "seconds", "eval_seconds", "valid_recall@5", "valid_ndcg@5"
    ]  # fmt: skip
    assert hist["epoch"].tolist() == [0, 1, 2, 3]
    assert (hist["seconds"] > 0).all() and (hist["aux"] == 0).all()
    np.testing.assert_allclose(hist["loss"], hist["bpr"] + 1e-4 * hist["reg"], rtol=1e-6)
    assert hist["loss"].iloc[-1] < hist["loss"].iloc[0]
    on_disk = pd.read_csv(tmp_path / "history.csv")
    pd.testing.assert_frame_equal(on_disk, hist, check_dtype=False)
    assert (tmp_path / "checkpoint.pt").exists()
    assert hist.attrs["metric"] == "valid_ndcg@5"
    assert hist.attrs["best_epoch"] == int(hist["valid_ndcg@5"].idxmax())


def test_no_validation_runs_every_epoch(split):
    train, _, graph = split
    hist = fit(new_mf(graph), graph, train, epochs=3, **KW)
    assert list(hist.columns) == ["epoch", "loss", "bpr", "reg", "aux", "seconds"]
    assert len(hist) == 3 and hist.attrs["best_epoch"] is None


def test_early_stopping_restores_best_weights(split):
    train, valid, graph = split
    enc = new_mf(graph)
    snaps = Snapshots()
    values = [0.1, 0.3, 0.2, 0.25, 0.3, 0.1, 0.9, 0.9]  # best at epoch 1; ties do not count
    evaluator = ScriptedEvaluator(values)
    hist = fit(enc, graph, train, valid=valid, evaluator=evaluator, epochs=8, patience=3,
               callbacks=[snaps], **KW)  # fmt: skip
    assert hist["epoch"].tolist() == [0, 1, 2, 3, 4]  # 3 epochs without improvement after 1
    assert evaluator.calls == 5
    assert hist.attrs["best_epoch"] == 1 and hist.attrs["stopped_early"]
    final = {k: v for k, v in enc.state_dict().items()}
    assert all(torch.equal(final[k], snaps.weights[1][k]) for k in final)
    assert not all(torch.equal(final[k], snaps.weights[4][k]) for k in final)


def test_seeded_runs_are_reproducible(split):
    train, valid, graph = split
    runs = []
    for seed in (11, 11, 12):
        enc = new_mf(graph)
        hist = fit(enc, graph, train, valid=valid, evaluator=RecallEvaluator(), epochs=5,
                   metric="ndcg@5", **{**KW, "seed": seed})  # fmt: skip
        runs.append((enc, hist.drop(columns=TIMING)))
    (a, ha), (b, hb), (c, hc) = runs
    assert same_weights(a, b) and ha.equals(hb)
    assert not same_weights(a, c)


def test_fit_leaves_the_global_rng_alone(split):
    train, _, graph = split
    enc = new_mf(graph)
    before = torch.get_rng_state()
    fit(enc, graph, train, epochs=1, **KW)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("encoder_cls", [MF, LightGCN])
def test_interrupted_run_resumes_identically(split, tmp_path, encoder_cls):
    train, valid, graph = split

    def run(run_dir, epochs=9, callbacks=(), init_seed=0):
        torch.manual_seed(init_seed)
        enc = encoder_cls.from_data(graph, embedding_dim=16)
        hist = fit(enc, graph, train, valid=valid, evaluator=RecallEvaluator(), epochs=epochs,
                   metric="ndcg@5", patience=4, run_dir=run_dir, callbacks=callbacks, **KW)  # fmt: skip
        return enc, hist.drop(columns=TIMING)

    ref, ref_hist = run(tmp_path / "ref")

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "cut", callbacks=[Interrupt(after_epoch=3)])
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 3
    # other initial weights: the checkpoint must replace them; only epochs 4.. are trained
    seen = Snapshots()
    resumed, resumed_hist = run(tmp_path / "cut", callbacks=[seen], init_seed=99)
    assert min(seen.weights) == 4 and max(seen.weights) == ref_hist["epoch"].max()
    assert same_weights(ref, resumed)
    pd.testing.assert_frame_equal(ref_hist, resumed_hist)

    # stopping at an epoch cap and rerunning with a larger cap is the same as one run
    run(tmp_path / "cap", epochs=2)
    capped, capped_hist = run(tmp_path / "cap")
    assert same_weights(ref, capped)
    pd.testing.assert_frame_equal(ref_hist, capped_hist)

    # a finished run resumes to the same answer without training
    seen = Snapshots()
    again, again_hist = run(tmp_path / "ref", callbacks=[seen], init_seed=99)
    assert seen.weights == {}
    assert same_weights(ref, again)
    pd.testing.assert_frame_equal(ref_hist, again_hist)


def test_resume_refuses_another_configuration(split, tmp_path):
    train, _, graph = split
    fit(new_mf(graph), graph, train, epochs=1, run_dir=tmp_path, **KW)
    with pytest.raises(ValueError, match="lr: saved 0.05 vs now 0.01"):
        fit(new_mf(graph), graph, train, epochs=2, run_dir=tmp_path, **{**KW, "lr": 0.01})
    hist = fit(
        new_mf(graph), graph, train, epochs=2, run_dir=tmp_path, resume=False, **{**KW, "lr": 0.01}
    )
    assert len(hist) == 2


def test_aux_loss_and_reg_params_are_used(split):
    train, _, graph = split

    class MFWithAux(MF):
        def aux_loss(self, graph, batch: Batch):
            return 0.5 * self.item_embedding.weight.pow(2).mean()

    torch.manual_seed(0)
    enc = MFWithAux.from_data(graph, embedding_dim=8)
    hist = fit(enc, graph, train, epochs=2, reg_weight=1e-2, **KW)
    assert (hist["aux"] > 0).all() and (hist["reg"] > 0).all()
    np.testing.assert_allclose(
        hist["loss"], hist["bpr"] + 1e-2 * hist["reg"] + hist["aux"], rtol=1e-6
    )


def test_score_fn_is_a_snapshot(split):
    train, _, graph = split
    enc = new_mf(graph)
    score_fn = make_score_fn(enc, graph)
    users = torch.tensor([0, 5, 7])
    before = score_fn(users).clone()
    assert before.shape == (3, train.num_items)
    torch.testing.assert_close(
        before, enc.user_embedding.weight[users] @ enc.item_embedding.weight.T
    )
    with torch.no_grad():
        enc.item_embedding.weight.add_(1.0)
    assert torch.equal(score_fn(users), before)
    assert enc.training  # the mode is restored


def test_bad_arguments(split):
    train, valid, graph = split
    with pytest.raises(ValueError, match="without valid"):
        fit(new_mf(graph), graph, train, evaluator=RecallEvaluator(), epochs=1, **KW)
    with pytest.raises(KeyError, match="choose metric"):
        fit(new_mf(graph), graph, train, valid=valid, evaluator=RecallEvaluator(), epochs=1, **KW)
    with pytest.raises(ValueError, match="batch_size"):
        fit(new_mf(graph), graph, train, epochs=1, **{**KW, "batch_size": 0})


def test_default_evaluator_if_available(split):
    evaluate = pytest.importorskip("kgrec.evaluate")
    if not hasattr(evaluate, "FullRankingEvaluator"):
        pytest.skip("kgrec.evaluate.FullRankingEvaluator is not written yet")
    train, valid, graph = split
    hist = fit(new_mf(graph), graph, train, valid=valid, epochs=2, **KW)
    assert "valid_ndcg@20" in hist.columns and "valid_recall@10" in hist.columns


def test_progress_bar_and_logging(split, caplog, capsys):
    train, valid, graph = split
    with caplog.at_level("INFO", logger="kgrec.train.loop"):
        fit(new_mf(graph), graph, train, valid=valid, evaluator=RecallEvaluator(), epochs=2,
            metric="ndcg@5", **{**KW, "progress": True})  # fmt: skip
    epochs = [r for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert len(epochs) == 2 and "valid ndcg@5" in epochs[0].getMessage()
    assert "fit MF" in capsys.readouterr().err


class RecordingSampler(UniformSampler):
    """A uniform sampler that remembers the shape of every request."""

    def __init__(self, train) -> None:
        super().__init__(train)
        self.shapes: list[tuple[int, ...]] = []

    def sample(self, users, num_items, generator):
        self.shapes.append(tuple(users.shape))
        return super().sample(users, num_items, generator)


def test_softmax_loss_trains_without_negatives(split, tmp_path):
    train, valid, graph = split
    hist = fit(new_mf(graph), graph, train, valid=valid, evaluator=RecallEvaluator(k=5), epochs=6,
               metric="recall@5", loss={"name": "softmax", "temperature": 0.5}, reg_weight=1e-2,
               run_dir=tmp_path, **KW)  # fmt: skip
    assert list(hist.columns)[:5] == ["epoch", "loss", "softmax", "reg", "aux"]
    np.testing.assert_allclose(hist["loss"], hist["softmax"] + 1e-2 * hist["reg"], rtol=1e-6)
    # 40 items, 10 positives a user: the ideal cross-entropy is log(10), a uniform model's log(40)
    assert hist["softmax"].iloc[-1] < min(hist["softmax"].iloc[0] - 0.5, np.log(40) - 0.5)
    # the taste groups are found: recall@5 is 5/32 at random, 5/12 for a random item of the block
    assert hist["valid_recall@5"].max() > 0.35
    # a checkpoint remembers the loss: another loss does not resume it
    with pytest.raises(ValueError, match=r"loss: saved \{'name': 'softmax', 'temperature': 0.5\} vs now None"):
        fit(new_mf(graph), graph, train, valid=valid, evaluator=RecallEvaluator(k=5), epochs=7,
            metric="recall@5", reg_weight=1e-2, run_dir=tmp_path, **KW)  # fmt: skip
    with pytest.raises(ValueError, match="draws no negatives; drop the sampler"):
        fit(new_mf(graph), graph, train, epochs=1, loss="softmax", sampler=UniformSampler(train), **KW)


def test_num_negatives_reach_the_sampler_and_the_loss(split):
    train, _, graph = split
    sampler = RecordingSampler(train)
    hist = fit(new_mf(graph), graph, train, epochs=2, sampler=sampler, num_negatives=4,
               loss="sampled_softmax", **KW)  # fmt: skip
    assert {s[1] for s in sampler.shapes} == {4} and sampler.shapes[0] == (64, 4)
    assert "sampled_softmax" in hist.columns
    assert hist["sampled_softmax"].iloc[0] < np.log(5) + 0.1  # 1 positive among 5 candidates
    with pytest.raises(ValueError, match="num_negatives >= 1"):
        fit(new_mf(graph), graph, train, epochs=1, num_negatives=0, **KW)


def test_time_budget_counts_training_and_validation_time():
    budget = TimeBudget(10.0)
    state = SimpleNamespace(history=[], stop=False, stop_reason=None)
    for seconds, eval_seconds in [(3.0, 1.0), (3.0, 1.0)]:
        state.history.append({"seconds": seconds, "eval_seconds": eval_seconds})
        budget.on_epoch_end(state)
        assert not state.stop  # 4 s, then 8 s
    state.history.append({"seconds": 2.0})
    budget.on_epoch_end(state)
    assert state.stop and state.stop_reason == "time budget of 10 s spent (10.0 s)"
    with pytest.raises(ValueError, match="time budget > 0"):
        TimeBudget(0)


def test_max_seconds_stops_the_fit_and_keeps_the_best_weights(split):
    train, valid, graph = split
    enc = new_mf(graph)
    hist = fit(enc, graph, train, valid=valid, evaluator=RecallEvaluator(k=5), epochs=50,
               metric="ndcg@5", max_seconds=1e-9, **KW)  # fmt: skip
    assert len(hist) == 1
    assert hist.attrs["stop_reason"].startswith("time budget of 1e-09 s spent")
    rec = Recommender("mf", epochs=50, max_seconds=1e-9, progress=False).fit(train, valid=valid)
    assert len(rec.history_) == 1 and rec.config()["max_seconds"] == 1e-9
