"""Raw id <-> contiguous local index maps, one per node type."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from kgrec.exceptions import UnknownIdError


class IdMap:
    """An ordered, immutable map from raw ids (str or int) to indices ``0 .. n-1``.

    Raw ids keep their type: a map built from integers answers integers. Lookups are vectorised
    through a ``pandas.Index``; unknown ids raise :class:`UnknownIdError` naming them.
    """

    def __init__(self, raw_ids: Iterable[Any], *, name: str = "id") -> None:
        values = list(raw_ids) if not isinstance(raw_ids, (np.ndarray, pd.Index)) else raw_ids
        index = pd.Index(values)
        if index.dtype == object and len(index):
            index = index.infer_objects()
        if not index.is_unique:
            dup = index[index.duplicated()].unique()[:5].tolist()
            raise ValueError(f"{name} ids must be unique (got duplicates such as {dup})")
        self._index = index
        self.name = name

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_values(cls, values: Iterable[Any], *, name: str = "id", sort: bool = True) -> IdMap:
        """Build a map from the distinct values of ``values`` (sorted when they compare)."""
        uniq = pd.unique(pd.Series(list(values) if not isinstance(values, (np.ndarray, pd.Series, pd.Index)) else values))
        if sort:
            try:
                uniq = np.sort(uniq)
            except TypeError:  # mixed types do not compare; keep first-seen order
                pass
        return cls(uniq, name=name)

    def extend(self, values: Iterable[Any]) -> IdMap:
        """A new map with the unknown ``values`` appended (in first-seen order)."""
        new = pd.Index(pd.unique(pd.Series(list(values), dtype=object if self.is_str else None)))
        new = new[~new.isin(self._index)]
        if len(new) == 0:
            return self
        return IdMap(self._index.append(new), name=self.name)

    # --- lookups ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, raw: Any) -> bool:
        return raw in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and self._index.equals(other._index)

    def __repr__(self) -> str:
        head = ", ".join(repr(x) for x in self._index[:3].tolist())
        more = ", ..." if len(self) > 3 else ""
        return f"IdMap({self.name}, n={len(self)}: [{head}{more}])"

    @property
    def raw_ids(self) -> np.ndarray:
        return self._index.to_numpy()

    @property
    def is_str(self) -> bool:
        return not pd.api.types.is_integer_dtype(self._index.dtype)

    def to_index(self, raw: Any | Sequence[Any]) -> np.ndarray | int:
        """Map raw id(s) to local indices; raises :class:`UnknownIdError` for unknown ones."""
        scalar = np.ndim(raw) == 0 and not isinstance(raw, (list, tuple))
        values = [raw] if scalar else list(raw) if not isinstance(raw, (np.ndarray, pd.Series)) else raw
        idx = self._index.get_indexer(values)
        if (idx < 0).any():
            missing = pd.Series(values)[idx < 0].unique()[:5].tolist()
            raise UnknownIdError(
                f"unknown {self.name} id(s) {missing} ({int((idx < 0).sum())} in all); "
                f"known {self.name} ids look like {self._index[:3].tolist()}"
            )
        return int(idx[0]) if scalar else idx.astype(np.int64)

    def lookup(self, values: Sequence[Any]) -> np.ndarray:
        """Like :meth:`to_index` but returns -1 for unknown ids instead of raising."""
        return self._index.get_indexer(values).astype(np.int64)

    def to_raw(self, index: int | Sequence[int] | np.ndarray) -> Any:
        """Map local indices back to raw ids."""
        if np.ndim(index) == 0:
            return self._index[int(index)]
        return self._index.to_numpy()[np.asarray(index, dtype=np.int64)]
