"""A toy world for knowledge-graph encoders: the right answer is reachable only through the KG."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.data.dataset import RecDataset
from kgrec.scoring.samplers import NegativeSampler, PositiveIndex

GROUP_SIZE = 10  # users per group, warm items per genre


def genre_world(
    *, swap: bool = False, relations: tuple[str, ...] = ("genre", "director", "studio")
) -> RecDataset:
    """Two user groups; group ``g`` likes the warm items of group ``g`` (each user all but one).

    Every item of group ``g`` links to the group's entities ``<relation>:<g>`` (its genre,
    director and studio by default). Two cold items ``x0`` and ``x1`` have no interaction at
    all: only their KG links tell them apart (``x0`` links to group 0's entities and ``x1`` to
    group 1's; ``swap=True`` exchanges them). Each item is aligned to its own entity ``e:<item>``.
    """
    rows = []
    for g in range(2):
        for k in range(GROUP_SIZE):
            rows += [(f"u{g}{k}", f"i{g}{j}") for j in range(GROUP_SIZE) if j != k]
    items = [f"i{g}{j}" for g in range(2) for j in range(GROUP_SIZE)] + ["x0", "x1"]
    group = {item: int(item[1]) for item in items}
    if swap:
        group["x0"], group["x1"] = 1, 0
    triples = [(f"e:{i}", rel, f"{rel}:{group[i]}") for i in items for rel in relations]
    return RecDataset.from_frames(
        pd.DataFrame(rows, columns=["user", "item"]),
        items=items,
        item_entities=pd.DataFrame({"item": items, "entity": [f"e:{i}" for i in items]}),
        triples=pd.DataFrame(triples, columns=["head", "relation", "tail"]),
    )


def cold_preferences(train: RecDataset, scores) -> list[tuple[str, str]]:
    """``(user, preferred cold item)`` for every user, from a ``[U, I]`` score matrix."""
    x = train.items.to_index(["x0", "x1"])
    out = []
    for u, raw in enumerate(train.users.to_raw(range(train.num_users))):
        s = scores[u, x].detach()
        out.append((str(raw), "x0" if float(s[0]) > float(s[1]) else "x1"))
    return out


@pytest.fixture()
def world():
    return genre_world, cold_preferences


class WarmSampler(NegativeSampler):
    """Uniform negatives among the items *with* training interactions (the user's own excluded).

    A cold item is not in the catalogue the model is trained on: sampling it as a negative would
    teach the model to rank it low for exactly the users it resembles.
    """

    def __init__(self, train: RecDataset) -> None:
        inter = train.interactions
        self.index = PositiveIndex(
            inter["user"].to_numpy(), inter["item"].to_numpy(), num_users=train.num_users
        )
        self.warm = torch.as_tensor(np.unique(inter["item"].to_numpy()))

    def sample(
        self, users: torch.Tensor, num_items: int, generator: torch.Generator
    ) -> torch.Tensor:
        out = self.warm[torch.randint(len(self.warm), users.shape, generator=generator)]
        for _ in range(100):  # rejection: a handful of rounds in practice
            bad = self.index.contains(users, out)
            if not bool(bad.any()):
                break
            out[bad] = self.warm[
                torch.randint(len(self.warm), (int(bad.sum()),), generator=generator)
            ]
        return out


def assert_cold_items_follow_their_links(make_encoder, *, swap: bool, epochs: int) -> None:
    """Train ``make_encoder(graph)`` on :func:`genre_world` with warm-only negatives; every user
    must then prefer the cold item linked to their group's entities (and follow ``swap``)."""
    from kgrec.graph import build_graph
    from kgrec.train import fit

    train = genre_world(swap=swap)
    graph = build_graph(train)
    torch.manual_seed(0)
    enc = make_encoder(graph)
    fit(enc, graph, train, epochs=epochs, batch_size=32, lr=0.01, seed=0, progress=False,
        sampler=WarmSampler(train))  # fmt: skip
    enc.eval()
    with torch.no_grad():
        users, items = enc(graph)
    prefs = cold_preferences(train, users @ items.T)
    own = {"0": "x1" if swap else "x0", "1": "x0" if swap else "x1"}
    assert prefs == [(u, own[u[1]]) for u, _ in prefs]


@pytest.fixture()
def cold_item_check():
    return assert_cold_items_follow_their_links
