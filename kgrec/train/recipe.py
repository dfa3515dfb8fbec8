"""Training recipes: plain, JSON-ready specs of the techniques the one fit loop composes.

A *technique* is named by a string or by a dict with a ``name`` and its options, e.g.::

    {"sampler": "mixed",
     "curriculum": {"name": "linear", "start": 0.0, "end": 1.0, "epochs": 20},
     "augment": {"name": "simgcl", "weight": 0.1},
     "pretrain": {"name": "mf", "epochs": 50, "freeze_epochs": 3},
     "lr_schedule": {"name": "cosine", "warmup_epochs": 5, "total_epochs": 100}}

:func:`build_training` turns such a spec into the fit loop's arguments (``sampler``,
``losses``, ``callbacks``) and runs the pretraining. This is what
``Recommender(..., sampler=..., curriculum=..., augment=..., pretrain=..., lr_schedule=...)``
and ``kgrec train --sampler/--curriculum/--augment/--pretrain/--lr-schedule`` use, so the spec
is saved with a model and maps one-to-one onto the command line (options through ``--config``).

- ``sampler``: a name of :data:`kgrec.scoring.SAMPLERS` (``uniform``, ``popularity``, ``dns``,
  ``mixed``); options go to the class.
- ``curriculum``: ``linear`` | ``step`` | ``self_paced`` (:mod:`kgrec.train.schedules`) over the
  sampler's ``attribute`` (default ``hard_fraction`` for ``mixed``, ``num_candidates`` for
  ``dns``); without a ``sampler`` the sampler is ``mixed``. Defaults move from easy (uniform) to
  the sampler's hardest setting: linear over 20 epochs; step in thirds at epochs 10 and 20;
  self-paced in four steps, advancing after 2 epochs without validation improvement.
- ``augment``: ``sgl`` | ``simgcl`` (:mod:`kgrec.scoring.contrastive`); options go to the term.
- ``pretrain``: ``mf`` | ``transe`` | ``transr`` (:mod:`kgrec.pretrain`); ``freeze_epochs``
  (default 0) freezes the copied tables that long (:class:`~kgrec.train.ProgressiveUnfreezing`),
  ``rescale`` (default False for ``mf``, True for KG methods) matches the encoder's initial
  table norms; other options go to the pretraining function.
- ``lr_schedule``: the decay (``constant``, ``cosine``, ``linear``, ``exponential``, ``step``);
  options go to :class:`~kgrec.train.LRSchedule`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kgrec.data.dataset import RecDataset
from kgrec.scoring.contrastive import SGLLoss, SimGCLLoss
from kgrec.scoring.losses import LossTerm
from kgrec.scoring.samplers import DynamicNegativeSampler, NegativeSampler, get_sampler
from kgrec.train.callbacks import Callback
from kgrec.train.schedules import (
    LinearSchedule,
    LRSchedule,
    ProgressiveUnfreezing,
    SelfPacedSchedule,
    StepSchedule,
)

__all__ = ["AUGMENTS", "CURRICULA", "TECHNIQUES", "build_training", "parse_spec"]

TECHNIQUES = ("sampler", "curriculum", "augment", "pretrain", "lr_schedule")
AUGMENTS: dict[str, type[LossTerm]] = {"sgl": SGLLoss, "simgcl": SimGCLLoss}
CURRICULA = ("linear", "step", "self_paced")
_TABLE_NAMES = (
    "user_embedding.weight",
    "item_embedding.weight",
    "node_embedding.weight",
    "entity_embedding.weight",
)


def parse_spec(
    value: str | Mapping[str, Any] | None, what: str
) -> tuple[str, dict[str, Any]] | None:
    """``"name"`` or ``{"name": ..., **options}`` -> ``(name, options)``; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.lower(), {}
    if isinstance(value, Mapping):
        options = dict(value)
        name = options.pop("name", None)
        if not isinstance(name, str):
            raise ValueError(
                f"expected {what} as a name or a dict with a 'name' key (got {dict(value)!r})"
            )
        return name.lower(), options
    raise TypeError(f"expected {what} as a str or a dict (got {type(value).__name__})")


def check_recipe(recipe: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` for an unknown technique or name, before any training starts."""
    unknown = sorted(set(recipe) - set(TECHNIQUES))
    if unknown:
        raise ValueError(f"unknown technique(s) {unknown}; valid: {', '.join(TECHNIQUES)}")
    from kgrec.pretrain import PRETRAINERS

    valid_names: dict[str, tuple[str, ...] | None] = {
        "sampler": None, "curriculum": CURRICULA, "augment": tuple(AUGMENTS), "pretrain": PRETRAINERS,
        "lr_schedule": ("constant", "cosine", "linear", "exponential", "step"),
    }  # fmt: skip
    for key, value in recipe.items():
        spec = parse_spec(value, key)
        if spec is None:
            continue
        if key == "sampler":
            get_sampler(spec[0])
            continue
        names = valid_names[key]
        assert names is not None
        if spec[0] not in names:
            raise ValueError(f"unknown {key} {spec[0]!r}; valid: {', '.join(names)}")


def embedding_width(encoder: Any) -> int:
    """The width of the encoder's id tables (what pretrained tables must match)."""
    params = dict(encoder.named_parameters())
    for name in _TABLE_NAMES:
        if name in params and params[name].dim() == 2:
            return int(params[name].shape[1])
    return int(encoder.out_channels)


def _curriculum(spec: tuple[str, dict[str, Any]], sampler: NegativeSampler) -> Callback:
    name, options = spec
    attribute = options.pop("attribute", None)
    if attribute is None:
        if not isinstance(sampler, DynamicNegativeSampler):
            raise ValueError(
                f"a curriculum needs a hardness to move: use sampler 'mixed' or 'dns', or name the "
                f"attribute of {type(sampler).__name__} (got sampler {type(sampler).__name__})"
            )
        attribute = "num_candidates" if sampler.hard_fraction == 1.0 else "hard_fraction"
    hard = float(getattr(sampler, attribute))
    easy = 1.0 if attribute == "num_candidates" else 0.0
    if attribute == "hard_fraction":
        hard = 1.0 if hard < 1.0 else hard
    if name == "linear":
        kw = {"start": easy, "end": hard, "epochs": 20, **options}
        return LinearSchedule(sampler, attribute, **kw)
    if name == "step":
        mid = easy + (hard - easy) / 2
        kw = {"values": [easy, mid, hard], "milestones": [10, 20], **options}
        return StepSchedule(sampler, attribute, **kw)
    if name == "self_paced":
        kw = {"start": easy, "end": hard, "step": (hard - easy) / 4, **options}
        return SelfPacedSchedule(sampler, attribute, **kw)
    raise ValueError(f"unknown curriculum {name!r}; valid: {', '.join(CURRICULA)}")


def build_training(
    recipe: Mapping[str, Any],
    *,
    encoder: Any,
    train: RecDataset,
    valid: RecDataset | None = None,
    seed: int = 2026,
    run_dir: str | Path | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Turn a recipe into ``fit`` arguments; runs (and copies) the pretraining first.

    Args:
        recipe: ``{technique: name or {"name": ..., **options}}`` (module docstring).
        encoder: the encoder about to be fitted (pretrained tables are copied into it).
        train, valid: the fit's data (pretraining sees the same, never the test part).
        seed: the fit's seed (pretraining uses it too).
        run_dir: the fit's run folder; pretraining writes to ``run_dir/pretrain``.

    Returns:
        ``{"sampler": NegativeSampler | None, "losses": [...], "callbacks": [...]}`` plus
        ``"pretrained": [copied parameter names]`` (pop it before passing the rest to ``fit``).
    """
    check_recipe(recipe)
    out: dict[str, Any] = {"sampler": None, "losses": [], "callbacks": [], "pretrained": []}
    sampler_spec = parse_spec(recipe.get("sampler"), "sampler")
    curriculum_spec = parse_spec(recipe.get("curriculum"), "curriculum")
    if sampler_spec is None and curriculum_spec is not None:
        sampler_spec = ("mixed", {})
    if sampler_spec is not None:
        out["sampler"] = get_sampler(sampler_spec[0])(train, **sampler_spec[1])
    if curriculum_spec is not None:
        out["callbacks"].append(_curriculum(curriculum_spec, out["sampler"]))

    augment_spec = parse_spec(recipe.get("augment"), "augment")
    if augment_spec is not None:
        out["losses"].append(AUGMENTS[augment_spec[0]](**augment_spec[1]))

    pretrain_spec = parse_spec(recipe.get("pretrain"), "pretrain")
    if pretrain_spec is not None:
        from kgrec.pretrain import init_from_pretrained, run_pretraining
        from kgrec.train.loop import device_of

        method, options = pretrain_spec
        freeze = int(options.pop("freeze_epochs", 0))
        rescale = bool(options.pop("rescale", method != "mf"))
        result = run_pretraining(
            method, train, valid, embedding_dim=embedding_width(encoder), seed=seed,
            run_dir=Path(run_dir) / "pretrain" if run_dir is not None else None, progress=progress,
            device=device_of(encoder), **options,
        )  # fmt: skip
        copied = init_from_pretrained(encoder, result.tables, rescale=rescale)
        out["pretrained"] = copied
        if freeze > 0 and copied:
            out["callbacks"].append(ProgressiveUnfreezing(copied, epochs=freeze))

    lr_spec = parse_spec(recipe.get("lr_schedule"), "lr_schedule")
    if lr_spec is not None:
        out["callbacks"].append(LRSchedule(decay=lr_spec[0], **lr_spec[1]))  # type: ignore[arg-type]
    return out
