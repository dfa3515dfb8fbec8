"""Training and scoring on a chosen device: ``Recommender(device=...)`` end to end.

Every case runs on the CPU here and again on CUDA where torch sees a GPU (skipped otherwise,
with the reason): fit with each training technique, evaluate, recommend, score, save and load
onto the CPU. Encoder forwards on CUDA must agree with the same weights on the CPU.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from kgrec.cli import main
from kgrec.data.split import split_dataset
from kgrec.data.synthetic import make_synthetic
from kgrec.fusion import FusedRecommender
from kgrec.graph import build_graph
from kgrec.models import ENCODERS, get_encoder
from kgrec.recommender import Recommender, resolve_device

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA device here")
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]

#: (model, Recommender keyword arguments): every training technique on some encoder
CASES = [
    ("mf", {}),
    ("mf-attr", {}),
    ("lightgcn", {"loss": "softmax"}),
    ("lightgcn", {"loss": "sampled_softmax", "num_negatives": 4}),
    ("lightgcn", {"sampler": "dns"}),
    ("lightgcn", {"curriculum": "linear"}),
    ("lightgcn", {"sampler": "popularity", "lr_schedule": {"name": "cosine", "warmup_epochs": 1}}),
    ("lightgcn", {"augment": "sgl"}),
    ("lightgcn", {"augment": "simgcl"}),
    ("lightgcn", {"pretrain": {"name": "mf", "epochs": 2}}),
    ("kglightgcn", {"pretrain": {"name": "transe", "epochs": 1, "eval_triples": 20}}),
    ("kgat", {"pretrain": {"name": "transr", "epochs": 1, "eval_triples": 20}}),
    ("cke", {}),
    ("kgin", {}),
]


@pytest.fixture(scope="module")
def split():
    return split_dataset(make_synthetic(num_users=80, num_items=90, seed=5), strategy="random", seed=5)


def test_resolve_device(monkeypatch) -> None:
    assert resolve_device(None) == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="torch sees no CUDA device"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="torch sees no CUDA device"):
        Recommender("mf", device="cuda:1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("model", "options"), CASES, ids=[f"{m}-{'-'.join(o) or 'plain'}" for m, o in CASES])
def test_fit_score_save_load_on_device(tmp_path, split, device, model, options) -> None:
    rec = Recommender(model, epochs=2, device=device, progress=False, run_dir=tmp_path / "run", **options)
    rec.fit(split.train, valid=split.valid)
    assert all(p.device.type == device for p in rec.encoder.parameters())
    assert np.isfinite(rec.history_["loss"]).all()
    result = rec.evaluate(split.test)
    assert 0.0 <= result.mean["ndcg@20"] <= 1.0
    users = split.dataset.users.raw_ids[:3].tolist()
    top = rec.recommend(users, k=5)
    assert len(top) == 15
    np.testing.assert_allclose(rec.score(top["user"].tolist(), top["item"].tolist()), top["score"], rtol=1e-5)
    rec.save(tmp_path / "model")
    back = Recommender.load(tmp_path / "model")  # onto the CPU, wherever it was trained
    assert all(p.device.type == "cpu" for p in back.encoder.parameters())
    again = back.recommend(users, k=5)
    np.testing.assert_allclose(again["score"], top["score"], rtol=1e-4, atol=1e-5)
    assert back.evaluate(split.test).mean["ndcg@20"] == pytest.approx(result.mean["ndcg@20"], abs=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_fused_members_on_device(split, device) -> None:
    members = [
        Recommender("lightgcn", epochs=2, device=device, progress=False).fit(split.train, valid=split.valid),
        Recommender("ease", l2=50.0).fit(split.train, valid=split.valid),
    ]
    fused = FusedRecommender(members).fit(split.valid)
    top = fused.recommend(split.dataset.users.raw_ids[:2].tolist(), k=4)
    assert len(top) == 8 and np.isfinite(top["score"]).all()
    assert 0.0 <= fused.evaluate(split.test).mean["ndcg@20"] <= 1.0


@CUDA
@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_cuda_forward_matches_cpu(split, name) -> None:
    """The same weights give the same embeddings on CUDA as on the CPU."""
    graph = build_graph(split.train)
    torch.manual_seed(0)
    enc = get_encoder(name).from_data(graph).eval()
    with torch.no_grad():
        cpu = [x.clone() for x in enc(graph)]  # MF returns its tables, which .to() moves
        gpu = enc.to("cuda")(build_graph(split.train).to("cuda"))
    for a, b in zip(cpu, gpu, strict=True):
        assert b.device.type == "cuda"
        torch.testing.assert_close(b.cpu(), a, rtol=1e-4, atol=1e-5)


def test_cli_records_the_device(tmp_path) -> None:
    out = tmp_path / "run"
    code = main(["train", "synthetic", "--model", "mf", "--out", str(out), "--epochs", "1", "--device", "cpu", "--no-progress"])
    assert code == 0
    assert json.loads((out / "metrics.json").read_text())["device"] == "cpu"
