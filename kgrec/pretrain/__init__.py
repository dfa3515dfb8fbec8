"""Pretrain, then fine-tune: KG embeddings (TransE, TransR) or BPR-MF initialise an encoder.

::

    result = run_pretraining("transe", split.train, embedding_dim=64)
    names = init_from_pretrained(encoder, result.tables, rescale=True)
    fit(encoder, graph, split.train, valid=split.valid,
        callbacks=[ProgressiveUnfreezing(names, epochs=5)])

or in one call: ``Recommender("lightgcn", pretrain="mf")`` / ``kgrec train ... --pretrain mf``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from kgrec.data.dataset import RecDataset
from kgrec.pretrain.kg import PretrainResult, TransE, TransR, pretrain_kg, tables_from_entities
from kgrec.pretrain.mf import pretrain_mf
from kgrec.pretrain.transfer import init_from_pretrained

__all__ = [
    "PRETRAINERS",
    "PretrainResult",
    "TransE",
    "TransR",
    "init_from_pretrained",
    "pretrain_kg",
    "pretrain_mf",
    "run_pretraining",
    "tables_from_entities",
]

#: the pretraining methods :func:`run_pretraining` accepts
PRETRAINERS = ("mf", "transe", "transr")


def run_pretraining(
    method: str,
    train: RecDataset,
    valid: RecDataset | None = None,
    *,
    embedding_dim: int = 64,
    seed: int = 2026,
    run_dir: str | Path | None = None,
    progress: bool | None = None,
    device: str | torch.device | None = None,
    **options: Any,
) -> PretrainResult:
    """Run one pretraining method; ``options`` go to :func:`pretrain_mf` or :func:`pretrain_kg`.

    With ``run_dir`` the run writes ``history.csv`` there, and its tables to ``tables.pt``
    (with the method, options, seed and dataset checksum): a second call with the same
    arguments (e.g. when a fit is resumed) loads them instead of training again. ``device`` is
    where the pretraining model trains; the tables come back on the CPU either way.
    """
    key = method.lower()
    if key not in PRETRAINERS:
        raise ValueError(f"unknown pretraining {method!r}; valid: {', '.join(PRETRAINERS)}")
    meta = {
        "method": key, "embedding_dim": int(embedding_dim), "seed": int(seed),
        "options": options, "train": train.checksum(),
        "valid": valid.checksum() if valid is not None else None,
    }  # fmt: skip
    cache = Path(run_dir) / "tables.pt" if run_dir is not None else None
    if cache is not None and cache.exists():
        saved = torch.load(cache, map_location="cpu", weights_only=True)
        if saved.get("meta") == json.loads(json.dumps(meta, default=str)):
            import pandas as pd

            hist_path = Path(run_dir) / "history.csv"  # type: ignore[arg-type]
            history = pd.read_csv(hist_path) if hist_path.exists() else pd.DataFrame()
            return PretrainResult(tables=saved["tables"], history=history, method=key)
    if key == "mf":
        result = pretrain_mf(
            train,
            valid,
            embedding_dim=embedding_dim,
            seed=seed,
            run_dir=run_dir,
            progress=progress,
            device=device,
            **options,
        )
    else:
        result = pretrain_kg(
            train, method=key, embedding_dim=embedding_dim, seed=seed, run_dir=run_dir,
            device=device, **options,
        )  # type: ignore[arg-type]  # fmt: skip
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {"meta": json.loads(json.dumps(meta, default=str)), "tables": result.tables}, cache
        )
    return result
