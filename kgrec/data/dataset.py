"""RecDataset: interactions, item-entity alignment, KG triples and attribute links, validated."""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from kgrec.data.idmap import IdMap
from kgrec.exceptions import DataFormatError, DataWarning

logger = logging.getLogger(__name__)

DuplicatePolicy = Literal["first", "last", "sum", "max", "mean", "error"]
INTERACTION_VALUE_COLUMNS = ("rating", "timestamp", "weight")
LINE_COLUMN = "_line"  # optional column carried by readers so errors can name the source line


def attribute_entity(column: str, value: Any) -> str:
    """The raw entity id an attribute value becomes, e.g. ``genre=Comedy``."""
    return f"{column}={value}"


@dataclass(eq=False)
class RecDataset:
    """One recommendation dataset with every index local and contiguous per node type.

    Attributes:
        users, items, entities, relations: raw id <-> index maps.
        interactions: ``user``, ``item`` (int64 local indices) and optionally ``rating``,
            ``timestamp``, ``weight`` (float64). One row per (user, item) pair.
        item_entity: ``[n_items]`` int64, the KG entity of each item or ``-1`` when unlinked.
        triples: ``head``, ``relation``, ``tail`` (int64 local entity / relation indices). Item
            attribute columns are stored here too, as ``(item's entity, column, "column=value")``.
        user_links: ``user``, ``relation``, ``entity``: user attribute links (age, gender, ...).
        report: counts of every dropped, merged or created row, by kind.

    Build one with :meth:`from_frames` (what every reader calls) or :func:`kgrec.load_dataset`.
    """

    users: IdMap
    items: IdMap
    entities: IdMap
    relations: IdMap
    interactions: pd.DataFrame
    item_entity: np.ndarray
    triples: pd.DataFrame
    user_links: pd.DataFrame
    name: str = "dataset"
    report: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ sizes and stats
    @property
    def num_users(self) -> int:
        return len(self.users)

    @property
    def num_items(self) -> int:
        return len(self.items)

    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    @property
    def num_interactions(self) -> int:
        return len(self.interactions)

    def stats(self) -> dict[str, Any]:
        """Counts a user checks first; every value is a plain int or float (JSON-ready)."""
        n_u, n_i = self.num_users, self.num_items
        interacted = np.zeros(n_i, dtype=bool)
        interacted[self.interactions["item"].to_numpy()] = True
        active = np.zeros(n_u, dtype=bool)
        active[self.interactions["user"].to_numpy()] = True
        return {
            "users": n_u,
            "items": n_i,
            "interactions": self.num_interactions,
            "density": float(self.num_interactions / (n_u * n_i)) if n_u and n_i else 0.0,
            "entities": self.num_entities,
            "relations": self.num_relations,
            "triples": len(self.triples),
            "user_links": len(self.user_links),
            "items_without_entity": int((self.item_entity < 0).sum()),
            "items_without_interactions": int((~interacted).sum()),
            "users_without_interactions": int((~active).sum()),
        }

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"RecDataset({self.name!r}, users={s['users']}, items={s['items']}, "
            f"interactions={s['interactions']}, entities={s['entities']}, "
            f"relations={s['relations']}, triples={s['triples']})"
        )

    # ------------------------------------------------------------------ derived views
    def subset(self, rows: np.ndarray, *, name: str | None = None) -> RecDataset:
        """The same dataset (same id maps, KG and links) with only the given interaction rows."""
        inter = self.interactions.iloc[np.asarray(rows, dtype=np.int64)].reset_index(drop=True)
        return RecDataset(
            users=self.users,
            items=self.items,
            entities=self.entities,
            relations=self.relations,
            interactions=inter,
            item_entity=self.item_entity,
            triples=self.triples,
            user_links=self.user_links,
            name=name or self.name,
            report=dict(self.report),
        )

    def raw_interactions(self) -> pd.DataFrame:
        """Interactions with raw user and item ids (for export and inspection)."""
        out = self.interactions.copy()
        out["user"] = self.users.to_raw(out["user"].to_numpy())
        out["item"] = self.items.to_raw(out["item"].to_numpy())
        return out

    def raw_triples(self) -> pd.DataFrame:
        """KG triples with raw entity and relation ids."""
        return pd.DataFrame(
            {
                "head": self.entities.to_raw(self.triples["head"].to_numpy()),
                "relation": self.relations.to_raw(self.triples["relation"].to_numpy()),
                "tail": self.entities.to_raw(self.triples["tail"].to_numpy()),
            }
        )

    def user_positives(self) -> list[np.ndarray]:
        """Each user's interacted item indices, sorted (a list of length ``num_users``)."""
        inter = self.interactions.sort_values(["user", "item"], kind="stable")
        users = inter["user"].to_numpy()
        items = inter["item"].to_numpy()
        bounds = np.searchsorted(users, np.arange(self.num_users + 1))
        return [items[bounds[u] : bounds[u + 1]] for u in range(self.num_users)]

    def checksum(self) -> str:
        """sha256 over ids, interactions, alignment, triples and user links."""
        h = hashlib.sha256()
        for m in (self.users, self.items, self.entities, self.relations):
            h.update(("\x1f".join(map(str, m.raw_ids.tolist()))).encode())
            h.update(b"\x1e")
        for frame in (self.interactions, self.triples, self.user_links):
            for col in frame.columns:
                h.update(col.encode())
                h.update(np.ascontiguousarray(frame[col].to_numpy()).tobytes())
        h.update(np.ascontiguousarray(self.item_entity).tobytes())
        return h.hexdigest()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frames(
        cls,
        interactions: pd.DataFrame,
        *,
        item_entities: pd.DataFrame | None = None,
        triples: pd.DataFrame | None = None,
        item_attributes: pd.DataFrame | None = None,
        user_attributes: pd.DataFrame | None = None,
        items: Iterable[Any] | None = None,
        users: Iterable[Any] | None = None,
        entities: Iterable[Any] | None = None,
        relations: Iterable[Any] | None = None,
        rating_threshold: float | None = None,
        duplicates: DuplicatePolicy = "first",
        source: str = "<frames>",
        name: str = "dataset",
        report: dict[str, int] | None = None,
    ) -> RecDataset:
        """Validate raw frames and map raw ids to local indices.

        Args:
            interactions: columns ``user``, ``item`` (raw ids), optional ``rating``,
                ``timestamp``, ``weight`` and ``_line`` (source line numbers for messages).
            item_entities: columns ``item``, ``entity``: each item's KG entity (1:1).
            triples: columns ``head``, ``relation``, ``tail`` (raw entity / relation ids).
            item_attributes: column ``item`` plus one column per attribute; a cell may hold a
                scalar or a list (multi-valued, e.g. genres). Each value becomes an entity
                ``column=value`` linked by relation ``column``; an item with attributes but no
                entity gets one of its own (``item:<raw id>``).
            user_attributes: column ``user`` plus attribute columns, stored as ``user_links``.
            items, users: extra raw ids to include although they have no interaction (e.g. the
                full item catalogue); items only in ``item_entities`` / ``item_attributes`` are
                added as well: these are the cold-start items.
            entities, relations: extra raw entity / relation ids to keep although no triple or
                link uses them (e.g. a KG's full entity and relation lists).
            rating_threshold: keep only interactions with ``rating >= threshold`` (implicit
                feedback); dropped rows are counted in ``report``.
            duplicates: what to do with repeated (user, item) pairs: keep the ``first`` /
                ``last`` row, ``sum`` / ``max`` / ``mean`` the value columns, or ``error``.
            source: a file or folder name used in error messages.

        Raises:
            DataFormatError: a missing column, NaN id, non-numeric value, empty input, or a
                duplicate pair under ``duplicates="error"``; the message names source, line and
                field.
        """
        report = dict(report or {})
        inter = _validate_interactions(interactions, source)

        if rating_threshold is not None:
            if "rating" not in inter:
                raise DataFormatError(
                    "rating_threshold needs a rating column (got columns "
                    f"{list(inter.columns)})",
                    file=source,
                    field="rating",
                )
            keep = inter["rating"].to_numpy() >= rating_threshold
            report["dropped_below_threshold"] = report.get("dropped_below_threshold", 0) + int((~keep).sum())
            inter = inter[keep]

        inter, merged = _apply_duplicate_policy(inter, duplicates, source)
        if merged:
            report["merged_duplicates"] = report.get("merged_duplicates", 0) + merged
            warnings.warn(
                f"{source}: {merged} duplicate (user, item) rows merged with policy {duplicates!r}",
                DataWarning,
                stacklevel=2,
            )
        inter = inter.drop(columns=[LINE_COLUMN], errors="ignore")

        # ---- item universe: interactions, then catalogue, alignment and attribute items
        item_ids = IdMap.from_values(inter["item"].to_numpy(), name="item")
        extra_items: list[Any] = []
        if items is not None:
            extra_items.extend(items)
        if item_entities is not None:
            _require_columns(item_entities, ("item", "entity"), source, "item-entity links")
            extra_items.extend(item_entities["item"].tolist())
        if item_attributes is not None:
            _require_columns(item_attributes, ("item",), source, "item attributes")
            extra_items.extend(item_attributes["item"].tolist())
        if extra_items:
            item_ids = item_ids.extend(_sorted_if_possible(extra_items))
        user_ids = IdMap.from_values(inter["user"].to_numpy(), name="user")
        extra_users: list[Any] = list(users) if users is not None else []
        if user_attributes is not None:
            _require_columns(user_attributes, ("user",), source, "user attributes")
            extra_users.extend(user_attributes["user"].tolist())
        if extra_users:
            user_ids = user_ids.extend(_sorted_if_possible(extra_users))

        # ---- entities and relations: triples, alignment, attribute values
        triple_frame = _empty_triples() if triples is None else triples
        _require_columns(triple_frame, ("head", "relation", "tail"), source, "KG triples")
        for col in ("head", "relation", "tail"):
            _reject_nan(triple_frame, col, source)
        align = item_entities if item_entities is not None else pd.DataFrame({"item": [], "entity": []})
        _reject_nan(align, "entity", source)
        align = align.drop_duplicates()
        dup_align = align["item"].duplicated(keep="first")
        if dup_align.any():
            report["extra_item_entity_links"] = int(dup_align.sum())
            warnings.warn(
                f"{source}: {int(dup_align.sum())} items link to more than one entity; the first "
                "link is the item's entity, the others are ignored",
                DataWarning,
                stacklevel=2,
            )
            align = align[~dup_align]

        item_attr_links, user_attr_links = _attribute_links(item_attributes, "item"), _attribute_links(user_attributes, "user")
        entity_values = pd.concat(
            [
                triple_frame["head"].astype(object),
                triple_frame["tail"].astype(object),
                align["entity"].astype(object),
            ],
            ignore_index=True,
        )
        entity_ids = IdMap.from_values(entity_values.to_numpy(), name="entity") if len(entity_values) else IdMap([], name="entity")
        relation_ids = IdMap.from_values(triple_frame["relation"].to_numpy(), name="relation") if len(triple_frame) else IdMap([], name="relation")

        if entities is not None:
            entity_ids = entity_ids.extend(_sorted_if_possible(list(entities)))
        if relations is not None:
            relation_ids = relation_ids.extend(_sorted_if_possible(list(relations)))
        item_entity = np.full(len(item_ids), -1, dtype=np.int64)
        if len(align):
            item_entity[item_ids.to_index(align["item"].to_numpy())] = entity_ids.to_index(
                align["entity"].astype(object).to_numpy()
            )

        extra_triples = []
        if len(item_attr_links):
            needs_entity = item_ids.to_index(item_attr_links["owner"].unique())
            needs_entity = needs_entity[item_entity[needs_entity] < 0]
            if len(needs_entity):
                own = [f"item:{r}" for r in item_ids.to_raw(needs_entity)]
                entity_ids = entity_ids.extend(own)
                item_entity[needs_entity] = entity_ids.to_index(own)
                report["entities_created_for_items"] = len(own)
            entity_ids = entity_ids.extend(item_attr_links["value"].unique())
            relation_ids = relation_ids.extend(item_attr_links["relation"].unique())
            heads = item_entity[item_ids.to_index(item_attr_links["owner"].to_numpy())]
            extra_triples.append(
                pd.DataFrame(
                    {
                        "head": heads,
                        "relation": relation_ids.to_index(item_attr_links["relation"].to_numpy()),
                        "tail": entity_ids.to_index(item_attr_links["value"].to_numpy()),
                    }
                )
            )
        if len(user_attr_links):
            entity_ids = entity_ids.extend(user_attr_links["value"].unique())
            relation_ids = relation_ids.extend(user_attr_links["relation"].unique())
            user_links = pd.DataFrame(
                {
                    "user": user_ids.to_index(user_attr_links["owner"].to_numpy()),
                    "relation": relation_ids.to_index(user_attr_links["relation"].to_numpy()),
                    "entity": entity_ids.to_index(user_attr_links["value"].to_numpy()),
                }
            ).drop_duplicates(ignore_index=True)
        else:
            user_links = pd.DataFrame({"user": [], "relation": [], "entity": []}, dtype=np.int64)

        kg = pd.DataFrame(
            {
                "head": entity_ids.lookup(triple_frame["head"].astype(object).to_numpy()) if len(triple_frame) else np.array([], dtype=np.int64),
                "relation": relation_ids.lookup(triple_frame["relation"].to_numpy()) if len(triple_frame) else np.array([], dtype=np.int64),
                "tail": entity_ids.lookup(triple_frame["tail"].astype(object).to_numpy()) if len(triple_frame) else np.array([], dtype=np.int64),
            }
        )
        kg = pd.concat([kg, *extra_triples], ignore_index=True).astype(np.int64)
        n_before = len(kg)
        kg = kg.drop_duplicates(ignore_index=True)
        if len(kg) < n_before:
            report["duplicate_triples"] = report.get("duplicate_triples", 0) + n_before - len(kg)

        out_inter = pd.DataFrame(
            {
                "user": user_ids.to_index(inter["user"].to_numpy()),
                "item": item_ids.to_index(inter["item"].to_numpy()),
            }
        )
        for col in INTERACTION_VALUE_COLUMNS:
            if col in inter:
                out_inter[col] = inter[col].to_numpy(dtype=np.float64)
        for key, value in report.items():
            if value:
                logger.info("%s: %s = %d", source, key, value)
        return cls(
            users=user_ids,
            items=item_ids,
            entities=entity_ids,
            relations=relation_ids,
            interactions=out_inter,
            item_entity=item_entity,
            triples=kg,
            user_links=user_links,
            name=name,
            report=report,
        )


# ---------------------------------------------------------------------- helpers
def _empty_triples() -> pd.DataFrame:
    return pd.DataFrame({"head": [], "relation": [], "tail": []}, dtype=object)


def _sorted_if_possible(values: list[Any]) -> list[Any]:
    uniq = list(dict.fromkeys(values))
    try:
        return sorted(uniq)
    except TypeError:
        return uniq


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], source: str, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataFormatError(
            f"{what} need columns {list(columns)} (got {list(frame.columns)})",
            file=source,
            field=missing[0],
        )


def _line_of(frame: pd.DataFrame, position: int) -> int:
    if LINE_COLUMN in frame:
        return int(frame[LINE_COLUMN].iloc[position])
    return position + 1


def _reject_nan(frame: pd.DataFrame, column: str, source: str) -> None:
    bad = frame[column].isna().to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"missing value (NaN or empty) in {int(bad.sum())} row(s)",
            file=source,
            line=_line_of(frame, pos),
            field=column,
        )


def _validate_interactions(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    _require_columns(frame, ("user", "item"), source, "interactions")
    if len(frame) == 0:
        raise DataFormatError("no interactions (the input is empty)", file=source)
    frame = frame.reset_index(drop=True)
    for col in ("user", "item"):
        _reject_nan(frame, col, source)
    for col in INTERACTION_VALUE_COLUMNS:
        if col not in frame:
            continue
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan))
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise DataFormatError(
                f"expected a finite number (got {frame[col].iloc[pos]!r}); "
                f"{int(bad.sum())} such row(s)",
                file=source,
                line=_line_of(frame, pos),
                field=col,
            )
        frame[col] = values.astype(np.float64)
    return frame


def _apply_duplicate_policy(
    inter: pd.DataFrame, policy: DuplicatePolicy, source: str
) -> tuple[pd.DataFrame, int]:
    dup = inter.duplicated(subset=["user", "item"], keep="first").to_numpy()
    n_dup = int(dup.sum())
    if n_dup == 0:
        return inter, 0
    if policy == "error":
        pos = int(np.flatnonzero(dup)[0])
        raise DataFormatError(
            f"duplicate (user, item) pair ({inter['user'].iloc[pos]!r}, {inter['item'].iloc[pos]!r}); "
            f"{n_dup} duplicate row(s) in all; pass duplicates='first', 'last', 'sum', 'max' or "
            "'mean' to merge them",
            file=source,
            line=_line_of(inter, pos),
            field="item",
        )
    if policy in ("first", "last"):
        return inter[~inter.duplicated(subset=["user", "item"], keep=policy)], n_dup
    if policy in ("sum", "max", "mean"):
        values = [c for c in INTERACTION_VALUE_COLUMNS if c in inter]
        agg: dict[str, str] = {c: policy for c in values}
        if "timestamp" in agg:
            agg["timestamp"] = "max"  # the latest event of a merged pair
        if LINE_COLUMN in inter:
            agg[LINE_COLUMN] = "min"
        if not agg:
            return inter.drop_duplicates(subset=["user", "item"]), n_dup
        merged = inter.groupby(["user", "item"], sort=False, as_index=False).agg(agg)
        return merged, n_dup
    raise ValueError(
        f"duplicates must be one of 'first', 'last', 'sum', 'max', 'mean', 'error' (got {policy!r})"
    )


def _attribute_links(frame: pd.DataFrame | None, owner: str) -> pd.DataFrame:
    """Long table ``owner, relation, value`` from an attribute frame (lists exploded)."""
    if frame is None or len(frame) == 0:
        return pd.DataFrame({"owner": [], "relation": [], "value": []})
    parts = []
    for col in frame.columns:
        if col in (owner, LINE_COLUMN):
            continue
        part = frame[[owner, col]].explode(col).dropna(subset=[col])
        if len(part) == 0:
            continue
        parts.append(
            pd.DataFrame(
                {
                    "owner": part[owner].to_numpy(),
                    "relation": col,
                    "value": [attribute_entity(col, v) for v in part[col].to_numpy()],
                }
            )
        )
    if not parts:
        return pd.DataFrame({"owner": [], "relation": [], "value": []})
    return pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)
