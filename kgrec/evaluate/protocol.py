"""The evaluation protocol of a split: the test part, and its warm / cold views on cold-item splits.

On a split where some test items never occur in train (a cold-item split), three more views are
reported beside ``test``:

- ``test_cold``: the test pairs on cold items, ranked among **all** items (train and valid items
  of the user masked). This is what a deployed system faces: cold items must beat warm ones.
- ``test_cold_only``: the same pairs ranked among the cold items only (the held-out items), the
  view most papers and peers report.
- ``test_warm``: the test pairs on warm items, ranked among all items (when there are any).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kgrec.data.dataset import RecDataset
from kgrec.data.split import Split


def evaluation_views(split: Split, *, part: str = "test") -> dict[str, tuple[RecDataset, np.ndarray | None]]:
    """``{name: (target part, candidate items or None)}`` for ``part`` and its cold / warm views.

    Cold items are those with no train interaction that occur in another part of the split.
    Views with no pair are left out.
    """
    target = split.part(part)
    views: dict[str, tuple[RecDataset, np.ndarray | None]] = {part: (target, None)}
    cold = split.cold_items()
    if len(cold) == 0:
        return views
    is_cold = np.zeros(split.dataset.num_items, dtype=bool)
    is_cold[cold] = True
    items = target.interactions["item"].to_numpy()
    on_cold = is_cold[items]
    rows = split.parts[part]
    if on_cold.any():
        cold_part = split.dataset.subset(rows[on_cold], name=f"{split.dataset.name}:{part}_cold")
        views[f"{part}_cold"] = (cold_part, None)
        views[f"{part}_cold_only"] = (cold_part, cold)
    if (~on_cold).any() and on_cold.any():
        views[f"{part}_warm"] = (split.dataset.subset(rows[~on_cold], name=f"{split.dataset.name}:{part}_warm"), None)
    return views


def evaluate_views(recommender: Any, split: Split, *, part: str = "test", ks: tuple[int, ...] = (10, 20)) -> dict[str, Any]:
    """Evaluate ``recommender`` on every view of :func:`evaluation_views`: ``{name: EvalResult}``."""
    return {
        name: recommender.evaluate(target, ks=ks, candidates=candidates)
        for name, (target, candidates) in evaluation_views(split, part=part).items()
    }
