from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kgrec.data.split import split_dataset
from kgrec.data.synthetic import make_synthetic
from kgrec.exceptions import NotFittedError, UnknownIdError
from kgrec.recommender import Recommender, model_names


@pytest.fixture(scope="module")
def split():
    return split_dataset(make_synthetic(num_users=120, num_items=150, seed=3), strategy="random", seed=3)


def test_model_names_cover_the_contract() -> None:
    assert {"pop", "itemknn", "ease", "mf", "lightgcn"} <= set(model_names())
    with pytest.raises(ValueError, match="valid models"):
        Recommender("nope")


def test_not_fitted_errors() -> None:
    rec = Recommender("mf")
    with pytest.raises(NotFittedError):
        rec.recommend(["u00001"])
    with pytest.raises(NotFittedError):
        rec.save("/tmp/never")


@pytest.mark.parametrize("model", ["pop", "ease", "mf", "lightgcn"])
def test_recommend_excludes_seen_and_answers_raw_ids(split, model: str) -> None:
    rec = Recommender(model, epochs=3, progress=False).fit(split.train, valid=split.valid)
    users = split.dataset.users.raw_ids[:5].tolist()
    top = rec.recommend(users, k=7)
    assert list(top.columns) == ["user", "rank", "item", "score"]
    assert len(top) == 35 and set(top["user"]) == set(users)
    seen = pd.concat([split.train.raw_interactions(), split.valid.raw_interactions()])
    seen_pairs = set(zip(seen["user"], seen["item"], strict=True))
    assert not any((u, i) in seen_pairs for u, i in zip(top["user"], top["item"], strict=True))
    assert (top.groupby("user")["score"].apply(lambda s: s.is_monotonic_decreasing)).all()
    # score() agrees with recommend()
    first = top.iloc[0]
    assert rec.score([first["user"]], [first["item"]])[0] == pytest.approx(first["score"], rel=1e-5)


def test_unknown_ids_are_clear_errors(split) -> None:
    rec = Recommender("pop").fit(split.train)
    with pytest.raises(UnknownIdError, match="unknown user id"):
        rec.recommend(["nobody"])
    with pytest.raises(UnknownIdError, match="unknown item id"):
        rec.score(["u00000"], ["no-such-item"])


@pytest.mark.parametrize("model", ["itemknn", "lightgcn"])
def test_save_load_gives_the_same_answers(tmp_path, split, model: str) -> None:
    rec = Recommender(model, epochs=2, progress=False).fit(split.train, valid=split.valid)
    rec.save(tmp_path / "m")
    back = Recommender.load(tmp_path / "m")
    users = split.dataset.users.raw_ids[:4].tolist()
    pd.testing.assert_frame_equal(rec.recommend(users, k=5), back.recommend(users, k=5))
    assert back.config() == rec.config()
    a, b = rec.evaluate(split.test), back.evaluate(split.test)
    assert a.mean == b.mean


def test_evaluate_beats_random_and_masks_fit_data(split) -> None:
    ease = Recommender("ease", l2=50.0).fit(split.train, valid=split.valid)
    rnd = Recommender("random").fit(split.train, valid=split.valid)
    assert ease.evaluate(split.test).mean["ndcg@20"] > 2 * rnd.evaluate(split.test).mean["ndcg@20"]
    # evaluating on the training part itself with train masked finds nothing
    with pytest.warns(UserWarning, match="excluded part"):
        assert ease.evaluate(split.train).mean["recall@20"] == 0.0
    assert np.isfinite(ease.evaluate(split.test, ks=[5]).mean["recall@5"])


def test_cold_split_validates_among_cold_items() -> None:
    from kgrec.data.split import split_dataset
    from kgrec.data.synthetic import make_synthetic

    split = split_dataset(make_synthetic(num_users=120, num_items=150, seed=3), strategy="cold-item", seed=3)
    rec = Recommender("mf-attr", epochs=1, progress=False)
    evaluator = rec._valid_evaluator(split.train, split.valid)
    trained = set(split.train.interactions["item"])
    assert evaluator.candidates is not None and len(evaluator.candidates) > 0
    assert not trained & set(evaluator.candidates.tolist())
    assert set(split.valid.interactions["item"]) <= set(evaluator.candidates.tolist())
    # a warm validation part (random split) ranks among all items, unless asked
    warm = split_dataset(make_synthetic(num_users=120, num_items=150, seed=3), seed=3)
    assert rec._valid_evaluator(warm.train, warm.valid).candidates is None
    forced = Recommender("mf", valid_candidates="all")._valid_evaluator(split.train, split.valid)
    assert forced.candidates is None
    with pytest.raises(ValueError, match="valid_candidates"):
        Recommender("mf", valid_candidates="warm")
    # the history's validation metric is the cold-only one: with 1 epoch of training it is
    # already well above 0 (among all items, cold items rank below every warm one)
    rec.fit(split.train, valid=split.valid)
    assert rec.history_["valid_ndcg@20"].iloc[0] > 0


def test_softmax_loss_through_the_recommender(tmp_path, split) -> None:
    rec = Recommender("mf", epochs=3, progress=False, loss={"name": "softmax", "temperature": 0.5},
                      reg_weight=0.05)  # fmt: skip
    rec.fit(split.train, valid=split.valid)
    assert "softmax" in rec.history_.columns and "bpr" not in rec.history_.columns
    rec.save(tmp_path / "m")
    back = Recommender.load(tmp_path / "m")
    assert back.config()["loss"] == {"name": "softmax", "temperature": 0.5}
    with pytest.raises(ValueError, match="unknown loss 'warp'"):
        Recommender("mf", loss="warp")
    with pytest.raises(ValueError, match="not to the 'ease' baseline"):
        Recommender("ease", loss="softmax")
    with pytest.raises(ValueError, match="draws no negatives"):
        Recommender("mf", epochs=1, loss="softmax", sampler="dns", progress=False).fit(split.train)


def test_loss_fit_defaults_apply_under_their_loss(tmp_path, split) -> None:
    from kgrec.models import MF
    from kgrec.train import load_checkpoint

    def fitted_config(name: str, **kwargs) -> dict:
        run = tmp_path / name
        Recommender("mf", epochs=1, progress=False, run_dir=run, **kwargs).fit(split.train, valid=split.valid)
        return load_checkpoint(run / "checkpoint.pt")["config"]

    assert fitted_config("bpr")["reg_weight"] == MF.fit_defaults["reg_weight"]
    softmax = fitted_config("softmax", loss="softmax")
    expected = MF.loss_fit_defaults["softmax"]
    assert (softmax["reg_weight"], softmax["batch_size"]) == (expected["reg_weight"], expected["batch_size"])
    assert fitted_config("explicit", loss="softmax", reg_weight=0.5)["reg_weight"] == 0.5
