"""Model fusion: normalisation and RRF by hand, weight tuning, persistence, ``kgrec fuse``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.cli import main
from kgrec.data.dataset import RecDataset
from kgrec.data.io import save_dataset
from kgrec.data.split import split_dataset
from kgrec.data.synthetic import make_synthetic
from kgrec.fusion import FusedRecommender
from kgrec.recommender import Recommender


class TableMember:
    """A fitted-recommender stand-in that scores from a fixed ``[U, I]`` table."""

    def __init__(self, table: torch.Tensor, train: RecDataset, seen=None) -> None:
        self.table = table
        self.train_data = train
        self._seen = seen or [train]

    def score_users(self, users: torch.Tensor) -> torch.Tensor:
        return self.table[users]


@pytest.fixture(scope="module")
def tiny():
    # 2 users, 5 items; user 0 trained on item 0, user 1 on items 1 and 2
    frame = pd.DataFrame({"user": [0, 1, 1], "item": [0, 1, 2]})
    return RecDataset.from_frames(frame, items=range(5))


@pytest.fixture(scope="module")
def split():
    return split_dataset(
        make_synthetic(num_users=150, num_items=180, seed=7), strategy="random", seed=7
    )


def test_rrf_by_hand(tiny):
    a = torch.tensor([[9.0, 4.0, 3.0, 2.0, 1.0], [0.0, 9.0, 9.0, 5.0, 6.0]])
    b = torch.tensor([[0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 7.0, 8.0]])
    fused = FusedRecommender(
        [TableMember(a, tiny), TableMember(b, tiny)], method="rrf", rrf_k=1.0
    ).fit()
    got = fused.score_users(torch.tensor([0, 1]))
    # user 0, candidates 1..4 (item 0 is a training item): ranks under a: 1->1, 2->2, 3->3, 4->4;
    # under b: 4->1, 3->2, 2->3, 1->4
    want0 = [-np.inf] + [
        1 / (1 + r_a) + 1 / (1 + r_b) for r_a, r_b in [(1, 4), (2, 3), (3, 2), (4, 1)]
    ]
    # user 1, candidates 0, 3, 4: a ranks 4, 3, 0; b ranks 4, 3, 0
    want1 = [2 / (1 + 3), -np.inf, -np.inf, 2 / (1 + 2), 2 / (1 + 1)]
    torch.testing.assert_close(got, torch.tensor([want0, want1], dtype=torch.float32))
    assert fused.weights == [1.0, 1.0]


def test_zscore_and_rank_normalisation_by_hand(tiny):
    a = torch.tensor([[100.0, 1.0, 2.0, 3.0, 6.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    one = FusedRecommender([TableMember(a, tiny)], normalise="zscore", weights=[1.0]).fit()
    s = one.score_users(torch.tensor([0]))[0]
    free = torch.tensor([1.0, 2.0, 3.0, 6.0])  # item 0 is masked and left out of the statistics
    torch.testing.assert_close(s[1:], (free - free.mean()) / free.std(unbiased=False))
    assert s[0] == -torch.inf
    ranked = FusedRecommender([TableMember(a, tiny)], normalise="rank", weights=[1.0]).fit()
    torch.testing.assert_close(
        ranked.score_users(torch.tensor([0]))[0, 1:], torch.tensor([0.0, 1 / 3, 2 / 3, 1.0])
    )
    # a constant row gets finite, equal z-scores (no division by zero)
    assert torch.isfinite(one.score_users(torch.tensor([1]))[0, [0, 3, 4]]).all()


def test_weight_tuning_recovers_the_better_member(split):
    train, valid = split.train, split.valid
    # an oracle that knows the valid and test items, and pure noise
    truth = torch.zeros(train.num_users, train.num_items)
    for part in (valid, split.test):
        truth[
            part.interactions["user"].to_numpy().copy(), part.interactions["item"].to_numpy().copy()
        ] = 1.0
    noise = torch.rand(train.num_users, train.num_items, generator=torch.Generator().manual_seed(0))
    good = TableMember(truth + 0.5 * noise, train)
    bad = TableMember(
        torch.rand(train.num_users, train.num_items, generator=torch.Generator().manual_seed(1)),
        train,
    )
    fused = FusedRecommender([bad, good], ks=(20,)).fit(valid)
    assert fused.weights[1] > 0.9 and fused.weights[0] < 0.1
    assert fused.member_valid_[1] > fused.member_valid_[0]
    assert fused.tuning_[-1]["ndcg@20"] >= max(fused.member_valid_) - 1e-12
    with pytest.raises(ValueError, match="valid data"):
        FusedRecommender([bad, good]).fit()
    other = TableMember(truth, valid)  # another training set
    with pytest.raises(ValueError, match="same training data"):
        FusedRecommender([good, other], method="rrf").fit()


def test_fusion_of_real_models_beats_or_matches_its_members_and_round_trips(split, tmp_path):
    members = [
        Recommender("pop").fit(split.train, valid=split.valid),
        Recommender("itemknn", k=50).fit(split.train, valid=split.valid),
        Recommender("mf", epochs=5, lr=1e-2, embedding_dim=16, progress=False).fit(
            split.train, valid=split.valid
        ),
    ]
    fused = FusedRecommender(members).fit(split.valid)
    valid_ndcg = fused.evaluate(split.valid, exclude=[split.train])["ndcg@20"]
    assert valid_ndcg >= max(fused.member_valid_) - 1e-9
    assert abs(sum(fused.weights) - 1.0) < 1e-9
    users = split.dataset.users.raw_ids[:4].tolist()
    top = fused.recommend(users, k=5)
    seen = pd.concat([split.train.raw_interactions(), split.valid.raw_interactions()])
    assert not set(zip(top["user"], top["item"], strict=True)) & set(
        zip(seen["user"], seen["item"], strict=True)
    )
    fused.save(tmp_path / "fz")
    back = Recommender.load(tmp_path / "fz")  # dispatches to FusedRecommender
    assert isinstance(back, FusedRecommender) and back.weights == fused.weights
    assert back.evaluate(split.test).mean == fused.evaluate(split.test).mean
    pd.testing.assert_frame_equal(back.recommend(users, k=5), top)


def test_cli_fuse(tmp_path, capsys):
    data = tmp_path / "ds"
    save_dataset(make_synthetic(num_users=100, num_items=120, seed=5), data)
    runs = []
    for model in ("pop", "itemknn"):
        out = tmp_path / model
        assert main(["train", str(data), "--model", model, "--out", str(out), "--no-progress"]) == 0
        runs.append(str(out))
    fused_dir = tmp_path / "fused"
    assert main(["fuse", *runs, "--out", str(fused_dir)]) == 0
    metrics = json.loads((fused_dir / "metrics.json").read_text())
    single = json.loads((tmp_path / "itemknn" / "metrics.json").read_text())
    assert set(single["test"]) <= set(metrics["test"])
    assert len(metrics["weights"]) == 2 and set(metrics["members_test"]) == set(runs)
    assert main(["fuse", *runs, "--out", str(tmp_path / "rrf"), "--method", "rrf"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(fused_dir), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["test"]["ndcg@20"] == pytest.approx(metrics["test"]["ndcg@20"])
