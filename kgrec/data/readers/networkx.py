"""A dataset as a networkx ``MultiDiGraph`` and back, for inspection, plotting and graph tools.

Convention (both directions):

* nodes ``("user", raw)``, ``("item", raw)``, ``("entity", raw)`` with attribute ``type``;
* ``user -> item`` edges with ``relation="interacts"`` and ``rating`` / ``timestamp`` /
  ``weight`` attributes when the dataset has them;
* ``item -> entity`` edges with ``relation="is_entity"`` (the item's KG entity);
* ``entity -> entity`` edges with the KG relation name (attribute links included);
* ``user -> entity`` edges with the user attribute relation (``age``, ``gender``, ...).

Edge keys are the relation names, so a pair holds at most one edge per relation.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from kgrec.data.dataset import INTERACTION_VALUE_COLUMNS, RecDataset
from kgrec.exceptions import DataFormatError

INTERACTS = "interacts"
IS_ENTITY = "is_entity"
NODE_TYPES = ("user", "item", "entity")


def to_networkx(dataset: RecDataset) -> nx.MultiDiGraph:
    """The dataset as one typed multigraph (see the module docstring for the convention)."""
    graph = nx.MultiDiGraph(name=dataset.name)
    users = [("user", u) for u in dataset.users.raw_ids.tolist()]
    items = [("item", i) for i in dataset.items.raw_ids.tolist()]
    entities = [("entity", e) for e in dataset.entities.raw_ids.tolist()]
    relations = dataset.relations.raw_ids.tolist()
    for kind, nodes in (("user", users), ("item", items), ("entity", entities)):
        graph.add_nodes_from(nodes, type=kind)

    inter = dataset.interactions
    values = [c for c in INTERACTION_VALUE_COLUMNS if c in inter]
    attrs = inter[values].to_dict("records") if values else [{}] * len(inter)
    graph.add_edges_from(
        (users[u], items[i], INTERACTS, {"relation": INTERACTS, **a})
        for u, i, a in zip(inter["user"].tolist(), inter["item"].tolist(), attrs, strict=True)
    )
    linked = np.flatnonzero(dataset.item_entity >= 0)
    graph.add_edges_from(
        (items[i], entities[e], IS_ENTITY, {"relation": IS_ENTITY})
        for i, e in zip(linked.tolist(), dataset.item_entity[linked].tolist(), strict=True)
    )
    t = dataset.triples
    graph.add_edges_from(
        (entities[h], entities[tl], relations[r], {"relation": relations[r]})
        for h, r, tl in zip(
            t["head"].tolist(), t["relation"].tolist(), t["tail"].tolist(), strict=True
        )
    )
    ul = dataset.user_links
    graph.add_edges_from(
        (users[u], entities[e], relations[r], {"relation": relations[r]})
        for u, r, e in zip(
            ul["user"].tolist(), ul["relation"].tolist(), ul["entity"].tolist(), strict=True
        )
    )
    return graph


def from_networkx(graph: nx.Graph, *, name: str | None = None) -> RecDataset:
    """Read a graph following the :func:`to_networkx` convention back into a dataset.

    A node's type is its ``type`` attribute, else the first element of a ``(type, raw)``
    tuple; its raw id is the second element (or the node itself). ``interacts`` and
    ``is_entity`` edges may point either way (undirected graphs work). A user link whose
    entity is not named ``relation=value`` gets such a name (``from_frames`` builds user link
    entities from values).

    Raises:
        DataFormatError: a node without a type, an edge without ``relation``, or an edge
            between node types the convention does not have.
    """
    node_type: dict[Any, str] = {}
    node_raw: dict[Any, Any] = {}
    for node, data in graph.nodes(data=True):
        is_pair = isinstance(node, tuple) and len(node) == 2
        kind = data.get("type", node[0] if is_pair else None)
        if kind not in NODE_TYPES:
            raise DataFormatError(
                f"expected node type 'user', 'item' or 'entity' (a 'type' attribute or a "
                f"(type, id) tuple), got {kind!r} for node {node!r}",
                field="type",
            )
        node_type[node] = kind
        node_raw[node] = node[1] if is_pair else node

    rows = []
    for u, v, data in graph.edges(data=True):
        if "relation" not in data:
            raise DataFormatError(
                f"edge {u!r} -> {v!r} has no 'relation' attribute", field="relation"
            )
        values = [data.get(c, np.nan) for c in INTERACTION_VALUE_COLUMNS]
        rows.append(
            [node_type[u], node_raw[u], node_type[v], node_raw[v], data["relation"], *values]
        )
    edges = pd.DataFrame(
        rows,
        columns=["src_type", "src", "dst_type", "dst", "relation", *INTERACTION_VALUE_COLUMNS],
        dtype=object,
    )
    edges = _orient(edges)
    kinds = edges["src_type"] + "->" + edges["dst_type"]

    inter_rows = edges[(edges["relation"] == INTERACTS) & (kinds == "user->item")]
    inter = pd.DataFrame({"user": _typed(inter_rows["src"]), "item": _typed(inter_rows["dst"])})
    for col in INTERACTION_VALUE_COLUMNS:
        present = inter_rows[col].notna()
        if present.any():
            inter[col] = inter_rows[col].to_numpy(dtype=np.float64)

    align_rows = edges[(edges["relation"] == IS_ENTITY) & (kinds == "item->entity")]
    triple_rows = edges[kinds == "entity->entity"]
    link_rows = edges[kinds == "user->entity"]
    known = inter_rows.index.union(align_rows.index).union(triple_rows.index).union(link_rows.index)
    other = edges.drop(index=known)
    if len(other):
        row = other.iloc[0]
        raise DataFormatError(
            f"expected user-interacts-item, item-is_entity-entity, entity->entity or user->entity "
            f"edges; got {len(other)} other edge(s), e.g. {row['src_type']} {row['src']!r} "
            f"-{row['relation']}-> {row['dst_type']} {row['dst']!r}",
            field="relation",
        )

    users_attr = None
    if len(link_rows):
        rel = link_rows["relation"].astype(str).to_numpy(dtype=object)
        ent = link_rows["dst"].astype(str).to_numpy(dtype=object)
        prefixed = np.array(
            [e.startswith(f"{r}=") for r, e in zip(rel, ent, strict=True)], dtype=bool
        )
        value = np.where(prefixed, [e[len(r) + 1 :] for r, e in zip(rel, ent, strict=True)], ent)
        long = pd.DataFrame(
            {"user": link_rows["src"].to_numpy(dtype=object), "relation": rel, "value": value}
        )
        wide = long.groupby(["user", "relation"], sort=False)["value"].agg(list).unstack("relation")
        wide.columns = [str(c) for c in wide.columns]
        users_attr = wide.reset_index()
        users_attr["user"] = _typed(users_attr["user"])

    all_users = [node_raw[n] for n, k in node_type.items() if k == "user"]
    all_items = [node_raw[n] for n, k in node_type.items() if k == "item"]
    return RecDataset.from_frames(
        inter,
        item_entities=pd.DataFrame(
            {"item": _typed(align_rows["src"]), "entity": _typed(align_rows["dst"])}
        ),
        triples=pd.DataFrame(
            {
                "head": _typed(triple_rows["src"]),
                "relation": _typed(triple_rows["relation"]),
                "tail": _typed(triple_rows["dst"]),
            }
        ),
        user_attributes=users_attr,
        items=all_items,
        users=all_users,
        source="<networkx graph>",
        name=name or str(graph.graph.get("name") or "networkx"),
    )


def _orient(edges: pd.DataFrame) -> pd.DataFrame:
    """Flip item->user, entity->item and entity->user edges so sources come first."""
    order = {"user": 0, "item": 1, "entity": 2}
    flip = (edges["src_type"].map(order) > edges["dst_type"].map(order)).to_numpy()
    if flip.any():
        edges = edges.copy()
        edges.loc[flip, ["src_type", "src", "dst_type", "dst"]] = edges.loc[
            flip, ["dst_type", "dst", "src_type", "src"]
        ].to_numpy()
    return edges


def _typed(values: pd.Series) -> np.ndarray:
    """int64 when every raw id is an int, object otherwise (raw ids keep their type)."""
    arr = values.to_numpy(dtype=object)
    if len(arr) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in arr):
        return arr.astype(np.int64)
    return arr
