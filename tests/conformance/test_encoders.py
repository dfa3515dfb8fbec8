"""The contract, checked on every registered encoder (later encoders are tested automatically).

The tiny graph has a known right answer: two user groups, two item blocks; every user of group
``g`` interacts with every item of block ``g`` except one held-out item (a different one per
user). After a few dozen epochs, each user must rank the held-out item of their own block
above every item of the other block. Items carry a small KG (each item -> its own entity ->
its block's "genre" entity) so that knowledge-graph encoders get the same signal.
"""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from kgrec.data.dataset import RecDataset
from kgrec.graph import build_graph
from kgrec.models import ENCODERS, Batch, Encoder, get_encoder
from kgrec.train import fit

GROUP_SIZE = 6  # users per group
BLOCK_SIZE = 6  # items per block
NAMES = sorted(ENCODERS)


def block_dataset():
    rows, held = [], {}
    for g in range(2):
        for k in range(GROUP_SIZE):
            user = f"u{g}{k}"
            out = g * BLOCK_SIZE + k % BLOCK_SIZE
            held[user] = out
            rows += [(user, i) for i in range(g * BLOCK_SIZE, (g + 1) * BLOCK_SIZE) if i != out]
    items = range(2 * BLOCK_SIZE)
    item_entities = pd.DataFrame({"item": list(items), "entity": [f"e{i}" for i in items]})
    triples = pd.DataFrame(
        {
            "head": [f"e{i}" for i in items],
            "relation": "genre",
            "tail": [f"genre{i // BLOCK_SIZE}" for i in items],
        }
    )
    train = RecDataset.from_frames(
        pd.DataFrame(rows, columns=["user", "item"]), item_entities=item_entities, triples=triples
    )
    return train, held


@pytest.fixture(scope="module")
def data():
    train, held = block_dataset()
    return train, build_graph(train), held


def make(name: str, graph, seed: int = 0) -> Encoder:
    torch.manual_seed(seed)
    return get_encoder(name).from_data(graph)


@pytest.mark.parametrize("name", NAMES)
def test_from_data_and_shapes(name, data):
    train, graph, _ = data
    enc = make(name, graph)
    assert isinstance(enc, Encoder)
    assert isinstance(enc.out_channels, int) and enc.out_channels > 0
    users, items = enc(graph)
    assert users.shape == (train.num_users, enc.out_channels)
    assert items.shape == (train.num_items, enc.out_channels)
    assert users.dtype == items.dtype == torch.float32
    assert users.requires_grad and items.requires_grad


@pytest.mark.parametrize("name", NAMES)
def test_batch_hooks(name, data):
    _, graph, _ = data
    enc = make(name, graph)
    batch = Batch(torch.tensor([0, 7]), torch.tensor([1, 8]), torch.tensor([9, 2]))
    params = enc.reg_params(batch)
    assert isinstance(params, list) and all(isinstance(p, torch.Tensor) for p in params)
    aux = enc.aux_loss(graph, batch)
    assert aux is None or (isinstance(aux, torch.Tensor) and aux.dim() == 0)
    terms = [p.pow(2).sum() for p in params] + ([aux] if aux is not None else [])
    if terms:  # the penalties reach the parameters
        sum(terms).backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters())
    # under the full softmax loss a batch carries no negatives: [B, 0]
    empty = Batch(torch.tensor([0, 7]), torch.tensor([1, 8]), torch.empty((2, 0), dtype=torch.long))
    assert all(isinstance(p, torch.Tensor) for p in enc.reg_params(empty))
    aux = enc.aux_loss(graph, empty)
    assert aux is None or (isinstance(aux, torch.Tensor) and aux.dim() == 0)


@pytest.mark.parametrize("name", NAMES)
def test_graph_is_an_argument(name, data):
    """No cached graph state: a freshly built equal graph gives the same output."""
    train, graph, _ = data
    enc = make(name, graph)
    enc.eval()
    with torch.no_grad():
        a = enc(graph)
        b = enc(build_graph(train))
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y)
    assert not any(v is graph for v in vars(enc).values())


@pytest.mark.parametrize("loss", ["bpr", "softmax"])
@pytest.mark.parametrize("name", NAMES)
def test_learns_the_block_structure(name, loss, data):
    train, graph, held = data
    enc = make(name, graph)
    fit(enc, graph, train, epochs=40, batch_size=16, lr=0.01, seed=0, progress=False, loss=loss)
    enc.eval()
    with torch.no_grad():
        users, items = enc(graph)
        scores = users @ items.T
    for raw_user, raw_item in held.items():
        u = int(train.users.to_index([raw_user])[0])
        i = int(train.items.to_index([raw_item])[0])
        block = raw_item // BLOCK_SIZE
        others = train.items.to_index(
            [j for j in range(2 * BLOCK_SIZE) if j // BLOCK_SIZE != block]
        )
        assert scores[u, i] > scores[u, torch.as_tensor(others)].max(), (name, raw_user)


@pytest.mark.parametrize("name", NAMES)
def test_seeded_fit_is_deterministic(name, data):
    train, graph, _ = data
    runs = []
    for _ in range(2):
        enc = make(name, graph, seed=3)
        hist = fit(enc, graph, train, epochs=3, batch_size=16, lr=0.01, seed=5, progress=False)
        runs.append((enc.state_dict(), hist["loss"].tolist()))
    (s1, l1), (s2, l2) = runs
    assert l1 == l2
    assert s1.keys() == s2.keys() and all(torch.equal(s1[k], s2[k]) for k in s1)


def test_registry_names_valid_ones():
    assert {"mf", "lightgcn"} <= set(ENCODERS)
    assert get_encoder("LightGCN") is ENCODERS["lightgcn"]
    with pytest.raises(KeyError, match="valid names: .*lightgcn.*mf"):
        get_encoder("lightgnc")
