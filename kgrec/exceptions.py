"""Exceptions and warnings raised by kgrec.

Library exceptions subclass built-ins so ``except ValueError`` keeps working.
"""

from __future__ import annotations

from pathlib import Path


class DataFormatError(ValueError):
    """A raw data file holds something kgrec cannot read.

    The message always names the file, the 1-based line number and the field, so the user can
    open the file and fix the row. ``file``, ``line`` and ``field`` are kept as attributes.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        where = []
        if self.file is not None:
            where.append(f"file {self.file!s}")
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class UnknownIdError(KeyError):
    """A raw user / item / entity id that the dataset does not know."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else ""


class NotFittedError(RuntimeError):
    """A model was used before ``fit`` was called."""


class DataWarning(UserWarning):
    """Rows were dropped, merged or repaired while reading data; the message counts them."""
