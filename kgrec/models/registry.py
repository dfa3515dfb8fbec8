"""The encoder registry: one small explicit map ``name -> Encoder subclass``.

Encoders register themselves where they are defined (``@register_encoder("mf")``) and are
imported by :mod:`kgrec.models`, so ``ENCODERS`` is complete once that package is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from kgrec.models.base import Encoder

__all__ = ["ENCODERS", "get_encoder", "register_encoder"]

ENCODERS: dict[str, type[Encoder]] = {}

E = TypeVar("E", bound=type[Encoder])


def register_encoder(name: str) -> Callable[[E], E]:
    """Class decorator adding an :class:`Encoder` subclass to :data:`ENCODERS` under ``name``.

    Names are case-insensitive; registering a different class under a taken name raises.
    """
    key = name.lower()

    def decorator(cls: E) -> E:
        if not (isinstance(cls, type) and issubclass(cls, Encoder)):
            raise TypeError(f"register_encoder expected an Encoder subclass (got {cls!r})")
        other = ENCODERS.get(key)
        if other is not None and other is not cls:
            raise ValueError(
                f"encoder name {key!r} is already taken by {other.__module__}.{other.__qualname__}"
            )
        ENCODERS[key] = cls
        return cls

    return decorator


def get_encoder(name: str) -> type[Encoder]:
    """The encoder class registered under ``name`` (case-insensitive).

    Raises:
        KeyError: an unknown name; the message lists the valid ones.
    """
    try:
        return ENCODERS[name.lower()]
    except KeyError:
        valid = ", ".join(sorted(ENCODERS)) or "(none registered)"
        raise KeyError(f"unknown encoder {name!r}; valid names: {valid}") from None
