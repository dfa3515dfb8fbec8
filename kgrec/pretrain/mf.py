"""MF pretraining: BPR-MF trained with the one fit loop; its id tables initialise another
encoder with the same table names (LightGCN, ...).

This is the initialisation KGAT's paper uses (its authors start from BPR-MF embeddings) and a
classic pretrain-then-fine-tune chain: MF converges in few cheap epochs, and a propagation
model that starts from its tables needs fewer of its own, more expensive epochs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from kgrec.data.dataset import RecDataset
from kgrec.pretrain.kg import PretrainResult

__all__ = ["pretrain_mf"]


def pretrain_mf(
    train: RecDataset,
    valid: RecDataset | None = None,
    *,
    embedding_dim: int = 64,
    epochs: int = 100,
    lr: float = 5e-3,
    batch_size: int = 2048,
    reg_weight: float = 1e-4,
    patience: int | None = 10,
    init_std: float | None = None,
    sampler: str | Mapping[str, Any] | None = None,
    evaluator: Any = None,
    seed: int = 2026,
    run_dir: str | Path | None = None,
    progress: bool | None = None,
    device: str | torch.device | None = None,
) -> PretrainResult:
    """Fit BPR-MF (:class:`kgrec.models.MF`) with :func:`kgrec.train.fit` and return its tables.

    With ``valid`` the MF run early-stops on its own validation NDCG@20 and keeps its best
    weights (validation data only: the test part is never seen). The MF's weights are drawn
    from a generator seeded with ``seed``, so the caller's RNG is untouched.

    Args:
        train, valid: the training part and (optional) validation part.
        embedding_dim: must equal the target encoder's table width (default 64).
        epochs: default 100; lr 5e-3 (MF converges quickly with it); batch_size 2048;
            reg_weight 1e-4; patience 10.
        init_std: MF's initialisation (None: Xavier-normal).
        sampler: the MF run's negative sampler, a name of :data:`kgrec.scoring.SAMPLERS` or
            ``{"name": ..., **options}`` (default: uniform).
        evaluator: passed to ``fit`` (default: ``FullRankingEvaluator(ks=(10, 20))``).
        seed: default 2026.
        run_dir: the MF run's folder (``history.csv``, ``checkpoint.pt``: resumable).
        device: where the MF trains (default the CPU); the tables come back on the CPU.

    Returns:
        :class:`~kgrec.pretrain.PretrainResult` with ``user_embedding.weight`` ``[U, d]`` and
        ``item_embedding.weight`` ``[I, d]``.
    """
    from kgrec.graph import build_graph
    from kgrec.models import MF
    from kgrec.scoring import get_sampler
    from kgrec.train import fit

    device = torch.device(device if device is not None else "cpu")
    graph = build_graph(train).to(device)
    model = MF.from_data(graph, embedding_dim=embedding_dim, init_std=init_std)
    model.reset_parameters(generator=torch.Generator().manual_seed(int(seed)))
    model.to(device)
    negatives = None
    if sampler is not None:
        spec = {"name": sampler} if isinstance(sampler, str) else dict(sampler)
        negatives = get_sampler(spec.pop("name"))(train, **spec)
    history = fit(
        model, graph, train, valid=valid, evaluator=evaluator, epochs=epochs, lr=lr, sampler=negatives,
        batch_size=batch_size, reg_weight=reg_weight, patience=patience if valid is not None else None,
        seed=seed, run_dir=run_dir, progress=progress,
    )  # fmt: skip
    tables = {
        "user_embedding.weight": model.user_embedding.weight.detach().cpu().clone(),
        "item_embedding.weight": model.item_embedding.weight.detach().cpu().clone(),
    }
    return PretrainResult(tables=tables, history=history, method="mf", model=model)
