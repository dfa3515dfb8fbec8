"""RDF graphs (N-Triples, Turtle, RDF/XML, ... through rdflib) as the KG of a dataset.

The user says which subjects are items (an ``rdf:type`` class, a link table item id -> URI, or
both) and which predicates to keep. URI objects become KG triples, literal objects of items
become item attributes (``predicate=value``) or are dropped. Only triples reachable from the
items are kept: a KG dump usually holds much more than the recommender needs.

:func:`write_rdf` exports a dataset's KG and item links so :func:`read_rdf` reads them back with
the same raw ids (see its ``base``, ``item_class`` and ``item_id_predicate``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd
import rdflib
from rdflib import RDF, BNode, Graph, URIRef
from rdflib import Literal as RDFLiteral
from rdflib.util import guess_format

from kgrec.data.dataset import LINE_COLUMN, DuplicatePolicy, RecDataset
from kgrec.data.readers.csv import (
    _as_ids,
    _check_ids,
    _parse_numbers,
    _read_table,
    _require,
    _resolve_id_type,
)
from kgrec.exceptions import DataFormatError, DataWarning

#: Prefix of the URIs :func:`write_rdf` invents for raw ids that are not URIs.
DEFAULT_BASE = "urn:kgrec:"
#: Class and predicate :func:`write_rdf` uses to mark items and carry their raw ids.
KGREC = rdflib.Namespace("urn:kgrec:vocab#")
ITEM_CLASS = str(KGREC.Item)
ITEM_ID_PREDICATE = str(KGREC.itemId)

_FORMATS = {"ttl": "turtle", "turtle": "turtle", "nt": "nt", "ntriples": "nt", "n-triples": "nt",
            "xml": "xml", "rdf/xml": "xml", "rdfxml": "xml", "n3": "n3", "trig": "trig",
            "nquads": "nquads", "json-ld": "json-ld", "jsonld": "json-ld"}  # fmt: skip
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+")
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def read_rdf(
    graph_path: str | Path,
    interactions: pd.DataFrame | str | Path,
    *,
    item_class: str | None = None,
    item_links: pd.DataFrame | Mapping[Any, str] | None = None,
    item_id_predicate: str | None = None,
    predicates: Sequence[str] | None = None,
    literals: Literal["attribute", "drop"] = "attribute",
    format: str | None = None,
    max_hops: int | None = None,
    base: str = DEFAULT_BASE,
    rating_threshold: float | None = None,
    duplicates: DuplicatePolicy = "first",
    name: str | None = None,
) -> RecDataset:
    """Read an RDF graph as the KG of the items in ``interactions``.

    Args:
        graph_path: the RDF file; its format is ``format`` or guessed from the suffix
            (``.nt``, ``.ttl``, ``.rdf`` / ``.xml`` / ``.owl``, ``.n3``, ...).
        interactions: a frame (or a CSV / TSV file) with columns ``user``, ``item`` and
            optionally ``rating``, ``timestamp``, ``weight``.
        item_class: every subject ``?s rdf:type <item_class>`` is an item; its raw id is the
            URI, or the literal of ``item_id_predicate`` when given.
        item_links: item id -> URI, as a mapping or a frame with columns ``item`` and ``uri``
            (or ``entity``). Items named here keep these ids; ``item_class`` may add more.
        predicates: predicate URIs to keep; ``None`` keeps all but ``rdf:type`` (and
            ``item_id_predicate``).
        literals: ``"attribute"`` turns an item's literal objects into attribute links
            ``predicate=value``; ``"drop"`` drops them (counted as ``dropped_literals``).
            Literals of non-item subjects are always dropped (``dropped_entity_literals``).
        max_hops: keep URI triples whose subject is at most this many hops from an item
            (1 = the items' own triples); ``None`` keeps everything reachable from the items.
            Unreachable triples are counted as ``dropped_unreachable_triples``.
        base: URIs ``<base>entity/...`` and ``<base>relation/...`` (written by
            :func:`write_rdf` for ids that are not URIs) are turned back into those raw ids.

    Raises:
        DataFormatError: the file does not parse, or the interactions lack a column.
        ValueError: neither ``item_class`` nor ``item_links`` is given, or no item was found.
    """
    graph_path = Path(graph_path)
    if item_class is None and item_links is None:
        raise ValueError(
            "say which subjects are items: pass item_class=<class URI> and/or item_links"
        )
    if literals not in ("attribute", "drop"):
        raise ValueError(f"literals must be 'attribute' or 'drop' (got {literals!r})")
    graph = _parse(graph_path, format)
    inter = _interaction_frame(interactions)
    report: dict[str, int] = {}

    # ---- items: URI -> raw item id
    links = _item_link_frame(item_links)
    if item_class is not None:
        members = pd.Series(
            list(graph.subjects(RDF.type, URIRef(item_class), unique=True)), dtype=object
        )
        members = members[~members.isin(links["node"])]
        if item_id_predicate is not None:
            pairs = graph.subject_objects(URIRef(item_id_predicate))
            ids = {s: o.toPython() for s, o in pairs if isinstance(o, RDFLiteral)}
            raw = members.map(ids)
            missing = raw.isna().to_numpy()
            if missing.any():
                raise DataFormatError(
                    f"{int(missing.sum())} item(s) of class <{item_class}> have no literal "
                    f"<{item_id_predicate}>, e.g. {members[missing].iloc[0]}",
                    file=graph_path,
                    field=item_id_predicate,
                )
        else:
            raw = members.map(lambda n: _decode(n, base, "entity"))
        found = pd.DataFrame({"item": raw.to_numpy(dtype=object), "node": members.to_numpy()})
        links = pd.concat([links, found], ignore_index=True)
    if len(links) == 0:
        raise ValueError(
            f"no items found in {graph_path}: no subject has rdf:type <{item_class}> and no item_links were given"
        )
    links["entity"] = [_decode(n, base, "entity") for n in links["node"]]

    # ---- triples of the kept predicates, split by object kind
    skip = {RDF.type} if predicates is None else set()
    if item_id_predicate is not None:
        skip.add(URIRef(item_id_predicate))
    rows = [(s, p, o) for s, p, o in graph if p not in skip]
    if predicates is not None:
        wanted = {URIRef(p) for p in predicates}
        present = {p for _, p, _ in rows}
        absent = sorted(str(p) for p in wanted - present)
        if absent:
            warnings.warn(
                f"{graph_path}: predicate(s) {absent} do not occur in the graph",
                DataWarning,
                stacklevel=2,
            )
        rows = [r for r in rows if r[1] in wanted]
    frame = pd.DataFrame(rows, columns=["s", "p", "o"], dtype=object)
    is_lit = frame["o"].map(lambda o: isinstance(o, RDFLiteral)).to_numpy(dtype=bool)
    decode = _Decoder(base)
    uri_rows = frame[~is_lit]
    triples = pd.DataFrame(
        {
            "head": decode.many(uri_rows["s"], "entity"),
            "relation": decode.many(uri_rows["p"], "relation"),
            "tail": decode.many(uri_rows["o"], "entity"),
        }
    )
    triples = _reachable(triples, links["entity"], max_hops, report)

    # ---- literals
    lit_rows = frame[is_lit]
    item_attrs = None
    if len(lit_rows):
        node_to_item = dict(zip(links["node"], links["item"], strict=True))
        owner = lit_rows["s"].map(node_to_item)
        on_item = owner.notna().to_numpy()
        if (~on_item).any():
            report["dropped_entity_literals"] = int((~on_item).sum())
        if literals == "drop":
            report["dropped_literals"] = int(on_item.sum())
        elif on_item.any():
            long = pd.DataFrame(
                {
                    "item": owner[on_item].to_numpy(dtype=object),
                    "predicate": decode.many(lit_rows["p"][on_item], "relation"),
                    "value": [str(o) for o in lit_rows["o"][on_item]],
                }
            )
            wide = (
                long.groupby(["item", "predicate"], sort=False)["value"]
                .agg(list)
                .unstack("predicate")
            )
            wide.columns = [str(c) for c in wide.columns]
            item_attrs = wide.reset_index()
            item_attrs["item"] = _typed(item_attrs["item"])

    return RecDataset.from_frames(
        inter,
        item_entities=pd.DataFrame(
            {"item": _typed(links["item"]), "entity": _typed(links["entity"])}
        ),
        triples=triples,
        item_attributes=item_attrs,
        rating_threshold=rating_threshold,
        duplicates=duplicates,
        source=str(graph_path),
        name=name or graph_path.stem,
        report=report,
    )


def write_rdf(
    dataset: RecDataset,
    path: str | Path,
    *,
    format: str = "turtle",
    base: str = DEFAULT_BASE,
) -> Path:
    """Export the KG triples and item links of ``dataset`` as RDF; returns the path.

    Raw ids that are URIs are written as they are; other ids become ``<base>entity/S_<text>``
    (percent-encoded) or ``<base>entity/I_<int>``, and relations ``<base>relation/S_<name>``
    (``X_<utf-8 hex>`` when the name has characters an RDF/XML predicate cannot carry), which
    :func:`read_rdf` decodes.
    Each linked item's entity gets ``rdf:type kgrec:Item`` and ``kgrec:itemId "<raw id>"``, so
    ``read_rdf(path, interactions, item_class=ITEM_CLASS, item_id_predicate=ITEM_ID_PREDICATE)``
    gives back the same triples, alignment and item ids. Interactions and user links are not
    exported (RDF is the KG side).
    """
    path = Path(path)
    fmt = _FORMATS.get(format.lower())
    if fmt is None:
        raise ValueError(f"format must be one of {sorted(_FORMATS)} (got {format!r})")
    graph = Graph()
    graph.bind("kgrec", KGREC)
    ent = np.array([_encode(e, base, "entity") for e in dataset.entities.raw_ids], dtype=object)
    rel = np.array([_encode(r, base, "relation") for r in dataset.relations.raw_ids], dtype=object)
    t = dataset.triples
    for h, r, tl in zip(
        ent[t["head"].to_numpy()],
        rel[t["relation"].to_numpy()],
        ent[t["tail"].to_numpy()],
        strict=True,
    ):
        graph.add((h, r, tl))
    linked = np.flatnonzero(dataset.item_entity >= 0)
    for item, e in zip(dataset.items.to_raw(linked), dataset.item_entity[linked], strict=True):
        node = ent[e]
        graph.add((node, RDF.type, KGREC.Item))
        graph.add(
            (node, KGREC.itemId, RDFLiteral(item.item() if isinstance(item, np.generic) else item))
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    graph.serialize(destination=str(path), format=fmt, encoding="utf-8")
    return path


# ---------------------------------------------------------------------- helpers
def _parse(path: Path, format: str | None) -> Graph:
    """Parse with rdflib; a syntax error becomes a DataFormatError with the line when known."""
    if not path.is_file():
        raise DataFormatError("expected an RDF file, got nothing at this path", file=path)
    fmt = _FORMATS.get(format.lower(), format) if format is not None else guess_format(str(path))
    if fmt is None:
        raise DataFormatError(
            f"cannot tell the RDF format from the suffix {path.suffix!r}; pass format= "
            "('turtle', 'nt', 'xml', 'n3', ...)",
            file=path,
        )
    graph = Graph()
    try:
        graph.parse(str(path), format=fmt)
    except Exception as exc:  # rdflib raises many unrelated types for syntax errors
        line = getattr(exc, "lines", None)
        line = line + 1 if isinstance(line, int) else None
        if line is None and hasattr(exc, "getLineNumber"):
            line = exc.getLineNumber()
        raise DataFormatError(f"not valid {fmt} RDF: {exc}".strip(), file=path, line=line) from exc
    return graph


def _interaction_frame(interactions: pd.DataFrame | str | Path) -> pd.DataFrame:
    """User-item rows from a frame or a delimited file with ``user``, ``item``, ... columns."""
    if isinstance(interactions, pd.DataFrame):
        return interactions
    path = Path(interactions)
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    table = _read_table(path, sep=sep, header=True)
    _require(table, ["user", "item"], file=path, what="interaction")
    lines = table[LINE_COLUMN]
    for col in ("user", "item"):
        _check_ids(table[col], lines=lines, file=path, field=col)
    out = pd.DataFrame(
        {col: _as_ids(table[col], _resolve_id_type("auto", table[col])) for col in ("user", "item")}
    )
    for col in ("rating", "timestamp", "weight"):
        if col in table:
            out[col] = _parse_numbers(table[col], lines=lines, file=path, field=col)
    out[LINE_COLUMN] = lines.to_numpy()
    return out


def _item_link_frame(item_links: pd.DataFrame | Mapping[Any, str] | None) -> pd.DataFrame:
    """``item``, ``node`` (URIRef) from a mapping or a frame with ``item`` and ``uri``/``entity``."""
    if item_links is None:
        return pd.DataFrame(
            {"item": pd.Series([], dtype=object), "node": pd.Series([], dtype=object)}
        )
    if isinstance(item_links, pd.DataFrame):
        uri_col = "uri" if "uri" in item_links else "entity"
        if "item" not in item_links or uri_col not in item_links:
            raise ValueError(
                f"item_links needs columns 'item' and 'uri' (got {list(item_links.columns)})"
            )
        items, uris = item_links["item"].tolist(), item_links[uri_col].tolist()
    else:
        items, uris = list(item_links.keys()), list(item_links.values())
    return pd.DataFrame(
        {"item": pd.Series(items, dtype=object), "node": [URIRef(str(u)) for u in uris]}
    )


def _encode(raw: Any, base: str, kind: str) -> URIRef:
    """A raw id as a URI: itself when it is one, else ``<base><kind>/S_<quoted>`` / ``I_<int>``."""
    if isinstance(raw, (int, np.integer)) and not isinstance(raw, bool):
        return URIRef(f"{base}{kind}/I_{int(raw)}")
    text = str(raw)
    if _URI.fullmatch(text) and not text.startswith(base):
        return URIRef(text)
    if kind == "relation" and not _NAME.fullmatch(text):  # predicates need an XML-safe local name
        return URIRef(f"{base}{kind}/X_{text.encode().hex()}")
    return URIRef(f"{base}{kind}/S_{quote(text, safe='')}")


def _decode(node: Any, base: str, kind: str) -> Any:
    """Inverse of :func:`_encode`; blank nodes become ``_:<id>``."""
    if isinstance(node, BNode):
        return f"_:{node}"
    text = str(node)
    prefix = f"{base}{kind}/"
    if text.startswith(prefix):
        rest = text[len(prefix) :]
        if rest.startswith("I_") and re.fullmatch(r"-?\d+", rest[2:]):
            return int(rest[2:])
        if rest.startswith("S_"):
            return unquote(rest[2:])
        if rest.startswith("X_") and re.fullmatch(r"(?:[0-9a-f]{2})*", rest[2:]):
            return bytes.fromhex(rest[2:]).decode()
    return text


class _Decoder:
    """Decode RDF nodes to raw ids once per distinct node."""

    def __init__(self, base: str) -> None:
        self.base = base

    def many(self, nodes: pd.Series, kind: str) -> np.ndarray:
        uniq = pd.unique(nodes.to_numpy(dtype=object))
        table = {n: _decode(n, self.base, kind) for n in uniq}
        return _typed(pd.Series([table[n] for n in nodes], dtype=object))


def _typed(values: pd.Series) -> np.ndarray:
    """int64 when every value is an int (decoded ``I_`` ids), object otherwise."""
    arr = values.to_numpy(dtype=object)
    if len(arr) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in arr):
        return arr.astype(np.int64)
    return arr


def _reachable(
    triples: pd.DataFrame, items: pd.Series, max_hops: int | None, report: dict[str, int]
) -> pd.DataFrame:
    """Triples whose head is an item or reachable from one within ``max_hops`` hops."""
    if len(triples) == 0:
        return triples
    heads = triples["head"].astype(str).to_numpy()
    tails = triples["tail"].astype(str).to_numpy()
    reached = set(items.astype(str).tolist())
    keep = np.zeros(len(triples), dtype=bool)
    hops = 0
    while max_hops is None or hops < max_hops:
        new_rows = ~keep & pd.Series(heads).isin(reached).to_numpy()
        if not new_rows.any():
            break
        keep |= new_rows
        reached.update(tails[new_rows].tolist())
        hops += 1
    if (~keep).any():
        report["dropped_unreachable_triples"] = int((~keep).sum())
    return triples[keep].reset_index(drop=True)
