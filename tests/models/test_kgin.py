"""KGIN: aggregation against hand / loop computations, the independence losses, a KG right
answer after a short fit, and the shared encoder conformance suite."""

from __future__ import annotations

import importlib.util
import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import kgrec.models

# Registered by kgrec.models itself? Then tests/conformance already runs the suite on it.
_REGISTERED_BY_PACKAGE = "kgin" in kgrec.models.ENCODERS

import kgrec.models.kgin  # noqa: E402  (registers "kgin" until kgrec.models imports it)
from kgrec.data.dataset import RecDataset  # noqa: E402
from kgrec.graph import build_graph  # noqa: E402
from kgrec.models import Batch, get_encoder  # noqa: E402
from kgrec.models.kgin import KGIN, independence_loss  # noqa: E402
from kgrec.train import fit  # noqa: E402

KG = ("entity", "relates", "entity")


# ------------------------------------------------------------------------------------ helpers
def set_weights(enc: KGIN, seed: int = 0) -> None:
    """Distinct, well-scaled weights (double precision) so that every term shows."""
    gen = torch.Generator().manual_seed(seed)
    enc.double()
    with torch.no_grad():
        for p in (enc.user_embedding.weight, enc.node_embedding.weight, enc.relation_embedding.weight):
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
        enc.intent_logits.copy_(torch.randn(enc.intent_logits.shape, generator=gen, dtype=torch.float64))


def loop_reference(
    enc: KGIN, graph, *, normalize: bool, residual: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """KGIN's equations with plain Python loops over users, items and triples."""
    users = enc.user_embedding.weight.detach().numpy()
    nodes = enc.node_embedding.weight.detach().numpy()
    rel = enc.relation_embedding.weight.detach().numpy()
    logits = enc.intent_logits.detach().numpy()
    alpha = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    intents = alpha @ rel  # [P, d]
    item_node = enc.item_node.numpy()
    triples = set(
        zip(*(graph[KG].edge_index.tolist()), graph[KG].edge_type.tolist(), strict=True)
    )  # (h, t, r), distinct
    inter = graph["user", "interacts", "item"].edge_index.numpy()

    def norm(x: np.ndarray) -> np.ndarray:
        if not normalize:
            return x
        n = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.maximum(n, 1e-12)

    user_out, item_out = users.copy(), nodes[item_node].copy()
    u_cur, x_cur = users, nodes
    for _ in range(enc.num_layers):
        u_new = np.zeros_like(users)
        for u in range(users.shape[0]):
            its = inter[1, inter[0] == u]
            if len(its) == 0:
                continue
            mean = np.mean([x_cur[item_node[i]] for i in its], axis=0)
            s = intents @ u_cur[u]
            beta = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
            u_new[u] = (beta @ intents + (1.0 if residual else 0.0)) * mean
        x_new = np.zeros_like(nodes)
        for h in range(nodes.shape[0]):
            msgs = [rel[r] * x_cur[t] for (hh, t, r) in triples if hh == h]
            if msgs:
                x_new[h] = np.mean(msgs, axis=0)
        u_cur, x_cur = norm(u_new), norm(x_new)
        user_out += u_cur
        item_out += x_cur[item_node]
    return user_out, item_out


@pytest.fixture()
def tiny_graph(tiny):
    return tiny, build_graph(tiny)


def make(graph, **hyper) -> KGIN:
    """A KGIN without dropout unless asked (deterministic in training mode too)."""
    torch.manual_seed(0)
    return KGIN.from_data(graph, **{"message_dropout": 0.0, "edge_dropout": 0.0, **hyper})


# --------------------------------------------------------------------------- aggregation
def test_first_layer_by_hand(tiny_graph):
    """One layer, no normalisation: every output term written out for the tiny fixture
    (u1: a, b; u2: b, c; u3: a; m.a -genre-> g.x, m.d -genre-> g.x, m.b -director-> p.1)."""
    train, graph = tiny_graph
    enc = make(graph, num_layers=1, normalize=False, num_intents=2)
    set_weights(enc)
    enc.eval()
    with torch.no_grad():
        users, items = enc(graph)
    ent = {e: int(train.entities.to_index(e)) for e in ["m.a", "m.b", "m.c", "m.d", "g.x", "p.1"]}
    rel_id = {r: int(train.relations.to_index(r)) for r in ["genre", "director"]}
    item = {i: int(train.items.to_index(i)) for i in "abcd"}
    user = {u: int(train.users.to_index(u)) for u in ["u1", "u2", "u3"]}
    x = enc.node_embedding.weight.detach()
    e_r = enc.relation_embedding.weight.detach()
    e_u = enc.user_embedding.weight.detach()
    node = {k: x[ent[f"m.{k}"]] for k in "abcd"}

    # items: ego + the mean over their entity's triples (m.c has none; m.d is a cold item)
    torch.testing.assert_close(items[item["a"]], node["a"] + e_r[rel_id["genre"]] * x[ent["g.x"]])
    torch.testing.assert_close(items[item["b"]], node["b"] + e_r[rel_id["director"]] * x[ent["p.1"]])
    torch.testing.assert_close(items[item["c"]], node["c"])
    torch.testing.assert_close(items[item["d"]], node["d"] + e_r[rel_id["genre"]] * x[ent["g.x"]])

    # users: ego + (Σ_p β(u, p) e_p) ⊙ mean of their items' ego embeddings
    intents = torch.softmax(enc.intent_logits.detach(), 1) @ e_r
    for u, its in {"u1": "ab", "u2": "bc", "u3": "a"}.items():
        beta = torch.softmax(intents @ e_u[user[u]], 0)
        mean = torch.stack([node[i] for i in its]).mean(0)
        torch.testing.assert_close(users[user[u]], e_u[user[u]] + (beta @ intents) * mean)


@pytest.mark.parametrize("normalize, residual", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("num_layers", [0, 1, 2, 3])
def test_forward_matches_loop_reference(tiny_graph, num_layers, normalize, residual):
    _, graph = tiny_graph
    enc = make(
        graph, num_layers=num_layers, normalize=normalize, intent_residual=residual, num_intents=3
    )
    set_weights(enc, seed=num_layers)
    enc.eval()
    with torch.no_grad():
        users, items = enc(graph)
    ref_users, ref_items = loop_reference(enc, graph, normalize=normalize, residual=residual)
    np.testing.assert_allclose(users.detach().numpy(), ref_users, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(items.detach().numpy(), ref_items, rtol=1e-10, atol=1e-12)


def test_gradients_pass_gradcheck(tiny_graph):
    """The sparse products' and the normalisation's custom backward passes are exact."""
    _, graph = tiny_graph
    enc = make(graph, num_layers=2, num_intents=2, embedding_dim=4)
    set_weights(enc, seed=7)
    names = ["user_embedding.weight", "node_embedding.weight", "relation_embedding.weight", "intent_logits"]
    params = dict(enc.named_parameters())
    inputs = tuple(params[n].detach().clone().requires_grad_() for n in names)

    def forward(*weights):
        return torch.func.functional_call(enc, dict(zip(names, weights, strict=True)), (graph,))

    assert torch.autograd.gradcheck(forward, inputs, fast_mode=True)


def test_cold_item_gets_its_representation_from_the_kg(tiny_graph):
    train, graph = tiny_graph
    enc = make(graph, num_layers=2)
    enc.eval()
    with torch.no_grad():
        _, items = enc(graph)
        ego = enc.node_embedding.weight[enc.item_node]
    d = int(train.items.to_index("d"))  # no interaction, linked to g.x
    c = int(train.items.to_index("c"))  # interactions, but no triple
    assert not torch.allclose(items[d], ego[d])
    torch.testing.assert_close(items[c], ego[c])


def test_items_sharing_an_entity_share_its_representation(tiny_graph):
    train, graph = tiny_graph
    a, b = (int(train.items.to_index(i)) for i in "ab")
    entity_index = graph["item"].entity_index.clone()
    entity_index[b] = entity_index[a]  # two items on one entity (a new tensor: rebuilt)
    graph["item"].entity_index = entity_index
    enc = make(graph, num_layers=2)
    enc.eval()
    with torch.no_grad():
        _, items = enc(graph)
    torch.testing.assert_close(items[a], items[b])
    ref_users, ref_items = loop_reference(enc, graph, normalize=True)
    np.testing.assert_allclose(items.numpy(), ref_items, rtol=1e-5, atol=1e-6)


def test_edge_dropout_reaverages_kept_neighbours(tiny_graph):
    """Training mode with edge dropout gives the mean over a random subset; eval mode is exact."""
    _, graph = tiny_graph
    enc = make(graph, num_layers=1, edge_dropout=0.5, normalize=False)
    enc.eval()
    with torch.no_grad():
        exact = enc(graph)
    enc.train()
    with torch.no_grad():
        dropped = [enc(graph) for _ in range(4)]
    assert any(not torch.allclose(d[1], exact[1]) for d in dropped)
    enc.eval()
    with torch.no_grad():
        again = enc(graph)
    for x, y in zip(exact, again, strict=True):
        torch.testing.assert_close(x, y)


def test_structure_is_built_once_per_graph(tiny_graph):
    train, graph = tiny_graph
    st = kgrec.models.kgin._structure(graph)
    assert kgrec.models.kgin._structure(graph) is st
    assert kgrec.models.kgin._structure(build_graph(train)) is not st


# ---------------------------------------------------------------------------- independence
def factorial_design(num_factors: int) -> torch.Tensor:
    """Rows = binary factors over all 2^P combinations: pairwise independent samples."""
    rows = [[float((j >> p) & 1) for j in range(2**num_factors)] for p in range(num_factors)]
    return torch.tensor(rows, dtype=torch.float64)


def test_distance_correlation_zero_for_independent_and_high_for_identical():
    independent = factorial_design(4)  # [4, 16]
    assert independence_loss(independent, "distance") < 1e-3
    same = independent[:1].repeat(4, 1)
    torch.testing.assert_close(
        independence_loss(same, "distance"), torch.tensor(12.0, dtype=torch.float64), atol=1e-2, rtol=0
    )
    # a monotone (non-linear) function of an intent is fully dependent as well
    x = torch.randn(1, 64, dtype=torch.float64)
    assert independence_loss(torch.cat([x, x.pow(3)]), "distance") > 1.5  # 2 ordered pairs ~0.9+


def test_cosine_and_mi_options():
    orthogonal = torch.eye(4, 8, dtype=torch.float64)
    same = torch.ones(4, 8, dtype=torch.float64)
    assert independence_loss(orthogonal, "cosine") == 0
    torch.testing.assert_close(independence_loss(same, "cosine"), torch.tensor(12.0, dtype=torch.float64))
    tau = 0.2
    best = 4 * math.log(1 + 3 * math.exp(-1 / tau))
    torch.testing.assert_close(
        independence_loss(orthogonal, "mi", temperature=tau), torch.tensor(best, dtype=torch.float64)
    )
    torch.testing.assert_close(
        independence_loss(same, "mi", temperature=tau), torch.tensor(4 * math.log(4), dtype=torch.float64)
    )


def test_independence_loss_rejects_bad_input():
    with pytest.raises(ValueError, match=r"expected intents of shape \[P, d\]"):
        independence_loss(torch.zeros(4))
    with pytest.raises(ValueError, match="expected kind in"):
        independence_loss(torch.zeros(2, 3), "pearson")  # type: ignore[arg-type]


def test_aux_loss_is_the_weighted_independence_of_the_intents(tiny_graph):
    _, graph = tiny_graph
    batch = Batch(torch.tensor([0]), torch.tensor([0]), torch.tensor([1]))
    enc = make(graph, independence_weight=0.5, independence="cosine")
    torch.testing.assert_close(
        enc.aux_loss(graph, batch), 0.5 * independence_loss(enc.intents().detach(), "cosine")
    )
    enc.aux_loss(graph, batch).backward()
    assert enc.intent_logits.grad.abs().sum() > 0
    assert enc.relation_embedding.weight.grad.abs().sum() > 0
    assert make(graph, independence_weight=0.0).aux_loss(graph, batch) is None


def test_reg_params_are_the_batch_ego_rows(tiny_graph):
    _, graph = tiny_graph
    enc = make(graph)
    batch = Batch(torch.tensor([0, 2]), torch.tensor([1, 0]), torch.tensor([3, 2]))
    users, items = enc.reg_params(batch)
    torch.testing.assert_close(users, enc.user_embedding.weight[[0, 2]])
    torch.testing.assert_close(items, enc.node_embedding.weight[enc.item_node[[1, 0, 3, 2]]])


# ---------------------------------------------------------------------------- errors
def test_errors_say_what_was_expected(tiny_graph):
    train, graph = tiny_graph
    plain = RecDataset.from_frames(pd.DataFrame({"user": [0, 1], "item": [0, 1]}))
    with pytest.raises(ValueError, match="KGIN expected a graph with knowledge-graph relations"):
        KGIN.from_data(build_graph(plain))
    with pytest.raises(ValueError, match=r"expected independence in .* \(got 'pearson'\)"):
        KGIN.from_data(graph, independence="pearson")
    with pytest.raises(ValueError, match=r"expected message_dropout in \[0, 1\) \(got 1.5\)"):
        KGIN.from_data(graph, message_dropout=1.5)
    other = RecDataset.from_frames(
        pd.DataFrame({"user": ["u1", "u2"], "item": ["a", "b"]}),
        item_entities=pd.DataFrame({"item": ["a", "b"], "entity": ["m.a", "m.b"]}),
        triples=pd.DataFrame({"head": ["m.a"], "relation": ["genre"], "tail": ["m.b"]}),
    )
    with pytest.raises(ValueError, match="expected a graph with"):
        KGIN.from_data(graph)(build_graph(other))


# ---------------------------------------------------------------------------- right answer
def director_dataset():
    """Two user groups; group g watched the films of director g (all films share one genre).
    Two cold films per director have no interaction: only the KG links them to a group."""
    rows = [(f"u{g}{k}", f"f{g}{j}") for g in range(2) for k in range(6) for j in range(5) if (j + k) % 5]
    films = [f"f{g}{j}" for g in range(2) for j in range(5)] + ["cold0a", "cold0b", "cold1a", "cold1b"]
    director = {f: f"director{f[-2] if f.startswith('f') else f[4]}" for f in films}
    triples = [(f"m.{f}", "directed_by", director[f]) for f in films]
    triples += [(f"m.{f}", "genre", "drama") for f in films]
    train = RecDataset.from_frames(
        pd.DataFrame(rows, columns=["user", "item"]),
        item_entities=pd.DataFrame({"item": films, "entity": [f"m.{f}" for f in films]}),
        triples=pd.DataFrame(triples, columns=["head", "relation", "tail"]),
    )
    return train


def test_cold_items_ranked_through_their_relation():
    train = director_dataset()
    graph = build_graph(train)
    torch.manual_seed(0)
    enc = get_encoder("kgin").from_data(graph, edge_dropout=0.0)
    fit(enc, graph, train, epochs=30, batch_size=16, lr=0.01, seed=0, progress=False)
    enc.eval()
    with torch.no_grad():
        users, items = enc(graph)
        scores = users @ items.T
    cold = {g: train.items.to_index([f"cold{g}a", f"cold{g}b"]) for g in range(2)}
    for g, k in itertools.product(range(2), range(6)):
        u = int(train.users.to_index(f"u{g}{k}"))
        own, other = scores[u, cold[g]], scores[u, cold[1 - g]]
        assert own.min() > other.max(), (g, k, own.tolist(), other.tolist())


# ---------------------------------------------------------------------------- conformance
def _conformance_module():
    path = Path(__file__).resolve().parents[1] / "conformance" / "test_encoders.py"
    spec = importlib.util.spec_from_file_location("_kgin_conformance", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONFORMANCE = _conformance_module()
CONFORMANCE_TESTS = [
    "test_from_data_and_shapes",
    "test_batch_hooks",
    "test_graph_is_an_argument",
    "test_learns_the_block_structure",
    "test_seeded_fit_is_deterministic",
]


@pytest.mark.skipif(
    _REGISTERED_BY_PACKAGE, reason="kgrec.models registers kgin: tests/conformance covers it"
)
@pytest.mark.parametrize("test_name", CONFORMANCE_TESTS)
def test_conformance_suite(test_name):
    train, held = CONFORMANCE.block_dataset()
    getattr(CONFORMANCE, test_name)("kgin", (train, build_graph(train), held))
