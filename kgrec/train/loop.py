"""The one fit loop, shared by every encoder: BPR + L2 (+ the encoder's auxiliary loss, + any
extra loss terms such as contrastive views), Adam, per-epoch full-ranking validation, early
stopping, schedules through callbacks, checkpoints and exact resume."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from kgrec.data.dataset import RecDataset
from kgrec.models.base import Batch, Encoder
from kgrec.scoring.head import MFHead
from kgrec.scoring.losses import BPRLoss, LossTerm, RankingLoss, get_ranking_loss, l2_reg
from kgrec.scoring.samplers import NegativeSampler, UniformSampler
from kgrec.train.callbacks import (
    Callback,
    Checkpoint,
    CSVLogger,
    EarlyStopping,
    TimeBudget,
    load_checkpoint,
)

__all__ = ["TrainState", "fit", "make_score_fn"]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
# Config entries a resumed run must share with the checkpoint (``epochs`` may grow).
_RESUME_KEYS = (
    "encoder", "num_users", "num_items", "num_pairs", "batch_size", "lr", "reg_weight",
    "patience", "metric", "seed", "sampler", "validate", "losses", "loss", "num_negatives",
)  # fmt: skip


@dataclass(eq=False)
class TrainState:
    """Everything the loop and its callbacks share; ``state_dict()`` is the checkpoint.

    Attributes:
        epoch: the last completed epoch (0-based), -1 before the first.
        history: one record per epoch: ``epoch``, ``loss``, the ranking loss (``bpr`` or the
            :attr:`loss`'s name), ``reg``, ``aux``,
            ``seconds`` and, when validating, ``eval_seconds`` and ``valid_<metric>`` per metric.
        stop: set by early stopping or any callback to end training after this epoch.
        losses: the extra :class:`~kgrec.scoring.LossTerm` s (each adds a history column).
        loss: the ranking loss; num_negatives: negatives drawn per positive.
        epoch_info: filled by callbacks' ``on_epoch_start`` (e.g. a schedule's value), merged
            into the epoch's record; cleared before each epoch.
    """

    encoder: Encoder
    graph: Any
    optimizer: torch.optim.Optimizer
    sampler: NegativeSampler
    generator: torch.Generator
    config: dict[str, Any]
    callbacks: list[Callback]
    early_stopping: EarlyStopping | None = None
    epoch: int = -1
    history: list[dict[str, float]] = field(default_factory=list)
    stop: bool = False
    stop_reason: str | None = None
    losses: list[LossTerm] = field(default_factory=list)
    loss: RankingLoss = field(default_factory=BPRLoss)
    num_negatives: int = 1
    epoch_info: dict[str, float] = field(default_factory=dict)

    def history_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.history)
        if len(frame):
            frame["epoch"] = frame["epoch"].astype(int)
        es = self.early_stopping
        frame.attrs.update(
            best_epoch=es.best_epoch if es else None,
            best_value=es.best if es else None,
            metric=es.metric if es else None,
            stopped_early=self.stop,
            stop_reason=self.stop_reason,
        )
        return frame

    def _callback_keys(self) -> list[str]:
        return _unique_names(type(cb).__qualname__ for cb in self.callbacks)

    def loss_names(self) -> list[str]:
        """History column of each extra loss term (its ``name``, ``#n`` added to repeats)."""
        return _unique_names(str(getattr(t, "name", type(t).__name__)) for t in self.losses)

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "config": dict(self.config),
            "epoch": self.epoch,
            "stop": self.stop,
            "stop_reason": self.stop_reason,
            "encoder": self.encoder.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "rng": torch.get_rng_state(),
            "cuda_rng": [torch.cuda.get_rng_state(d) for d in _cuda_devices(self.encoder)],
            "sampler": self.sampler.state_dict(),
            "history": [dict(r) for r in self.history],
            "callbacks": {
                k: cb.state_dict()
                for k, cb in zip(self._callback_keys(), self.callbacks, strict=True)
            },
            "losses": {
                k: t.state_dict() for k, t in zip(self.loss_names(), self.losses, strict=True)
            },
        }

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        if ckpt.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"expected a checkpoint of format {CHECKPOINT_FORMAT} (got {ckpt.get('format')!r})"
            )
        saved = ckpt["config"]
        diff = {
            k: (saved.get(k), self.config.get(k))
            for k in _RESUME_KEYS
            if saved.get(k) != self.config.get(k)
        }
        if diff:
            pretty = ", ".join(f"{k}: saved {a!r} vs now {b!r}" for k, (a, b) in diff.items())
            raise ValueError(
                f"the checkpoint belongs to another run ({pretty}); pass resume=False to start "
                "over, or another run_dir"
            )
        self.encoder.load_state_dict(ckpt["encoder"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.generator.set_state(ckpt["generator"])
        torch.set_rng_state(ckpt["rng"])
        for d, rng in zip(_cuda_devices(self.encoder), ckpt.get("cuda_rng", []), strict=False):
            torch.cuda.set_rng_state(rng, d)
        self.sampler.load_state_dict(ckpt["sampler"])
        self.epoch = int(ckpt["epoch"])
        self.stop = bool(ckpt["stop"])
        self.stop_reason = ckpt.get("stop_reason")
        self.history = [dict(r) for r in ckpt["history"]]
        states = ckpt.get("callbacks", {})
        for key, cb in zip(self._callback_keys(), self.callbacks, strict=True):
            if key in states:
                cb.load_state_dict(states[key])
        term_states = ckpt.get("losses", {})
        for key, term in zip(self.loss_names(), self.losses, strict=True):
            if key in term_states:
                term.load_state_dict(term_states[key])


def _unique_names(names: Any) -> list[str]:
    seen: dict[str, int] = {}
    keys = []
    for name in names:
        n = seen.get(name, 0)
        seen[name] = n + 1
        keys.append(name if n == 0 else f"{name}#{n}")
    return keys


def make_score_fn(
    encoder: Encoder, graph: Any, *, head: MFHead | None = None
) -> Callable[[Tensor], Tensor]:
    """``score_fn(users [B] int64) -> [B, num_items]`` from ONE inference-mode forward.

    The embeddings are computed once here (eval mode), so an evaluator that calls ``score_fn``
    chunk by chunk does not re-run the encoder; they are a snapshot, unaffected by later training.
    """
    head = head or MFHead()
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.inference_mode():
            user_emb, item_emb = encoder(graph)
            # An identity encoder returns its parameters themselves: snapshot them.
            if not user_emb.is_inference():
                user_emb = user_emb.detach().clone()
            if not item_emb.is_inference():
                item_emb = item_emb.detach().clone()
    finally:
        encoder.train(was_training)

    def score_fn(users: Tensor) -> Tensor:
        with torch.inference_mode():
            return head.all_scores(user_emb, item_emb, users.to(user_emb.device))

    return score_fn


def _default_evaluator() -> Any:
    from kgrec.evaluate import FullRankingEvaluator  # imported where used (no import cycle)

    return FullRankingEvaluator(ks=(10, 20))


def _adam(encoder: Encoder, lr: float) -> torch.optim.Optimizer:
    # The fused kernel is about 2x faster than the default foreach one on CPU for embedding
    # tables; older torch versions (or exotic devices) without it fall back to the default.
    try:
        return torch.optim.Adam(encoder.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(encoder.parameters(), lr=lr)


def _cuda_devices(encoder: Encoder) -> list[int]:
    """The CUDA devices whose RNG the loop forks, seeds and checkpoints (none on CPU)."""
    device = device_of(encoder)
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def device_of(encoder: Encoder) -> torch.device:
    """The device of the encoder's parameters (the CPU for a parameter-free encoder)."""
    for p in encoder.parameters():
        return p.device
    return torch.device("cpu")


def fit(
    encoder: Encoder,
    graph: Any,
    train: RecDataset,
    *,
    valid: RecDataset | None = None,
    evaluator: Any = None,
    epochs: int = 300,
    batch_size: int = 2048,
    lr: float = 1e-3,
    reg_weight: float = 1e-4,
    patience: int | None = 10,
    metric: str = "ndcg@20",
    sampler: NegativeSampler | None = None,
    seed: int = 2026,
    run_dir: str | os.PathLike[str] | None = None,
    resume: bool = True,
    progress: bool | None = None,
    callbacks: Sequence[Callback] = (),
    losses: Sequence[LossTerm] = (),
    loss: str | Mapping[str, Any] | RankingLoss = "bpr",
    num_negatives: int = 1,
    max_seconds: float | None = None,
) -> pd.DataFrame:
    """Train ``encoder`` on ``train``'s pairs (BPR by default); the same loop for every encoder.

    Each epoch shuffles the training pairs (a ``torch.Generator`` seeded with ``seed``), and for
    each batch of ``batch_size`` ``(user, positive)`` pairs draws ``num_negatives`` negatives per
    pair with ``sampler`` (default :class:`~kgrec.scoring.UniformSampler`), runs the full-graph
    forward ``encoder(graph)`` and takes an Adam step on

        ``L = loss(s; batch) + reg_weight * l2_reg(encoder.reg_params(batch), B)
        + encoder.aux_loss(graph, batch) + Σ_t losses[t](...)``

    with ``s(u, i) = <user_emb[u], item_emb[i]>`` (:class:`~kgrec.scoring.MFHead`) and the
    ranking loss ``BPR(s(u, i+), s(u, i-))`` by default. With
    ``valid``, after each epoch ``evaluator.evaluate(score_fn, target=valid, exclude=[train])``
    (default ``FullRankingEvaluator(ks=(10, 20))``) gives ``valid_<metric>``; training stops after
    ``patience`` epochs without improvement of ``metric`` and the best epoch's weights are loaded
    back into ``encoder``. Without ``valid`` all ``epochs`` run and the last weights are kept.

    Seeded runs are reproducible on CPU: the generator drives shuffling and negatives, and the
    global torch RNG (dropout, if an encoder uses it) is seeded inside ``torch.random.fork_rng``,
    so the caller's RNG state is untouched. The encoder's initial weights are the caller's.

    Args:
        encoder: any :class:`~kgrec.models.Encoder` built for ``graph`` (trained in place).
        graph: the training graph (``kgrec.graph.build_graph(train)``).
        train: the training interactions (the graph's source).
        valid, evaluator, metric: validation data, evaluator and the selection metric.
        epochs: maximum epochs (default 300); batch_size 2048; lr 1e-3 (Adam); reg_weight 1e-4.
        patience: epochs without improvement before stopping (default 10; None: never stop).
        sampler: a :class:`~kgrec.scoring.NegativeSampler`; its ``on_epoch_start`` is called.
            A sampler with ``needs_scores = True`` (hard negatives) is given
            ``score_pairs(users, items)``: detached scores from the batch's forward, which then
            runs before sampling.
        seed: default 2026.
        run_dir: when given, ``history.csv`` and ``checkpoint.pt`` (written atomically after
            every epoch) go there; with ``resume=True`` an existing checkpoint of the same
            configuration is continued exactly (``epochs`` may differ; a checkpoint of another
            configuration raises ``ValueError``).
        progress: tqdm bar over epochs; None (default) shows it only on a TTY.
        callbacks: extra :class:`~kgrec.train.Callback` objects, called after the built-in ones
            (``on_epoch_start`` before each epoch: schedules, see :mod:`kgrec.train.schedules`).
        losses: extra :class:`~kgrec.scoring.LossTerm` s added to every batch's loss (e.g.
            :class:`~kgrec.scoring.SGLLoss`); each gets a history column named after it, and
            its state goes into checkpoints.
        loss: the ranking loss (:data:`~kgrec.scoring.RANKING_LOSSES`): ``"bpr"`` (default),
            ``"softmax"`` (each positive against the whole catalogue; no negatives are drawn,
            so ``sampler`` must stay unset) or ``"sampled_softmax"``, as a name,
            ``{"name": ..., "temperature": ...}`` or a :class:`~kgrec.scoring.RankingLoss`.
            Its epoch mean is the history column named after it (``bpr``, ``softmax``, ...).
        num_negatives: negatives drawn per positive (default 1; BPR averages over them).
        max_seconds: a time budget: stop after the epoch in which training and validation
            time passed it (:class:`~kgrec.train.TimeBudget`; default None: no budget). The
            budget is not part of the configuration: a resumed run may change it.

    Returns:
        The history, one row per epoch (see :class:`TrainState`); ``.attrs`` holds
        ``best_epoch``, ``best_value``, ``metric``, ``stopped_early`` and ``stop_reason``.
    """
    if epochs < 0 or batch_size < 1 or lr <= 0 or reg_weight < 0:
        raise ValueError(
            "expected epochs >= 0, batch_size >= 1, lr > 0 and reg_weight >= 0 "
            f"(got epochs={epochs}, batch_size={batch_size}, lr={lr}, reg_weight={reg_weight})"
        )
    if evaluator is not None and valid is None:
        raise ValueError("an evaluator was given without valid data; pass valid=... as well")
    loss = get_ranking_loss(loss)
    if num_negatives < 1:
        raise ValueError(f"expected num_negatives >= 1 (got {num_negatives})")
    if not loss.uses_negatives and sampler is not None:
        raise ValueError(
            f"loss {loss.name!r} ranks every positive against the whole catalogue and draws no "
            f"negatives; drop the sampler ({type(sampler).__name__}) or use loss='sampled_softmax'"
        )
    if not isinstance(encoder, Encoder):
        raise TypeError(f"expected a kgrec.models.Encoder (got {type(encoder).__name__})")
    num_users, num_items = graph["user"].num_nodes, graph["item"].num_nodes
    if (train.num_users, train.num_items) != (num_users, num_items):
        raise ValueError(
            f"expected the graph built from train ({train.num_users} users, {train.num_items} "
            f"items) (got a graph of {num_users} users, {num_items} items)"
        )
    if len(train.interactions) == 0:
        raise ValueError("expected training interactions (got none)")
    if valid is not None and evaluator is None:
        evaluator = _default_evaluator()
    sampler = sampler if sampler is not None else UniformSampler(train)
    device = device_of(encoder)
    head = MFHead()

    pairs_user = torch.from_numpy(np.array(train.interactions["user"], dtype=np.int64, copy=True))
    pairs_item = torch.from_numpy(np.array(train.interactions["item"], dtype=np.int64, copy=True))
    num_pairs = len(pairs_user)

    early = EarlyStopping(f"valid_{metric}", patience=patience) if valid is not None else None
    run_path = Path(run_dir) if run_dir is not None else None
    all_callbacks: list[Callback] = [early] if early is not None else []
    if run_path is not None:
        all_callbacks += [
            CSVLogger(run_path / "history.csv"),
            Checkpoint(run_path / "checkpoint.pt"),
        ]
    if max_seconds is not None:
        all_callbacks.append(TimeBudget(max_seconds))
    all_callbacks += list(callbacks)

    config = {
        "encoder": type(encoder).__qualname__,
        "num_users": num_users,
        "num_items": num_items,
        "num_pairs": num_pairs,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": float(lr),
        "reg_weight": float(reg_weight),
        "patience": patience,
        "metric": metric,
        "seed": int(seed),
        "sampler": type(sampler).__qualname__,
        "validate": valid is not None,
    }
    losses = list(losses)
    for term in losses:
        if not isinstance(term, LossTerm):
            raise TypeError(f"expected kgrec.scoring.LossTerm objects in losses (got {type(term).__name__})")
    if losses:  # absent otherwise, so checkpoints written before this option still resume
        config["losses"] = [type(t).__qualname__ for t in losses]
    if loss.name != "bpr":  # likewise
        config["loss"] = loss.config()
    if num_negatives != 1:
        config["num_negatives"] = int(num_negatives)
    generator = torch.Generator().manual_seed(int(seed))
    optimizer = _adam(encoder, lr)
    state = TrainState(
        encoder=encoder,
        graph=graph,
        optimizer=optimizer,
        sampler=sampler,
        generator=generator,
        config=config,
        callbacks=all_callbacks,
        early_stopping=early,
        losses=losses,
        loss=loss,
        num_negatives=int(num_negatives),
    )

    with torch.random.fork_rng(devices=_cuda_devices(encoder)):
        torch.manual_seed(int(seed))
        ckpt_path = run_path / "checkpoint.pt" if run_path is not None else None
        if resume and ckpt_path is not None and ckpt_path.exists():
            state.load_state_dict(load_checkpoint(ckpt_path))
            logger.info(
                "resumed %s from %s after epoch %d", config["encoder"], ckpt_path, state.epoch
            )
        for cb in all_callbacks:
            cb.on_fit_start(state)

        from tqdm.auto import tqdm

        bar = tqdm(
            total=epochs,
            initial=min(state.epoch + 1, epochs),
            desc=f"fit {config['encoder']}",
            unit="epoch",
            disable=None if progress is None else not progress,
            leave=False,
        )
        try:
            while not state.stop and state.epoch + 1 < epochs:
                epoch = state.epoch + 1
                state.epoch_info = {}
                for cb in all_callbacks:
                    cb.on_epoch_start(state)
                record = _train_epoch(
                    state,
                    epoch,
                    pairs_user,
                    pairs_item,
                    num_items,
                    batch_size,
                    reg_weight,
                    head,
                    device,
                )
                if valid is not None:
                    t0 = time.perf_counter()
                    result = evaluator.evaluate(
                        make_score_fn(encoder, graph, head=head), target=valid, exclude=[train]
                    )
                    record["eval_seconds"] = time.perf_counter() - t0
                    means = {str(k): float(v) for k, v in result.mean.items()}
                    if metric not in means:
                        raise KeyError(
                            f"expected the evaluator to report {metric!r} (got {sorted(means)}); "
                            "choose metric= among these"
                        )
                    record.update({f"valid_{k}": v for k, v in means.items()})
                state.epoch = epoch
                state.history.append(record)
                for cb in all_callbacks:
                    cb.on_epoch_end(state)
                _log_epoch(state, epochs, metric)
                bar.update(1)
                postfix = {"loss": f"{record['loss']:.4f}"}
                if valid is not None:
                    postfix[metric] = f"{record[f'valid_{metric}']:.4f}"
                bar.set_postfix(postfix, refresh=False)
        finally:
            bar.close()
        if state.stop and state.stop_reason:
            logger.info("stopped after epoch %d: %s", state.epoch, state.stop_reason)
        for cb in all_callbacks:
            cb.on_fit_end(state)
    if early is not None and early.restore(encoder):
        logger.info(
            "restored the weights of epoch %d (%s %.5f)", early.best_epoch, early.metric, early.best
        )
    return state.history_frame()


def _train_epoch(
    state: TrainState,
    epoch: int,
    pairs_user: Tensor,
    pairs_item: Tensor,
    num_items: int,
    batch_size: int,
    reg_weight: float,
    head: MFHead,
    device: torch.device,
) -> dict[str, float]:
    encoder, graph, optimizer, sampler, gen = (
        state.encoder, state.graph, state.optimizer, state.sampler, state.generator
    )  # fmt: skip
    terms = state.losses
    sampler.on_epoch_start(epoch)
    for term in terms:
        term.on_epoch_start(epoch, graph=graph, generator=gen)
    needs_scores = bool(getattr(sampler, "needs_scores", False))
    encoder.train()
    t0 = time.perf_counter()
    perm = torch.randperm(len(pairs_user), generator=gen)
    ranking = state.loss
    sums = torch.zeros(4 + len(terms), dtype=torch.float64, device=device)  # loss, ranking, reg, aux, terms
    zero = torch.zeros((), device=device)
    num_batches = 0
    for start in range(0, len(perm), batch_size):
        idx = perm[start : start + batch_size]
        users = pairs_user[idx]
        pos = pairs_item[idx]
        draw = users if state.num_negatives == 1 else users.unsqueeze(1).expand(-1, state.num_negatives)
        if not ranking.uses_negatives:
            neg = users.new_empty((len(users), 0))
            user_emb, item_emb = encoder(graph)
        elif needs_scores:
            # hard-negative samplers score candidates with the batch's own forward (detached)
            user_emb, item_emb = encoder(graph)
            neg = sampler.sample(
                draw, num_items, gen, score_pairs=_pair_scorer(head, user_emb, item_emb, device)
            )
        else:
            neg = sampler.sample(draw, num_items, gen)
            user_emb, item_emb = encoder(graph)
        batch = Batch(users.to(device), pos.to(device), neg.to(device))
        rank_loss = ranking(head=head, user_emb=user_emb, item_emb=item_emb, batch=batch)
        reg = l2_reg(encoder.reg_params(batch), len(users)).to(device) if reg_weight else zero
        aux = encoder.aux_loss(graph, batch)
        loss = rank_loss + reg_weight * reg
        if aux is not None:
            loss = loss + aux
        extra = []
        for term in terms:
            value = term(
                encoder=encoder, graph=graph, batch=batch, user_emb=user_emb,
                item_emb=item_emb, generator=gen,
            )  # fmt: skip
            extra.append(value)
            loss = loss + value
        optimizer.zero_grad(set_to_none=True)
        if loss.requires_grad:  # False only while every trained table is frozen
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            parts = [loss, rank_loss, reg, aux if aux is not None else zero, *extra]
            sums += torch.stack([p.detach().to(device).reshape(()) for p in parts]).double()
        num_batches += 1
    means = (sums / max(num_batches, 1)).tolist()
    if not math.isfinite(means[0]):
        raise FloatingPointError(
            f"the training loss became {means[0]} in epoch {epoch}; lower lr (got "
            f"{optimizer.param_groups[0]['lr']}) or check the encoder's inputs"
        )
    record: dict[str, float] = {
        "epoch": epoch,
        "loss": means[0],
        ranking.name: means[1],
        "reg": means[2],
        "aux": means[3],
    }
    record.update(zip(state.loss_names(), means[4:], strict=True))
    record.update(state.epoch_info)
    record["seconds"] = time.perf_counter() - t0
    return record


def _pair_scorer(
    head: MFHead, user_emb: Tensor, item_emb: Tensor, device: torch.device
) -> Callable[[Tensor, Tensor], Tensor]:
    """``score_pairs(users [B], items [B, M]) -> [B, M]`` on detached embeddings (no grad)."""
    u_det, i_det = user_emb.detach(), item_emb.detach()

    def score_pairs(users: Tensor, items: Tensor) -> Tensor:
        with torch.no_grad():
            out = head.pair_scores(u_det, i_det, users.to(device), items.to(device))
        return out.to(items.device)

    return score_pairs


def _log_epoch(state: TrainState, epochs: int, metric: str) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    r = state.history[-1]
    msg = f"epoch {r['epoch']}/{epochs - 1}  loss {r['loss']:.5f}  {r['seconds']:.2f}s"
    key = f"valid_{metric}"
    es = state.early_stopping
    if key in r and es is not None:
        msg += f"  valid {metric} {r[key]:.5f} (best {es.best:.5f} @ {es.best_epoch}; eval {r['eval_seconds']:.2f}s)"
    logger.info(msg)
