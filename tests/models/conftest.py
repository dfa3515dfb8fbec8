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


@pytest.fixture()
def warm_sampler():
    return WarmSampler


@pytest.fixture()
def one_thread():
    """Run a test on one intra-op thread: the toy graphs gain nothing from two, and on a CPU
    shared with other jobs two OpenMP threads spin-wait for each other (a 1.6 s fit took 109 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
