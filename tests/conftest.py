"""Shared fixtures: the location of ../shared and a tiny hand-made dataset."""

from __future__ import annotations

import os
from pathlib import Path

# The test graphs are tiny: intra-op threads buy nothing, and on a shared runner OpenMP barrier
# waits for a busy second core slow small sparse ops down many times. Set before torch loads.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from kgrec.data.dataset import RecDataset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def pytest_configure(config: pytest.Config) -> None:
    torch.set_num_threads(1)
    config.addinivalue_line("markers", "shared: reads real data from ../shared (skipped where it is absent)")


def _shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the licensed datasets live in ../shared, which this machine lacks")
    return path


@pytest.fixture()
def shared_path():
    """``shared_path("datasets", "ml-100k-kg")``: a path under ../shared, or a skip saying why."""
    return _shared_path


@pytest.fixture()
def tiny() -> RecDataset:
    """3 users, 4 items (item 'd' cold), a 2-relation KG and a user attribute."""
    inter = pd.DataFrame(
        {
            "user": ["u1", "u1", "u2", "u2", "u3"],
            "item": ["a", "b", "b", "c", "a"],
            "rating": [5, 4, 3, 5, 1],
            "timestamp": [10, 20, 30, 40, 50],
        }
    )
    return RecDataset.from_frames(
        inter,
        item_entities=pd.DataFrame({"item": ["a", "b", "c", "d"], "entity": ["m.a", "m.b", "m.c", "m.d"]}),
        triples=pd.DataFrame(
            {"head": ["m.a", "m.d", "m.b"], "relation": ["genre", "genre", "director"], "tail": ["g.x", "g.x", "p.1"]}
        ),
        user_attributes=pd.DataFrame({"user": ["u1", "u2", "u3"], "gender": ["F", "M", "F"]}),
        name="tiny",
    )
