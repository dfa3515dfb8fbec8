"""Save and load processed datasets and splits: a folder with a manifest, arrays and id lists.

Layout of a processed folder::

    manifest.json   format name and version, kind ("dataset" or "split"), counts, sha256 per file
    arrays.npz      interactions, item_entity, triples, user_links (uncompressed: loads fast)
    ids.json        raw ids per node type, with their type (int or str)
    split.npz       only for splits: interaction row indices of each part
    split.json      only for splits: the split report (strategy, seed, sizes, vanished ids)

No pickle anywhere: a processed folder can be loaded from an untrusted source.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kgrec.data.dataset import INTERACTION_VALUE_COLUMNS, RecDataset
from kgrec.data.idmap import IdMap
from kgrec.exceptions import DataFormatError

FORMAT_NAME = "kgrec-dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _ids_payload(m: IdMap) -> dict[str, Any]:
    if m.is_str:
        return {"type": "str", "values": [str(v) for v in m.raw_ids.tolist()]}
    return {"type": "int", "values": [int(v) for v in m.raw_ids.tolist()]}


def _write_manifest(folder: Path, *, kind: str, dataset: RecDataset, files: list[str], extra: dict[str, Any]) -> None:
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "name": dataset.name,
        "counts": dataset.stats(),
        "report": {k: int(v) for k, v in dataset.report.items()},
        "checksum": dataset.checksum(),
        "files": {f: _sha256(folder / f) for f in files},
        **extra,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def _write_dataset_files(ds: RecDataset, folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "item_entity": ds.item_entity.astype(np.int64),
        "triples": ds.triples[["head", "relation", "tail"]].to_numpy(np.int64).reshape(-1, 3),
        "user_links": ds.user_links[["user", "relation", "entity"]].to_numpy(np.int64).reshape(-1, 3),
    }
    for col in ds.interactions.columns:
        arrays[f"inter_{col}"] = ds.interactions[col].to_numpy()
    np.savez(folder / "arrays.npz", **arrays)
    ids = {
        "users": _ids_payload(ds.users),
        "items": _ids_payload(ds.items),
        "entities": _ids_payload(ds.entities),
        "relations": _ids_payload(ds.relations),
    }
    (folder / "ids.json").write_text(json.dumps(ids))
    return ["arrays.npz", "ids.json"]


def save_dataset(dataset: RecDataset, path: str | Path) -> Path:
    """Write ``dataset`` to the folder ``path`` (created if needed); returns the folder."""
    folder = Path(path)
    files = _write_dataset_files(dataset, folder)
    for stale in ("split.npz", "split.json"):
        (folder / stale).unlink(missing_ok=True)
    _write_manifest(folder, kind="dataset", dataset=dataset, files=files, extra={})
    return folder


def save_split(split: Any, path: str | Path) -> Path:
    """Write a :class:`kgrec.data.split.Split` (its full dataset plus part row indices)."""
    folder = Path(path)
    files = _write_dataset_files(split.dataset, folder)
    np.savez(folder / "split.npz", **{name: rows.astype(np.int64) for name, rows in split.parts.items()})
    (folder / "split.json").write_text(json.dumps(split.report, indent=2) + "\n")
    files += ["split.npz", "split.json"]
    _write_manifest(
        folder,
        kind="split",
        dataset=split.dataset,
        files=files,
        extra={"parts": {name: int(len(rows)) for name, rows in split.parts.items()}},
    )
    return folder


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a processed folder; a clear error when ``path`` is not one."""
    folder = Path(path)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise DataFormatError(
            "not a processed kgrec dataset (no manifest.json); convert raw data first with "
            "`kgrec convert FORMAT INPUT OUTPUT`",
            file=folder,
        )
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT_NAME:
        raise DataFormatError(
            f"expected format {FORMAT_NAME!r} (got {manifest.get('format')!r})", file=manifest_path, field="format"
        )
    if int(manifest.get("format_version", -1)) > FORMAT_VERSION:
        raise DataFormatError(
            f"format version {manifest['format_version']} is newer than this kgrec reads "
            f"({FORMAT_VERSION}); upgrade kgrec",
            file=manifest_path,
            field="format_version",
        )
    return manifest


def _idmap(payload: dict[str, Any], name: str) -> IdMap:
    values = payload["values"]
    if payload["type"] == "int":
        return IdMap(np.asarray(values, dtype=np.int64), name=name)
    return IdMap(pd.Index(values, dtype=object), name=name)


def _read_dataset_files(folder: Path, manifest: dict[str, Any], *, verify: bool) -> RecDataset:
    if verify:
        for fname, digest in manifest["files"].items():
            if fname.startswith("split") or _sha256(folder / fname) == digest:
                continue
            raise DataFormatError("checksum mismatch: the file changed after it was written", file=folder / fname)
    ids = json.loads((folder / "ids.json").read_text())
    with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
        inter = pd.DataFrame({"user": arrays["inter_user"], "item": arrays["inter_item"]})
        for col in INTERACTION_VALUE_COLUMNS:
            if f"inter_{col}" in arrays:
                inter[col] = arrays[f"inter_{col}"]
        triples = pd.DataFrame(arrays["triples"], columns=["head", "relation", "tail"])
        user_links = pd.DataFrame(arrays["user_links"], columns=["user", "relation", "entity"])
        item_entity = arrays["item_entity"]
    return RecDataset(
        users=_idmap(ids["users"], "user"),
        items=_idmap(ids["items"], "item"),
        entities=_idmap(ids["entities"], "entity"),
        relations=_idmap(ids["relations"], "relation"),
        interactions=inter,
        item_entity=item_entity,
        triples=triples,
        user_links=user_links,
        name=manifest.get("name", folder.name),
        report=dict(manifest.get("report", {})),
    )


def load_dataset(path: str | Path, *, verify: bool = False) -> Any:
    """Load a processed folder: a :class:`RecDataset`, or a :class:`Split` for split folders.

    ``verify=True`` re-hashes every file against the manifest first.
    """
    from kgrec.data.split import Split

    folder = Path(path)
    manifest = read_manifest(folder)
    dataset = _read_dataset_files(folder, manifest, verify=verify)
    if manifest["kind"] != "split":
        return dataset
    with np.load(folder / "split.npz", allow_pickle=False) as parts_npz:
        parts = {name: parts_npz[name] for name in parts_npz.files}
    report = json.loads((folder / "split.json").read_text())
    return Split(dataset=dataset, parts=parts, report=report)
