"""Recommender: the estimator users hold (an encoder + the MF head + the fit loop, or a baseline).

scikit-learn style: hyper-parameters in the constructor, data in :meth:`Recommender.fit`,
:class:`~kgrec.exceptions.NotFittedError` before it. Graph encoders and the closed-form
baselines answer the same calls, so a comparison table is one loop::

    for name in ("pop", "itemknn", "ease", "mf", "lightgcn"):
        rec = Recommender(name).fit(split.train, valid=split.valid)
        print(name, rec.evaluate(split.test).mean["ndcg@20"])
"""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from kgrec import __version__
from kgrec.data.dataset import RecDataset
from kgrec.data.split import Split
from kgrec.evaluate import EvalResult, FullRankingEvaluator
from kgrec.exceptions import NotFittedError
from kgrec.models import ENCODERS, Encoder, get_encoder
from kgrec.models.attribute_knn import AttributeKNN
from kgrec.models.baselines import EASE, ItemKNN, MostPopular, RandomScorer
from kgrec.serving import evaluate_scorer, top_k_frame

if TYPE_CHECKING:
    from kgrec.explain import Explanation

logger = logging.getLogger(__name__)

#: closed-form / count baselines: name -> class; they take their own hyper-parameters
BASELINES: dict[str, type] = {
    "pop": MostPopular, "itemknn": ItemKNN, "ease": EASE, "random": RandomScorer, "attrknn": AttributeKNN
}
SAVE_FORMAT = 1


def model_names() -> list[str]:
    """Every name :class:`Recommender` accepts (baselines and registered encoders)."""
    return sorted(set(BASELINES) | set(ENCODERS))


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The torch device a recommender trains and scores on.

    ``None`` means the CPU; ``"auto"`` the first CUDA device when there is one, else the CPU.
    Asking for CUDA on a machine without it is an error here, before any data is touched.
    """
    if device is None:
        return torch.device("cpu")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r} (expected 'cpu', 'cuda', 'cuda:N' or 'auto')") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but torch sees no CUDA device here")
    return resolved


def _check_name(model: str) -> str:
    key = model.lower()
    if key not in BASELINES and key not in ENCODERS:
        raise ValueError(f"unknown model {model!r}; valid models: {', '.join(model_names())}")
    return key


class Recommender:
    """Fit, recommend, score, evaluate, save and load one model.

    Args:
        model: a name from :func:`model_names` (``pop``, ``itemknn``, ``ease``, ``mf``,
            ``lightgcn``, ...).
        epochs, batch_size, lr, reg_weight, patience, metric, seed: the fit loop's settings
            (:func:`kgrec.train.fit`); ``None`` takes the encoder's own default
            (``Encoder.fit_defaults``), then the loop's.
        max_seconds: a training time budget: the fit stops after the epoch that spends it
            (best-valid weights kept; default none).
        loss, num_negatives: the ranking loss (``"bpr"``, ``"softmax"``, ``"sampled_softmax"``
            or ``{"name": ..., "temperature": ...}``) and negatives per positive
            (:func:`kgrec.train.fit`). Under a loss other than BPR the encoder's
            ``loss_fit_defaults`` for it apply (MF and LightGCN: a larger ``reg_weight``).
        ks: cut-offs reported by :meth:`evaluate` and used for validation.
        valid_candidates: the items validation ranks among in the fit loop: ``"all"``,
            ``"cold"`` (items without a training interaction) or ``"auto"`` (default: ``"cold"``
            when every validation pair is on such an item, as on a cold-item split, else
            ``"all"``). Among all items, cold items sit below the warm ones early in training
            and every epoch scores ~0, so early stopping would keep the first epoch.
        run_dir: where the fit loop writes history and checkpoints (resumable).
        device: where an encoder trains and scores (``"cpu"``, ``"cuda"``, ``"cuda:1"``, or
            ``"auto"`` for CUDA when available; default the CPU). Not part of the saved
            configuration: :meth:`load` takes its own ``device``. Baselines run on the CPU.
        progress: tqdm bars (``None``: only on a terminal).
        sampler, curriculum, augment, pretrain, lr_schedule: training techniques for encoders,
            each a name or ``{"name": ..., **options}`` (:mod:`kgrec.train.recipe`): e.g.
            ``sampler="dns"``, ``curriculum="linear"``, ``augment="sgl"``,
            ``pretrain="mf" | "transe" | "transr"`` (its history goes to
            ``run_dir/pretrain``), ``lr_schedule={"name": "cosine", "warmup_epochs": 5}``.
        **hyper: the model's own hyper-parameters (``embedding_dim``, ``num_layers``, ``l2``,
            ``k``, ...), passed to its constructor.
    """

    def __init__(
        self,
        model: str = "lightgcn",
        *,
        epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        reg_weight: float | None = None,
        patience: int | None = None,
        max_seconds: float | None = None,
        loss: str | dict[str, Any] | None = None,
        num_negatives: int | None = None,
        metric: str = "ndcg@20",
        seed: int = 2026,
        ks: Sequence[int] = (10, 20),
        valid_candidates: Literal["auto", "all", "cold"] = "auto",
        run_dir: str | Path | None = None,
        device: str | torch.device | None = None,
        progress: bool | None = None,
        sampler: str | dict[str, Any] | None = None,
        curriculum: str | dict[str, Any] | None = None,
        augment: str | dict[str, Any] | None = None,
        pretrain: str | dict[str, Any] | None = None,
        lr_schedule: str | dict[str, Any] | None = None,
        **hyper: Any,
    ) -> None:
        from kgrec.train.recipe import check_recipe

        self.model = _check_name(model)
        self.recipe = {
            k: v
            for k, v in dict(
                sampler=sampler, curriculum=curriculum, augment=augment, pretrain=pretrain,
                lr_schedule=lr_schedule,
            ).items()
            if v is not None
        }  # fmt: skip
        check_recipe(self.recipe)
        if self.recipe and self.model not in ENCODERS:
            raise ValueError(
                f"training techniques {sorted(self.recipe)} apply to graph encoders, not to the "
                f"{self.model!r} baseline"
            )
        self.fit_options = {
            k: v
            for k, v in dict(
                epochs=epochs, batch_size=batch_size, lr=lr, reg_weight=reg_weight, patience=patience,
                max_seconds=max_seconds, loss=loss, num_negatives=num_negatives,
            ).items()
            if v is not None
        }  # fmt: skip
        if loss is not None:
            from kgrec.scoring.losses import get_ranking_loss

            get_ranking_loss(loss)  # a wrong name or option fails here, not after the set-up
            if self.model not in ENCODERS:
                raise ValueError(f"loss= applies to graph encoders, not to the {self.model!r} baseline")
        self.metric = metric
        self.seed = seed
        self.ks = tuple(int(k) for k in ks)
        if valid_candidates not in ("auto", "all", "cold"):
            raise ValueError(f"valid_candidates must be 'auto', 'all' or 'cold' (got {valid_candidates!r})")
        self.valid_candidates = valid_candidates
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.device = resolve_device(device)
        self.progress = progress
        self.hyper = hyper
        self.history_: pd.DataFrame | None = None
        self._train: RecDataset | None = None
        self._seen: list[RecDataset] = []
        self._model: Any = None
        self._graph: Any = None
        self._emb: tuple[Tensor, Tensor] | None = None
        self._path_weights: Any = None  # the encoder's edge attention, for explain()

    # ------------------------------------------------------------------ properties
    @property
    def is_encoder(self) -> bool:
        return self.model in ENCODERS

    @property
    def encoder(self) -> Encoder:
        self._check_fitted()
        if not self.is_encoder:
            raise AttributeError(f"model {self.model!r} is a baseline, not a graph encoder")
        return self._model

    @property
    def train_data(self) -> RecDataset:
        """The training part given to :meth:`fit` (its id maps translate raw ids)."""
        self._check_fitted()
        assert self._train is not None
        return self._train

    def config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-ready), enough to rebuild this recommender."""
        return {
            "model": self.model,
            **self.fit_options,
            "metric": self.metric,
            "seed": self.seed,
            "ks": list(self.ks),
            **({} if self.valid_candidates == "auto" else {"valid_candidates": self.valid_candidates}),
            **self.recipe,
            **self.hyper,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "model")
        return f"Recommender({self.model!r}, {args})"

    def _check_fitted(self) -> None:
        if self._model is None:
            raise NotFittedError(f"this Recommender({self.model!r}) is not fitted yet; call fit(train) first")

    # ------------------------------------------------------------------ fitting
    def fit(self, train: RecDataset | Split, valid: RecDataset | None = None) -> Recommender:
        """Train on ``train`` (a :class:`Split` gives its train and valid parts); returns self.

        Encoders train with the one fit loop, early-stopping on ``valid`` when given; baselines
        are fitted in closed form on ``train`` (``valid`` only joins the masked items).
        """
        if isinstance(train, Split):
            train, valid = train.train, valid if valid is not None else train.valid
        self._train = train
        self._seen = [train] + ([valid] if valid is not None else [])
        torch.manual_seed(self.seed)
        if self.is_encoder:
            self._fit_encoder(train, valid)
        else:
            self._model = BASELINES[self.model](**self._baseline_hyper()).fit(train)
        return self

    def _baseline_hyper(self) -> dict[str, Any]:
        hyper = dict(self.hyper)
        if self.model == "random":
            hyper.setdefault("seed", self.seed)
        return hyper

    def _fit_encoder(self, train: RecDataset, valid: RecDataset | None) -> None:
        from kgrec.graph import build_graph
        from kgrec.train import fit

        cls = get_encoder(self.model)
        self._graph = build_graph(train).to(self.device)
        self._model = cls.from_data(self._graph, **self.hyper).to(self.device)
        options = {**cls.fit_defaults, **self._loss_defaults(cls), **self.fit_options}
        if self.recipe:
            from kgrec.train.recipe import build_training

            extra = build_training(
                self.recipe, encoder=self._model, train=train, valid=valid, seed=self.seed,
                run_dir=self.run_dir, progress=self.progress,
            )  # fmt: skip
            extra.pop("pretrained")
            if extra["sampler"] is None:
                del extra["sampler"]
            options.update(extra)
        self.history_ = fit(
            self._model,
            self._graph,
            train,
            valid=valid,
            evaluator=self._valid_evaluator(train, valid),
            metric=self.metric,
            seed=self.seed,
            run_dir=self.run_dir,
            progress=self.progress,
            **options,
        )
        self._emb = None
        self._path_weights = None

    def _loss_defaults(self, cls: type[Encoder]) -> dict[str, Any]:
        """The encoder's fit defaults under the chosen ranking loss (``loss_fit_defaults``)."""
        if "loss" not in self.fit_options:
            return {}
        from kgrec.scoring.losses import get_ranking_loss

        return dict(cls.loss_fit_defaults.get(get_ranking_loss(self.fit_options["loss"]).name, {}))

    def _valid_evaluator(self, train: RecDataset, valid: RecDataset | None) -> FullRankingEvaluator | None:
        """The fit loop's validation evaluator (see ``valid_candidates``)."""
        if valid is None:
            return None
        if self.valid_candidates == "all":
            return FullRankingEvaluator(ks=self.ks, seed=self.seed)
        trained = np.zeros(train.num_items, dtype=bool)
        trained[train.interactions["item"].to_numpy()] = True
        cold = np.flatnonzero(~trained)
        all_cold = cold.size > 0 and not trained[valid.interactions["item"].to_numpy()].any()
        if self.valid_candidates == "cold" or all_cold:
            if cold.size == 0:
                raise ValueError("valid_candidates='cold' but every item has a training interaction")
            logger.info("validating among the %d items without a training interaction", cold.size)
            return FullRankingEvaluator(ks=self.ks, seed=self.seed, candidates=cold)
        return FullRankingEvaluator(ks=self.ks, seed=self.seed)

    # ------------------------------------------------------------------ scoring
    def _embeddings(self) -> tuple[Tensor, Tensor]:
        if self._emb is None:
            enc = self.encoder
            enc.eval()
            with torch.no_grad():
                user_emb, item_emb = enc(self._graph)
            # an identity encoder returns its own parameters: keep a snapshot, not a view
            self._emb = (user_emb.detach().clone(), item_emb.detach().clone())
        return self._emb

    def score_users(self, users: Tensor) -> Tensor:
        """Scores of every item for local user indices ``users``: ``[B, num_items]``, on the
        recommender's device (an encoder's; the CPU for baselines)."""
        self._check_fitted()
        if not self.is_encoder:
            return self._model.score_users(users)
        user_emb, item_emb = self._embeddings()
        with torch.inference_mode():
            return user_emb[users.to(user_emb.device)] @ item_emb.T

    def score(self, users: Sequence[Any], items: Sequence[Any]) -> np.ndarray:
        """Scores of raw (user, item) pairs: two equally long sequences of raw ids."""
        self._check_fitted()
        assert self._train is not None
        if len(users) != len(items):
            raise ValueError(f"users and items must be equally long (got {len(users)} and {len(items)})")
        u = torch.as_tensor(self._train.users.to_index(list(users)))
        i = torch.as_tensor(self._train.items.to_index(list(items)))
        if self.is_encoder:
            user_emb, item_emb = self._embeddings()
            u, i = u.to(user_emb.device), i.to(item_emb.device)
            return (user_emb[u] * item_emb[i]).sum(-1).cpu().numpy()
        return self.score_users(u).gather(1, i[:, None]).squeeze(1).numpy()

    def recommend(self, users: Sequence[Any] | Any, k: int = 10, *, exclude_seen: bool = True) -> pd.DataFrame:
        """Top-``k`` items per raw user id: a frame ``user, rank, item, score`` (raw ids).

        ``exclude_seen`` masks the items each user had in the data given to :meth:`fit`
        (train and valid). Ties are broken at random with the recommender's seed.
        """
        self._check_fitted()
        assert self._train is not None
        return top_k_frame(
            self.score_users, users, k, train=self._train, seen=self._seen,
            exclude_seen=exclude_seen, seed=self.seed,
        )  # fmt: skip

    def evaluate(
        self,
        test: RecDataset,
        *,
        ks: Sequence[int] | None = None,
        metrics: Sequence[str] | None = None,
        exclude: Sequence[RecDataset] | None = None,
        candidates: np.ndarray | None = None,
    ) -> EvalResult:
        """Full-ranking evaluation on ``test``; the data given to :meth:`fit` is masked.

        ``candidates`` restricts the ranking to those item indices (e.g. cold items only).
        """
        self._check_fitted()
        assert self._train is not None
        if self.is_encoder:
            self._embeddings()
        return evaluate_scorer(
            self.score_users, test, train=self._train, seen=self._seen, ks=ks or self.ks,
            seed=self.seed, metrics=metrics, exclude=exclude, candidates=candidates,
        )  # fmt: skip

    def explain(
        self, user: Any, item: Any, *, max_paths: int = 5, max_hops: int = 3
    ) -> Explanation:
        """Why ``item`` for ``user``: knowledge-graph paths from the user's training items to it.

        Paths ``user -interacted-> training item -relation-> entity ... -> item`` of at most
        ``max_hops`` KG edges after the training item, best ``max_paths`` first, with raw ids
        and relation names (:func:`kgrec.explain.explain`). Encoders with per-edge attention
        (KGAT) score a path by the product of the attention along it; every other model
        (baselines included) by inverse node degree, so specific shared entities rank above
        hubs. No path gives an empty :class:`~kgrec.explain.Explanation` whose ``message`` says
        why; unknown raw ids raise :class:`~kgrec.exceptions.UnknownIdError`.
        """
        from kgrec.explain import attention_weights, explain

        self._check_fitted()
        assert self._train is not None
        if self.is_encoder and self._path_weights is None:
            self._path_weights = attention_weights(self._model, self._graph, self._train) or False
        weights = self._path_weights or None
        return explain(
            self._train, user, item, max_paths=max_paths, max_hops=max_hops, weights=weights
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write weights, config, versions and the fitted data to a folder (no pickle).

        Layout: ``recommender.json`` (config, versions, dataset checksum), ``weights.pt`` (a
        tensor-only state dict, loaded with ``weights_only=True``; encoders only: closed-form
        baselines are refitted from the saved training data, which is deterministic), and
        ``train/`` (+ ``valid/``) as processed datasets.
        """
        from kgrec.data.io import save_dataset

        self._check_fitted()
        assert self._train is not None
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        save_dataset(self._train, folder / "train")
        if len(self._seen) > 1:
            save_dataset(self._seen[1], folder / "valid")
        if self.is_encoder:
            torch.save({k: v.detach().cpu() for k, v in self._model.state_dict().items()}, folder / "weights.pt")
        meta = {
            "format": "kgrec-recommender",
            "format_version": SAVE_FORMAT,
            "config": self.config(),
            "dataset_checksum": self._train.checksum(),
            "versions": {
                "kgrec": __version__,
                "torch": torch.__version__,
                "python": platform.python_version(),
            },
        }
        (folder / "recommender.json").write_text(json.dumps(meta, indent=2) + "\n")
        if self.history_ is not None:
            self.history_.to_csv(folder / "history.csv", index=False)
        return folder

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device | None = None) -> Recommender:
        """Rebuild a recommender written by :meth:`save`, its encoder on ``device`` (default
        the CPU, whatever device it was trained on)."""
        from kgrec.data.io import load_dataset
        from kgrec.graph import build_graph

        folder = Path(path)
        if (folder / "fusion.json").is_file():  # a FusedRecommender's folder
            from kgrec.fusion import FusedRecommender

            return FusedRecommender.load(folder, device=device)  # type: ignore[return-value]
        meta_path = folder / "recommender.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{folder} holds no saved recommender (no recommender.json)")
        meta = json.loads(meta_path.read_text())
        config = dict(meta["config"])
        model = config.pop("model")
        rec = cls(model, device=device, **config)
        train = load_dataset(folder / "train")
        if train.checksum() != meta["dataset_checksum"]:
            raise ValueError(f"{folder / 'train'} changed after it was saved (checksum mismatch)")
        valid = load_dataset(folder / "valid") if (folder / "valid").exists() else None
        rec._train = train
        rec._seen = [train] + ([valid] if valid is not None else [])
        if rec.is_encoder:
            rec._graph = build_graph(train).to(rec.device)
            rec._model = get_encoder(model).from_data(rec._graph, **rec.hyper).to(rec.device)
            state = torch.load(folder / "weights.pt", weights_only=True, map_location=rec.device)
            rec._model.load_state_dict(state)
        else:
            rec._model = BASELINES[model](**rec._baseline_hyper()).fit(train)
        if (folder / "history.csv").exists():
            rec.history_ = pd.read_csv(folder / "history.csv")
        return rec
