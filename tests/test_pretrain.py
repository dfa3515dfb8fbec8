"""Pretrain then fine-tune: TransE / TransR learn a tiny KG, tables are copied, frozen, released."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.cli import main
from kgrec.data.dataset import RecDataset
from kgrec.data.split import split_dataset
from kgrec.data.synthetic import make_synthetic
from kgrec.graph import build_graph
from kgrec.models import MF, LightGCN
from kgrec.pretrain import (
    TransE,
    init_from_pretrained,
    pretrain_kg,
    run_pretraining,
    tables_from_entities,
)
from kgrec.pretrain.kg import tail_ranks
from kgrec.recommender import Recommender
from kgrec.train import Callback, ProgressiveUnfreezing, fit


@pytest.fixture(scope="module")
def tiny_kg() -> RecDataset:
    """8 movies, each with one of 2 genres and one of 3 directors; 3 users, one movie unlinked."""
    movies = [f"m{i}" for i in range(8)]
    triples = []
    for i, m in enumerate(movies):
        triples += [(m, "genre", f"g{i % 2}"), (m, "director", f"d{i % 3}")]
    inter = pd.DataFrame({"user": [0, 0, 1, 1, 2, 2, 2], "item": movies[:6] + ["x"]})
    return RecDataset.from_frames(
        inter,
        items=movies + ["x"],
        item_entities=pd.DataFrame({"item": movies, "entity": movies}),
        triples=pd.DataFrame(triples, columns=["head", "relation", "tail"]),
    )


@pytest.fixture(scope="module")
def split():
    return split_dataset(
        make_synthetic(num_users=120, num_items=150, seed=3), strategy="random", seed=3
    )


def kg_triples(ds: RecDataset) -> torch.Tensor:
    t = ds.triples
    return torch.as_tensor(np.stack([t["head"], t["relation"], t["tail"]], 1).astype(np.int64))


@pytest.mark.parametrize("method", ["transe", "transr"])
def test_kg_pretraining_learns_h_plus_r_close_to_t(tiny_kg, method):
    result = pretrain_kg(
        tiny_kg, method=method, embedding_dim=16, epochs=150, batch_size=16, lr=0.02, seed=0
    )
    ranks = tail_ranks(result.model, kg_triples(tiny_kg))
    assert ranks.tolist() == [1] * len(ranks)  # the true tail ranks first among all 13 entities
    hist = result.history
    assert hist["loss"].iloc[-1] < hist["loss"].iloc[0] and hist["mrr"].iloc[-1] == 1.0
    # TransE's geometry: e_h + r is closer to the true tail than to any other entity
    if method == "transe":
        model: TransE = result.model
        h, r, t = kg_triples(tiny_kg).T
        e = model.entity_embedding.weight
        q = e[h] + model.relation_embedding.weight[r]
        assert torch.equal(torch.cdist(q, e, p=1).argmin(1), t)


def test_kg_pretraining_is_reproducible_and_writes_history(tiny_kg, tmp_path):
    a = pretrain_kg(tiny_kg, embedding_dim=8, epochs=3, seed=1, run_dir=tmp_path)
    b = pretrain_kg(tiny_kg, embedding_dim=8, epochs=3, seed=1)
    assert torch.equal(a.tables["entity_embedding.weight"], b.tables["entity_embedding.weight"])
    assert list(pd.read_csv(tmp_path / "history.csv")["epoch"]) == [0, 1, 2]
    with pytest.raises(ValueError, match="valid: transe, transr"):
        pretrain_kg(tiny_kg, method="distmult")  # type: ignore[arg-type]


def test_tables_from_entities(tiny_kg):
    ent = torch.randn(tiny_kg.num_entities, 4, generator=torch.Generator().manual_seed(0))
    tables = tables_from_entities(tiny_kg, ent, generator=torch.Generator().manual_seed(0))
    items, users = tables["item_embedding.weight"], tables["user_embedding.weight"]
    linked = np.flatnonzero(tiny_kg.item_entity >= 0)
    torch.testing.assert_close(items[linked], ent[tiny_kg.item_entity[linked]])
    inter = tiny_kg.interactions
    for u in range(tiny_kg.num_users):
        mine = torch.as_tensor(inter.loc[inter["user"] == u, "item"].to_numpy().copy())
        torch.testing.assert_close(users[u], items[mine].mean(0))


class HookEncoder(MF):
    def init_from_pretrained(self, tables):
        self.got = sorted(tables)
        return ["custom"]


class NodeTableEncoder(torch.nn.Module):
    """The collaborative-KG layout (KGAT): users, then entities, then unaligned items."""

    def __init__(self) -> None:
        super().__init__()
        self.num_users = 2
        self.node_embedding = torch.nn.Embedding(2 + 3 + 1, 4)
        self.register_buffer("item_node", torch.tensor([3, 2, 5]))  # items 0, 1 -> entities 1, 0


def test_init_from_pretrained_by_name_shape_hook_and_node_table(split):
    graph = build_graph(split.train)
    lgcn = LightGCN.from_data(graph, embedding_dim=8)
    tables = {
        "user_embedding.weight": torch.ones(split.train.num_users, 8),
        "item_embedding.weight": torch.full((split.train.num_items, 8), 2.0),
        "entity_embedding.weight": torch.zeros(5, 8),  # LightGCN has none: ignored
        "relation_embedding.weight": torch.zeros(3, 7),
    }
    copied = init_from_pretrained(lgcn, tables)
    assert copied == ["user_embedding.weight", "item_embedding.weight"]
    assert torch.equal(lgcn.item_embedding.weight, tables["item_embedding.weight"])
    # rescale keeps the encoder's initial mean row norm
    fresh = LightGCN.from_data(graph, embedding_dim=8)
    norm = fresh.user_embedding.weight.norm(dim=-1).mean().item()
    init_from_pretrained(fresh, tables, rescale=True)
    assert fresh.user_embedding.weight.norm(dim=-1).mean().item() == pytest.approx(norm, rel=1e-5)
    # a wrong width copies nothing
    assert init_from_pretrained(LightGCN.from_data(graph, embedding_dim=4), tables) == []
    # the encoder's own hook wins
    hook = HookEncoder.from_data(graph, embedding_dim=8)
    assert init_from_pretrained(hook, tables) == ["custom"] and hook.got == sorted(tables)
    # one node table: users on rows 0..U-1, entity e on row U + e, items on item_node
    node = NodeTableEncoder()
    node_tables = {
        "user_embedding.weight": torch.tensor([[1.0] * 4, [2.0] * 4]),
        "entity_embedding.weight": torch.tensor([[10.0] * 4, [11.0] * 4, [12.0] * 4]),
        "item_embedding.weight": torch.tensor([[20.0] * 4, [21.0] * 4, [22.0] * 4]),
    }
    assert init_from_pretrained(node, node_tables) == ["node_embedding.weight"]
    assert node.node_embedding.weight[:, 0].tolist() == [1.0, 2.0, 21.0, 20.0, 12.0, 22.0]


class FirstEpochWeights(Callback):
    def __init__(self) -> None:
        self.weights: list[dict[str, torch.Tensor]] = []

    def on_epoch_end(self, state) -> None:
        self.weights.append({k: v.clone() for k, v in state.encoder.state_dict().items()})


def test_mf_pretraining_initialises_lightgcn_then_frozen_then_released(split, tmp_path):
    result = run_pretraining("mf", split.train, split.valid, embedding_dim=16, epochs=8, lr=1e-2,
                             run_dir=tmp_path / "pre", progress=False)  # fmt: skip
    assert (tmp_path / "pre" / "history.csv").exists() and (tmp_path / "pre" / "tables.pt").exists()
    graph = build_graph(split.train)
    torch.manual_seed(0)
    enc = LightGCN.from_data(graph, embedding_dim=16)
    names = init_from_pretrained(enc, result.tables)
    assert names == ["user_embedding.weight", "item_embedding.weight"]
    assert torch.equal(enc.user_embedding.weight, result.tables["user_embedding.weight"])
    seen = FirstEpochWeights()
    fit(enc, graph, split.train, epochs=4, lr=1e-2, progress=False,
        callbacks=[ProgressiveUnfreezing({"item_embedding.weight": 2, "user_embedding.weight": 1}), seen])  # fmt: skip
    items = [w["item_embedding.weight"] for w in seen.weights]
    users = [w["user_embedding.weight"] for w in seen.weights]
    pre_items, pre_users = (
        result.tables["item_embedding.weight"],
        result.tables["user_embedding.weight"],
    )
    assert torch.equal(items[0], pre_items) and torch.equal(items[1], pre_items)  # frozen 0-1
    assert not torch.equal(items[2], pre_items)  # released at 2
    assert torch.equal(users[0], pre_users) and not torch.equal(users[1], pre_users)
    # a second call with the same arguments loads the saved tables
    again = run_pretraining("mf", split.train, split.valid, embedding_dim=16, epochs=8, lr=1e-2,
                            run_dir=tmp_path / "pre", progress=False)  # fmt: skip
    assert again.model is None and torch.equal(again.tables["item_embedding.weight"], pre_items)


def test_mf_pretraining_gives_lightgcn_a_head_start(split):
    """Fine-tuning starts where MF ended: the first epoch's validation is far above a cold start."""

    def first_valid(pretrain):
        rec = Recommender(
            "lightgcn", epochs=1, lr=1e-3, progress=False, embedding_dim=16, pretrain=pretrain
        )
        rec.fit(split.train, valid=split.valid)
        return float(rec.history_["valid_ndcg@20"].iloc[0])

    assert first_valid({"name": "mf", "epochs": 30, "lr": 1e-2}) > 1.5 * first_valid(None)


def test_recommender_runs_the_chain_and_saves_pretrain_history(split, tmp_path):
    rec = Recommender("lightgcn", epochs=3, progress=False, embedding_dim=8, run_dir=tmp_path / "run",
                      pretrain={"name": "transe", "epochs": 2, "freeze_epochs": 2})  # fmt: skip
    rec.fit(split.train, valid=split.valid)
    pre = pd.read_csv(tmp_path / "run" / "pretrain" / "history.csv")
    assert list(pre["epoch"]) == [0, 1] and {"loss", "mrr", "hits@10"} <= set(pre.columns)
    assert rec.history_["frozen"].tolist() == [2.0, 2.0, 0.0]
    assert rec.config()["pretrain"] == {"name": "transe", "epochs": 2, "freeze_epochs": 2}
    rec.save(tmp_path / "model")
    back = Recommender.load(tmp_path / "model")
    assert back.config() == rec.config()
    with pytest.raises(ValueError, match="valid: mf, transe, transr"):
        Recommender("lightgcn", pretrain="word2vec")
    with pytest.raises(ValueError, match="baseline"):
        Recommender("ease", pretrain="mf")


def test_cli_train_with_pretrain_flag(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('epochs = 2\nembedding_dim = 8\n[pretrain]\nname = "mf"\nepochs = 2\n')
    out = tmp_path / "run"
    code = main(["train", "synthetic", "--model", "lightgcn", "--out", str(out), "--config", str(config),
                 "--no-progress"])  # fmt: skip
    assert code == 0
    assert (out / "train" / "pretrain" / "history.csv").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["pretrain"] == {"name": "mf", "epochs": 2}
    out2 = tmp_path / "run2"
    code = main(["train", "synthetic", "--model", "mf", "--out", str(out2), "--epochs", "1", "--pretrain",
                 "transe", "--augment", "simgcl", "--sampler", "dns", "--no-progress"])  # fmt: skip
    assert code == 0
    hist = json.loads((out2 / "metrics.json").read_text())["history"]
    assert "simgcl" in hist[0]
