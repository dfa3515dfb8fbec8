"""Shared fixtures: the location of ../shared and a tiny hand-made dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kgrec.data.dataset import RecDataset

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def pytest_configure(config: pytest.Config) -> None:
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
