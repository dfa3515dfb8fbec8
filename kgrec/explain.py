"""Why was item ``i`` recommended to user ``u``? Knowledge-graph paths from the user's items.

An explanation is a path from the user through one of their **training** items, then along
knowledge-graph facts, to the target item::

    u1 -interacted-> Alien -director-> Ridley Scott <-director- Blade Runner

The graph searched (a ``networkx.MultiDiGraph``, built once per dataset) has one node per KG
entity, each item merged into its aligned entity (as in KGAT's collaborative KG; an item
without an entity is a node of its own), and every triple ``(h, r, t)`` as two edges: ``h -r->
t`` and ``t <-r- h``. Item attribute columns (``genre=Comedy``) are triples of the item's
entity, so a cold item, which has no interaction, is still reached through its attributes.
``max_hops`` counts the KG edges between the training item and the target (default 3; the
``interacted`` step is not counted).

**Score.** A path's score is the product of one weight per step, each the probability of that
step for a random walk starting at the user (every weight is in (0, 1], so longer paths never
score higher):

- ``"attention"``: when the encoder has per-edge attention (``encoder.edge_attention(graph)``,
  KGAT), the weight of a step ``h -> t`` under relation ``r`` is the attention ``π̃(h, r, t)``
  of that edge of the collaborative KG, the interaction step included (``π̃(u, interacts,
  i)``). KGAT's attention is a softmax over each head's edges, so this is the walk that follows
  the learnt attention;
- ``"degree"`` (every other model, baselines included): ``1 / deg(h)``, a uniform walk: the
  interaction step weighs ``1 / |train items of u|`` and each KG step ``1 / (KG edges of the
  node it leaves)``, so a specific shared entity (a director with three films) ranks above a
  generic hub (a genre with thousands).

The best ``max_paths`` paths are found best-first (a priority queue of partial paths ordered by
score; exact because weights are at most 1), pruned by the BFS distance to the target. Paths
through the same nodes that differ only in a parallel fact (a relation and its inverse stored
as two triples) count once, with their best-scored reading. When the target is itself one of
the user's training items, the 0-hop path ``u -interacted-> i`` is among the answers.
Training items are those of ``data`` (the train part the graph was built from), not valid.
"""

from __future__ import annotations

import heapq
import logging
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from kgrec.data.dataset import RecDataset

__all__ = [
    "INTERACTED",
    "EdgeAttention",
    "Explanation",
    "ExplanationPath",
    "Step",
    "attention_weights",
    "explain",
    "knowledge_graph",
]

logger = logging.getLogger(__name__)

#: the relation name of the first step (the user's interaction with a training item)
INTERACTED = "interacted"
_DEFAULT_MAX_EXPANSIONS = 100_000

Node = tuple[str, int]  # ("entity", e) or ("item", i) for an item without an entity
EdgeKey = tuple[int, bool]  # (relation index, forward: the triple reads head -> tail)


# ---------------------------------------------------------------------- results
@dataclass(frozen=True)
class Step:
    """One step of a path: the fact ``previous -relation-> node`` (``forward``) or ``previous
    <-relation- node``, read with raw ids.

    Attributes:
        relation: the relation's raw name (``"director"``), ``"interacted"`` for the first step.
        forward: True when the triple is ``(previous, relation, node)``; False when it is
            ``(node, relation, previous)``.
        kind: ``"item"`` or ``"entity"``: what ``node`` is.
        node: raw item or entity id of the node reached.
        weight: this step's factor of the path score.
    """

    relation: str
    forward: bool
    kind: str
    node: Any
    weight: float

    def arrow(self) -> str:
        return f"-{self.relation}->" if self.forward else f"<-{self.relation}-"


@dataclass(frozen=True)
class ExplanationPath:
    """A path ``user -interacted-> training item ... -> target item`` and its score.

    Attributes:
        user, item: raw ids of the user and the target item.
        steps: the steps from the user; ``steps[0]`` reaches the training item.
        score: product of the steps' weights.
    """

    user: Any
    item: Any
    steps: tuple[Step, ...]
    score: float

    @property
    def hops(self) -> int:
        """Knowledge-graph edges between the training item and the target."""
        return len(self.steps) - 1

    @property
    def via(self) -> Any:
        """The raw id of the user's training item the path starts from."""
        return self.steps[0].node

    @property
    def relations(self) -> tuple[str, ...]:
        return tuple(s.relation for s in self.steps)

    @property
    def nodes(self) -> tuple[Any, ...]:
        """Raw ids along the path, the user first and the target last."""
        return (self.user, *(s.node for s in self.steps))

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(s.weight for s in self.steps)

    def __str__(self) -> str:
        return " ".join([str(self.user), *(f"{s.arrow()} {s.node}" for s in self.steps)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "item": self.item,
            "score": self.score,
            "hops": self.hops,
            "via": self.via,
            "path": str(self),
            "nodes": list(self.nodes),
            "relations": list(self.relations),
            "weights": list(self.weights),
        }


@dataclass
class Explanation(Sequence[ExplanationPath]):
    """The ranked paths explaining one (user, item) pair; a sequence of :class:`ExplanationPath`.

    Attributes:
        user, item: the raw ids asked about.
        paths: best first.
        scoring: ``"attention"`` or ``"degree"`` (see the module docstring).
        max_hops: the hop limit of the search.
        message: why the list is empty (or was cut short), else ``""``.
    """

    user: Any
    item: Any
    paths: list[ExplanationPath] = field(default_factory=list)
    scoring: str = "degree"
    max_hops: int = 3
    message: str = ""

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: Any) -> Any:
        return self.paths[index]

    def __iter__(self) -> Iterator[ExplanationPath]:
        return iter(self.paths)

    def to_frame(self) -> pd.DataFrame:
        """One row per path: ``rank, score, hops, via, path, nodes, relations, weights``."""
        columns = ["rank", "score", "hops", "via", "path", "nodes", "relations", "weights"]
        rows = [{"rank": r, **p.to_dict()} for r, p in enumerate(self.paths, start=1)]
        return pd.DataFrame(rows, columns=["user", "item", *columns])

    def __str__(self) -> str:
        how = {"attention": "the model's attention", "degree": "inverse node degree"}.get(
            self.scoring, self.scoring
        )
        head = f"why item {self.item!r} for user {self.user!r}"
        if not self.paths:
            return f"{head}: {self.message or 'no path'}"
        lines = [f"{head} ({len(self.paths)} path(s), scored by {how}):"]
        lines += [f"{r:>3}. {p.score:.4g}  {p}" for r, p in enumerate(self.paths, start=1)]
        if self.message:
            lines.append(f"note: {self.message}")
        return "\n".join(lines)


# ---------------------------------------------------------------------- the KG as networkx
@dataclass(eq=False)
class _KG:
    graph: nx.MultiDiGraph
    entity_items: dict[int, int]  # entity -> the first item aligned to it
    degree: dict[Node, int]  # KG edges leaving each node (both directions of its triples)


_GRAPHS: weakref.WeakKeyDictionary[RecDataset, _KG] = weakref.WeakKeyDictionary()


def _item_node(data: RecDataset, item: int) -> Node:
    entity = int(data.item_entity[item])
    return ("entity", entity) if entity >= 0 else ("item", item)


def _kg(data: RecDataset) -> _KG:
    hit = _GRAPHS.get(data)
    if hit is None:
        graph = nx.MultiDiGraph()
        graph.add_nodes_from(("entity", e) for e in range(data.num_entities))
        unaligned = np.flatnonzero(data.item_entity < 0)
        graph.add_nodes_from(("item", int(i)) for i in unaligned)
        t = data.triples
        heads, rels, tails = (t[c].to_numpy(dtype=np.int64) for c in ("head", "relation", "tail"))
        keep = heads != tails  # a self-loop never lies on a simple path
        heads, rels, tails = heads[keep].tolist(), rels[keep].tolist(), tails[keep].tolist()
        graph.add_edges_from(
            (("entity", h), ("entity", tl), (r, True))
            for h, r, tl in zip(heads, rels, tails, strict=True)
        )
        graph.add_edges_from(
            (("entity", tl), ("entity", h), (r, False))
            for h, r, tl in zip(heads, rels, tails, strict=True)
        )
        aligned = np.flatnonzero(data.item_entity >= 0)
        entity_items: dict[int, int] = {}
        for i, e in zip(aligned.tolist(), data.item_entity[aligned].tolist(), strict=True):
            entity_items.setdefault(e, i)
        hit = _GRAPHS[data] = _KG(graph, entity_items, dict(graph.out_degree()))
    return hit


def knowledge_graph(data: RecDataset) -> nx.MultiDiGraph:
    """The graph explanations are searched in (see the module docstring), built once per dataset.

    Nodes are ``("entity", e)`` (local entity index; an aligned item *is* its entity's node)
    and ``("item", i)`` for items without an entity; edges are keyed ``(relation index,
    forward)``, both directions of every triple.
    """
    return _kg(data).graph


# ---------------------------------------------------------------------- step weights
class EdgeAttention:
    """Per-edge attention of a collaborative KG (:mod:`kgrec.graph.ckg`), looked up by path step.

    Args:
        edge_index: ``[2, E]`` (head, tail) CKG node ids.
        edge_type: ``[E]`` CKG relation ids.
        weight: ``[E]`` the attention (``edge_index``, ``edge_type`` and ``weight`` are what
            ``KGAT.edge_attention(graph)`` returns).
        item_node: ``[I]`` each item's CKG node.
        num_users: ``U`` (user ``u`` is node ``u``, entity ``e`` is node ``U + e``).
        num_relations: ``R``, the dataset's relation count: ``build_graph`` stores the reverse
            of relation ``r`` as ``r + R``, the CKG shifts both by
            :data:`~kgrec.graph.ckg.KG_OFFSET`.
    """

    def __init__(
        self,
        edge_index: Any,
        edge_type: Any,
        weight: Any,
        *,
        item_node: Any,
        num_users: int,
        num_relations: int,
    ) -> None:
        from kgrec.graph.ckg import KG_OFFSET, REL_INTERACTS

        index = _numpy(edge_index)
        heads = np.asarray(index[0], dtype=np.int64)
        tails = np.asarray(index[1], dtype=np.int64)
        types = np.asarray(_numpy(edge_type), dtype=np.int64)
        self.num_types = int(types.max()) + 1 if types.size else 1
        # edges sorted by head, then by (tail, type): a head's edges are one slice whose keys
        # ``tail * num_types + type`` are sorted, so a step is one binary search
        keys = tails * self.num_types + types
        order = np.lexsort((keys, heads))
        self.num_nodes = int(heads.max()) + 1 if heads.size else 0
        self.indptr = np.searchsorted(heads[order], np.arange(self.num_nodes + 1))
        self.keys = keys[order]
        self.weights = np.asarray(_numpy(weight), dtype=np.float64)[order]
        self.item_node = np.asarray(_numpy(item_node), dtype=np.int64)
        self.num_users = int(num_users)
        self.num_relations = int(num_relations)
        self.kg_offset = KG_OFFSET
        self.interacts = REL_INTERACTS

    def _node(self, node: Node) -> int:
        kind, index = node
        return self.num_users + index if kind == "entity" else int(self.item_node[index])

    def lookup(self, head: int, tails: np.ndarray, types: np.ndarray) -> np.ndarray:
        """Attention of the edges ``(head, tails[j], types[j])``; 0 where there is no such edge."""
        out = np.zeros(len(tails), dtype=np.float64)
        if head >= self.num_nodes:
            return out
        lo, hi = int(self.indptr[head]), int(self.indptr[head + 1])
        if hi == lo or not len(tails):
            return out
        keys = self.keys[lo:hi]
        want = np.asarray(tails, dtype=np.int64) * self.num_types + np.asarray(
            types, dtype=np.int64
        )
        pos = np.minimum(np.searchsorted(keys, want), hi - lo - 1)
        hit = keys[pos] == want
        out[hit] = self.weights[lo + pos[hit]]
        return out

    def user_steps(self, user: int, items: Sequence[int]) -> np.ndarray:
        """``π̃(u, interacts, i)`` for each training item (0 where the CKG lacks the edge)."""
        tails = self.item_node[np.asarray(items, dtype=np.int64)]
        return self.lookup(user, tails, np.full(len(tails), self.interacts))

    def kg_steps(self, head: Node, edges: Sequence[tuple[Node, EdgeKey]]) -> np.ndarray:
        """``π̃`` of each KG step ``head -> tail`` keyed ``(relation, forward)``."""
        tails = np.array([self._node(tail) for tail, _ in edges], dtype=np.int64)
        types = np.array(
            [self.kg_offset + r + (0 if fwd else self.num_relations) for _, (r, fwd) in edges],
            dtype=np.int64,
        )
        return self.lookup(self._node(head), tails, types)


def _numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def attention_weights(encoder: Any, graph: Any, data: RecDataset) -> EdgeAttention | None:
    """The encoder's per-edge attention as step weights, or None when it has none.

    An encoder has attention when it defines ``edge_attention(graph) -> (edge_index [2, E],
    edge_type [E], weight [E])`` over the collaborative KG of ``graph`` (KGAT does).
    """
    method = getattr(encoder, "edge_attention", None)
    if method is None or graph is None:
        return None
    from kgrec.graph.ckg import collaborative_kg

    edge_index, edge_type, weight = method(graph)
    ckg = collaborative_kg(graph)
    return EdgeAttention(
        edge_index, edge_type, weight,
        item_node=ckg.item_node, num_users=ckg.num_users, num_relations=data.num_relations,
    )  # fmt: skip


# ---------------------------------------------------------------------- the search
def _label(data: RecDataset, kg: _KG, node: Node) -> tuple[str, Any]:
    kind, index = node
    if kind == "item":
        return "item", data.items.to_raw(index)
    item = kg.entity_items.get(index)
    if item is not None:
        return "item", data.items.to_raw(item)
    return "entity", data.entities.to_raw(index)


def _relation_name(data: RecDataset, r: int) -> str:
    return str(data.relations.to_raw(r))


def explain(
    data: RecDataset,
    user: Any,
    item: Any,
    *,
    max_paths: int = 5,
    max_hops: int = 3,
    weights: EdgeAttention | None = None,
    max_expansions: int = _DEFAULT_MAX_EXPANSIONS,
) -> Explanation:
    """The best ``max_paths`` KG paths from ``user``'s training items to ``item``.

    Args:
        data: the training part the model was fitted on (its interactions are the user's
            items; its KG, shared by every part, is searched).
        user, item: raw ids.
        max_paths: paths returned at most (>= 1), default 5.
        max_hops: KG edges between the training item and the target at most (>= 1), default 3.
        weights: per-edge attention (:func:`attention_weights`); ``None`` scores paths by
            inverse degree. See the module docstring.
        max_expansions: the search stops after expanding this many partial paths (and says so
            in ``message``); bounds the time on graphs with large hubs.

    Returns:
        An :class:`Explanation`; empty, with ``message`` saying why, when no path exists (no
        training interaction, no KG link, or none within ``max_hops``).

    Raises:
        UnknownIdError: ``user`` or ``item`` is not a raw id of ``data`` (a ``KeyError``).
        ValueError: ``max_paths`` or ``max_hops`` below 1.
    """
    if int(max_paths) < 1:
        raise ValueError(f"max_paths must be >= 1 (got {max_paths})")
    if int(max_hops) < 1:
        raise ValueError(f"max_hops must be >= 1 (got {max_hops})")
    max_paths, max_hops = int(max_paths), int(max_hops)
    u = data.users.to_index(user)  # UnknownIdError names the id
    target = data.items.to_index(item)
    scoring = "attention" if weights is not None else "degree"
    out = Explanation(user=user, item=item, scoring=scoring, max_hops=max_hops)

    inter = data.interactions
    train_items = np.unique(inter["item"].to_numpy()[inter["user"].to_numpy() == u])
    if train_items.size == 0:
        return _empty(out, f"user {user!r} has no training interaction to explain from")
    kg = _kg(data)
    graph = kg.graph
    target_node = _item_node(data, target)

    # start nodes: one per distinct node of the user's items (first item wins a shared entity)
    starts: dict[Node, int] = {}
    for i in train_items.tolist():
        starts.setdefault(_item_node(data, i), i)
    if weights is not None:
        first = weights.user_steps(u, list(starts.values()))
    else:
        first = np.full(len(starts), 1.0 / len(train_items))

    if kg.degree[target_node] == 0 and target_node not in starts:
        return _empty(
            out,
            f"item {item!r} has no knowledge-graph link (no entity triple, no attribute), so no "
            "path reaches it",
        )
    # hops left to the target from each node within reach (the graph is symmetric), and the
    # nodes within k hops of it: a hub is expanded through this ball, not its thousands of edges
    dist = nx.single_source_shortest_path_length(graph, target_node, cutoff=max_hops)
    ball = [[n for n, d in dist.items() if d <= k] for k in range(max_hops + 1)]

    counter = 0
    heap: list[tuple[float, int, int, tuple[Node, ...], tuple[tuple[str, bool, float], ...]]] = []
    for node, w in zip(starts, first.tolist(), strict=True):
        if node in dist and w > 0:
            heap.append((-w, 0, counter, (node,), ((INTERACTED, True, w),)))
            counter += 1
    heapq.heapify(heap)
    found: list[ExplanationPath] = []
    seen_routes: set[tuple[Node, ...]] = set()
    expansions = 0
    truncated = False
    while heap and len(found) < max_paths:
        neg_score, hops, _, nodes, steps = heapq.heappop(heap)
        node = nodes[-1]
        if node == target_node:
            # parallel facts between the same nodes (a relation and its stored inverse) make
            # one route: keep its best-scored reading only
            if nodes not in seen_routes:
                seen_routes.add(nodes)
                found.append(_path(data, kg, user, item, starts, nodes, steps, -neg_score))
            continue
        if hops >= max_hops:
            continue
        if expansions >= max_expansions:
            truncated = True
            break
        expansions += 1
        left = max_hops - hops - 1
        on_path = set(nodes)
        succ = graph.succ[node]
        near = ball[left]
        if len(near) < len(succ):
            tails = [n for n in near if n in succ and n not in on_path]
        else:
            tails = [n for n in succ if n not in on_path and dist.get(n, max_hops + 1) <= left]
        edges = [(tail, key) for tail in tails for key in succ[tail]]
        if not edges:
            continue
        if weights is not None:
            step_w = weights.kg_steps(node, edges)
        else:
            step_w = np.full(len(edges), 1.0 / kg.degree[node])
        for (tail, (r, fwd)), w in zip(edges, step_w.tolist(), strict=True):
            if w <= 0:  # an edge the encoder's graph lacks: not a path the model used
                continue
            score = -neg_score * w
            step = (_relation_name(data, r), fwd, w)
            heapq.heappush(heap, (-score, hops + 1, counter, (*nodes, tail), (*steps, step)))
            counter += 1

    out.paths = found
    if truncated:
        out.message = (
            f"the search stopped after {max_expansions} expansions; better paths may exist "
            "(raise max_expansions or lower max_hops)"
        )
        logger.warning("explain(%r, %r): %s", user, item, out.message)
    if not found:
        return _empty(
            out,
            out.message
            or f"no path of at most {max_hops} knowledge-graph hop(s) links any of the "
            f"{train_items.size} training item(s) of user {user!r} to item {item!r}; try a larger "
            "max_hops",
        )
    return out


def _empty(out: Explanation, message: str) -> Explanation:
    out.paths = []
    out.message = message
    logger.info("explain(%r, %r): %s", out.user, out.item, message)
    return out


def _path(
    data: RecDataset,
    kg: _KG,
    user: Any,
    item: Any,
    starts: dict[Node, int],
    nodes: tuple[Node, ...],
    steps: tuple[tuple[str, bool, float], ...],
    score: float,
) -> ExplanationPath:
    out = []
    last = len(nodes) - 1
    for j, (node, (relation, forward, w)) in enumerate(zip(nodes, steps, strict=True)):
        if j == last:  # the target: its own raw id even if its entity is shared
            kind, raw = "item", item
        elif j == 0:  # the user's training item
            kind, raw = "item", data.items.to_raw(starts[node])
        else:
            kind, raw = _label(data, kg, node)
        out.append(Step(relation=relation, forward=forward, kind=kind, node=raw, weight=float(w)))
    return ExplanationPath(user=user, item=item, steps=tuple(out), score=float(score))
