"""Attribute-kNN against a brute-force TF-IDF cosine on a tiny knowledge graph."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.data.dataset import RecDataset
from kgrec.exceptions import NotFittedError
from kgrec.models.attribute_knn import AttributeKNN, item_attribute_matrix
from kgrec.recommender import BASELINES, Recommender

ITEMS = ["a", "b", "c", "d", "e"]
# item -> attributes; d has no interaction (cold), e has no entity at all
ATTRS = {"a": ["g.x", "p.1"], "b": ["g.x", "p.2"], "c": ["g.y", "p.2"], "d": ["g.x", "p.1", "p.3"]}
PAIRS = [("u1", "a"), ("u1", "b"), ("u2", "c"), ("u2", "b"), ("u3", "e")]


@pytest.fixture(scope="module")
def data() -> RecDataset:
    heads, tails = [], []
    for item, attrs in ATTRS.items():
        heads += [f"m.{item}"] * len(attrs)
        tails += attrs
    return RecDataset.from_frames(
        pd.DataFrame(PAIRS, columns=["user", "item"]),
        items=ITEMS,
        item_entities=pd.DataFrame({"item": list(ATTRS), "entity": [f"m.{i}" for i in ATTRS]}),
        triples=pd.DataFrame({"head": heads, "relation": "r", "tail": tails}),
    )


def brute_force(ds: RecDataset, min_links: int) -> np.ndarray:
    vocab = sorted({a for attrs in ATTRS.values() for a in attrs})
    x = np.zeros((len(ITEMS), len(vocab)))
    for item, attrs in ATTRS.items():
        for a in attrs:
            x[ITEMS.index(item), vocab.index(a)] = 1.0
    df = x.sum(0)
    w = np.where(df >= min_links, np.log(len(ITEMS) / np.maximum(df, 1)), 0.0)
    v = x * w
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    v = np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
    users = ["u1", "u2", "u3"]
    profile = np.zeros((3, len(vocab)))
    for u, i in PAIRS:
        profile[users.index(u)] += v[ITEMS.index(i)]
    scores = profile @ v.T  # [U, I] in the ITEMS order
    # reorder to the dataset's local indices
    out = np.zeros((3, len(ITEMS)))
    for k, u in enumerate(users):
        for j, i in enumerate(ITEMS):
            out[int(ds.users.to_index([u])[0]), int(ds.items.to_index([i])[0])] = scores[k, j]
    return out


def test_item_attribute_matrix(data):
    x = item_attribute_matrix(data).toarray()
    for item in ITEMS:
        row = x[int(data.items.to_index([item])[0])]
        names = {data.entities.raw_ids[e] for e in np.flatnonzero(row)}
        assert names == set(ATTRS.get(item, [])), item
    assert set(np.unique(x)) <= {0.0, 1.0}


@pytest.mark.parametrize("min_links", [1, 2])
def test_scores_match_brute_force(data, min_links):
    model = AttributeKNN(min_links).fit(data)
    got = model.score_users(torch.arange(3)).numpy()
    np.testing.assert_allclose(got, brute_force(data, min_links), rtol=1e-5, atol=1e-6)


def test_cold_item_is_scored_from_its_attributes(data):
    model = AttributeKNN().fit(data)
    u1 = int(data.users.to_index(["u1"])[0])
    d, c = (int(data.items.to_index([i])[0]) for i in ("d", "c"))
    scores = model.score_users(torch.tensor([u1]))[0]
    assert scores[d] > 0 and scores[d] > scores[c]  # d shares g.x and p.1 with u1's items


def test_errors_and_registry(data):
    with pytest.raises(NotFittedError):
        AttributeKNN().score_users(torch.tensor([0]))
    with pytest.raises(ValueError, match="min_links"):
        AttributeKNN(0)
    assert BASELINES["attrknn"] is AttributeKNN
    rec = Recommender("attrknn", min_links=1).fit(data)
    assert rec.score_users(torch.tensor([0])).shape == (1, len(ITEMS))
