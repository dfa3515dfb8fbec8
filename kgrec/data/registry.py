"""Named public datasets: where to download them, how to check and read them, whom to cite.

``load_named("ml-100k")`` downloads the archive(s) into ``$KGREC_HOME`` (default
``~/.cache/kgrec``), verifies each file's sha256, extracts, converts once with the entry's reader
and caches the processed dataset (through :mod:`kgrec.data.io` when it is available; otherwise
the extracted raw folder is the cache and is re-read).

Checksums: an entry whose ``sha256`` is ``None`` has no published checksum we could verify when
it was written. Its first download prints the sha256 it got and records it in
``<root>/<name>/checksums.json``; later downloads must match that record (trust on first use).
Put the printed value into the entry (``register_dataset(..., overwrite=True)``) to pin it.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import json
import logging
import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlparse

from kgrec.data.dataset import RecDataset

logger = logging.getLogger(__name__)

ArchiveKind = Literal["auto", "zip", "tar", "tar.gz", "gz", "none"]
Reader = Callable[..., RecDataset] | str


class ChecksumError(ValueError):
    """A downloaded file's sha256 differs from the expected one (the file was removed)."""


class DownloadError(OSError):
    """A download failed (network error, HTTP error, or an unsafe archive)."""


@dataclass(frozen=True)
class RemoteFile:
    """One file to download: ``archive`` says how to unpack it into the raw folder."""

    url: str
    sha256: str | None = None
    filename: str | None = None
    archive: ArchiveKind = "auto"

    @property
    def name(self) -> str:
        return self.filename or PurePosixPath(urlparse(self.url).path).name

    @property
    def kind(self) -> str:
        if self.archive != "auto":
            return self.archive
        lower = self.name.lower()
        for suffix, kind in (
            (".zip", "zip"),
            (".tar.gz", "tar.gz"),
            (".tgz", "tar.gz"),
            (".tar", "tar"),
            (".gz", "gz"),
        ):
            if lower.endswith(suffix):
                return kind
        return "none"


@dataclass(frozen=True)
class DatasetEntry:
    """A named dataset: files, reader and what a user must know before publishing with it.

    ``reader`` is a callable or ``"module:function"`` (imported only when used). It is called
    as ``reader(input_path, **reader_kwargs, **resolved path_kwargs)`` where ``input_path`` is
    ``raw/<subdir>/<input>`` (``input=None``: the folder itself) and ``path_kwargs`` values are
    paths relative to the same folder. A reader returning ``(dataset, split)`` gives the dataset. A relative path that is not where expected is searched
    for below the raw folder (archives differ in whether they hold a top folder).
    """

    name: str
    files: tuple[RemoteFile, ...]
    reader: Reader
    reader_kwargs: Mapping[str, Any] = field(default_factory=dict)
    subdir: str | None = None
    input: str | None = None
    path_kwargs: Mapping[str, str] = field(default_factory=dict)
    citation: str = ""
    licence: str = ""
    homepage: str = ""
    description: str = ""

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(f.url for f in self.files)


_REGISTRY: dict[str, DatasetEntry] = {}


def register_dataset(
    name: str,
    *,
    reader: Reader,
    url: str | None = None,
    sha256: str | None = None,
    archive: ArchiveKind = "auto",
    files: Sequence[RemoteFile] | None = None,
    reader_kwargs: Mapping[str, Any] | None = None,
    subdir: str | None = None,
    input: str | None = None,
    path_kwargs: Mapping[str, str] | None = None,
    citation: str = "",
    licence: str = "",
    homepage: str = "",
    description: str = "",
    overwrite: bool = False,
) -> DatasetEntry:
    """Add a dataset to the registry: one ``url`` (+ ``sha256``, ``archive``) or several ``files``."""
    if name in _REGISTRY and not overwrite:
        raise ValueError(
            f"a dataset named {name!r} is registered already; pass overwrite=True to replace it"
        )
    if (url is None) == (files is None):
        raise ValueError(
            "pass exactly one of url= (a single file) or files= (a list of RemoteFile)"
        )
    remote = (
        (RemoteFile(url=url, sha256=sha256, archive=archive),)
        if url is not None
        else tuple(files or ())
    )
    if not remote:
        raise ValueError("files= must name at least one file")
    for f in remote:
        if f.sha256 is not None and (
            len(f.sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in f.sha256)
        ):
            raise ValueError(f"sha256 of {f.url} must be 64 hex digits or None (got {f.sha256!r})")
    entry = DatasetEntry(
        name=name,
        files=remote,
        reader=reader,
        reader_kwargs=dict(reader_kwargs or {}),
        subdir=subdir,
        input=input,
        path_kwargs=dict(path_kwargs or {}),
        citation=citation,
        licence=licence,
        homepage=homepage,
        description=description,
    )
    _REGISTRY[name] = entry
    return entry


def unregister_dataset(name: str) -> None:
    """Remove an entry (tests use it to clean up)."""
    _REGISTRY.pop(name, None)


def get_entry(name: str) -> DatasetEntry:
    """The registered entry; an unknown name lists the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown dataset {name!r}; registered: {', '.join(sorted(_REGISTRY))}"
        ) from None


def list_datasets() -> list[str]:
    """Names of all registered datasets, sorted."""
    return sorted(_REGISTRY)


def default_root() -> Path:
    """``$KGREC_HOME`` when set, else ``~/.cache/kgrec``."""
    env = os.environ.get("KGREC_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "kgrec"


# ---------------------------------------------------------------------- download and load
def download_named(name: str, *, root: str | Path | None = None, force: bool = False) -> Path:
    """Download, verify and extract the files of ``name``; returns the raw folder.

    Files already downloaded and extracted (recorded in ``<root>/<name>/complete.json``) are
    not fetched again unless ``force``.
    """
    entry = get_entry(name)
    home = Path(root).expanduser() if root is not None else default_root()
    base = home / name
    raw, downloads = base / "raw", base / "downloads"
    marker = base / "complete.json"
    if (
        marker.is_file()
        and not force
        and json.loads(marker.read_text()).get("urls") == list(entry.urls)
    ):
        return raw
    downloads.mkdir(parents=True, exist_ok=True)
    recorded_path = base / "checksums.json"
    recorded: dict[str, str] = (
        json.loads(recorded_path.read_text()) if recorded_path.is_file() else {}
    )
    digests: dict[str, str] = {}
    for remote in entry.files:  # fetch and verify everything before touching the raw folder
        expected = remote.sha256 or recorded.get(remote.url)
        digest = _download(
            remote.url, downloads / remote.name, expected=expected, recorded=remote.sha256 is None
        )
        if remote.sha256 is None and remote.url not in recorded:
            recorded[remote.url] = digest
            recorded_path.write_text(json.dumps(recorded, indent=2) + "\n")
            print(
                f"kgrec: {name}: no sha256 is registered for {remote.url}; downloaded file has "
                f"sha256 {digest} (recorded in {recorded_path}; later downloads must match it)",
                file=sys.stderr,
            )
        digests[remote.url] = digest
    marker.unlink(missing_ok=True)
    if raw.exists():
        shutil.rmtree(raw)
    raw.mkdir(parents=True)
    for remote in entry.files:
        _unpack(downloads / remote.name, remote.kind, raw)
    marker.write_text(json.dumps({"urls": list(entry.urls), "sha256": digests}, indent=2) + "\n")
    return raw


def load_named(name: str, *, root: str | Path | None = None, force: bool = False) -> RecDataset:
    """The dataset ``name``, downloaded, verified, converted and cached on first use.

    Args:
        root: cache folder; default ``$KGREC_HOME`` or ``~/.cache/kgrec``.
        force: download and convert again even when cached.

    Raises:
        ChecksumError: a file's sha256 differs from the registered (or recorded) one; the
            downloaded file is removed.
        DownloadError: the download failed.
    """
    entry = get_entry(name)
    home = Path(root).expanduser() if root is not None else default_root()
    processed = home / name / "processed"
    io = _io_module()
    fingerprint = _fingerprint(entry)
    stamp = home / name / "processed.json"
    if io is not None and not force and processed.is_dir() and stamp.is_file():
        if json.loads(stamp.read_text()).get("fingerprint") == fingerprint:
            return io.load_dataset(processed)
    raw = download_named(name, root=home, force=force)
    dataset = _convert(entry, raw)
    dataset.name = name
    if io is not None:
        if processed.exists():
            shutil.rmtree(processed)
        io.save_dataset(dataset, processed)
        stamp.write_text(json.dumps({"fingerprint": fingerprint}, indent=2) + "\n")
    return dataset


def _io_module() -> Any | None:
    """``kgrec.data.io`` when it provides save_dataset / load_dataset, else None (no cache)."""
    try:
        io = importlib.import_module("kgrec.data.io")
    except ImportError:
        return None
    return io if hasattr(io, "save_dataset") and hasattr(io, "load_dataset") else None


def _fingerprint(entry: DatasetEntry) -> str:
    reader = (
        entry.reader
        if isinstance(entry.reader, str)
        else f"{entry.reader.__module__}:{entry.reader.__qualname__}"
    )
    payload = json.dumps(
        [reader, entry.urls, [f.sha256 for f in entry.files], entry.subdir, entry.input,
         sorted(entry.path_kwargs.items()), repr(sorted(entry.reader_kwargs.items()))],
        default=str,
    )  # fmt: skip
    return hashlib.sha256(payload.encode()).hexdigest()


def _resolve_reader(reader: Reader) -> Callable[..., RecDataset]:
    if callable(reader):
        return reader
    module, _, func = reader.partition(":")
    return getattr(importlib.import_module(module), func)


def _find(raw: Path, folder: Path, rel: str) -> Path:
    """``folder/rel`` when it exists, else the single match of ``rel`` below ``raw``."""
    direct = folder / rel
    if direct.exists():
        return direct
    matches = sorted(p for p in raw.rglob(PurePosixPath(rel).name) if p.as_posix().endswith(rel))
    if len(matches) == 1:
        return matches[0]
    raise FileNotFoundError(
        f"expected {rel!r} in {folder} (found {len(matches)} candidate(s) below {raw}: "
        f"{[str(m) for m in matches[:5]]})"
    )


def _convert(entry: DatasetEntry, raw: Path) -> RecDataset:
    folder = raw / entry.subdir if entry.subdir else raw
    if entry.subdir and not folder.is_dir():
        folder = raw
    source = _find(raw, folder, entry.input) if entry.input else folder
    kwargs = dict(entry.reader_kwargs)
    kwargs.update({k: _find(raw, folder, v) for k, v in entry.path_kwargs.items()})
    logger.info("converting %s from %s", entry.name, source)
    result = _resolve_reader(entry.reader)(source, **kwargs)
    return result[0] if isinstance(result, tuple) else result  # readers giving (dataset, split)


def _download(url: str, target: Path, *, expected: str | None, recorded: bool) -> str:
    """Stream ``url`` to ``target`` hashing on the way; a checksum mismatch removes the file."""
    part = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "kgrec (dataset registry)"})
    logger.info("downloading %s", url)
    try:
        with urllib.request.urlopen(request, timeout=60) as response, part.open("wb") as out:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
    except (urllib.error.URLError, OSError) as exc:
        part.unlink(missing_ok=True)
        raise DownloadError(f"could not download {url}: {exc}") from exc
    got = digest.hexdigest()
    if expected is not None and got != expected.lower():
        part.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        where = "recorded at the first download" if recorded else "registered"
        raise ChecksumError(
            f"sha256 mismatch for {url}: expected {expected.lower()} ({where}), got {got}; the "
            "download was removed. The file changed upstream or was corrupted in transit"
            + ("; delete checksums.json to accept a new version" if recorded else "")
        )
    part.replace(target)
    return got


def _safe_member(dest: Path, name: str) -> Path:
    out = (dest / name).resolve()
    if not out.is_relative_to(dest.resolve()):
        raise DownloadError(f"archive member {name!r} would be written outside {dest}; refusing it")
    return out


def _unpack(archive: Path, kind: str, dest: Path) -> None:
    """Extract ``archive`` into ``dest`` (or copy it when ``kind == "none"``), refusing unsafe paths."""
    if kind == "zip":
        try:
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    _safe_member(dest, member)
                zf.extractall(dest)
        except zipfile.BadZipFile as exc:
            raise DownloadError(f"{archive.name} is not a valid zip archive: {exc}") from exc
    elif kind in ("tar", "tar.gz"):
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                _safe_member(dest, member.name)
                if member.issym() or member.islnk():
                    raise DownloadError(f"archive member {member.name!r} is a link; refusing it")
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tf.extractall(dest, **safe)
    elif kind == "gz":
        with (
            gzip.open(archive, "rb") as src,
            (dest / archive.name[: -len(".gz")]).open("wb") as out,
        ):
            shutil.copyfileobj(src, out)
    elif kind == "none":
        shutil.copy2(archive, dest / archive.name)
    else:
        raise ValueError(f"archive must be one of auto, zip, tar, tar.gz, gz, none (got {kind!r})")


# ---------------------------------------------------------------------- built-in entries
_GROUPLENS = "https://files.grouplens.org/datasets"
_ML_LICENCE = (
    "GroupLens MovieLens usage licence: research use; acknowledge the data set in publications "
    "(cite Harper & Konstan 2015); no redistribution without permission; no commercial use "
    "without permission. See the README in the archive."
)
_ML_CITATION = (
    "F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and "
    "Context. ACM Transactions on Interactive Intelligent Systems 5, 4, Article 19. "
    "https://doi.org/10.1145/2827872"
)
_KGAT_RAW = (
    "https://raw.githubusercontent.com/xiangwang1223/knowledge_graph_attention_network/master/Data"
)
_KGAT_LICENCE = (
    "KGAT data README: research use only; acknowledge the data set (cite KGAT); no "
    "redistribution without permission; no de-anonymisation; no commercial use without "
    "permission. The underlying interaction data keep their own terms."
)
_KGAT_CITATION = (
    "Xiang Wang, Xiangnan He, Yixin Cao, Meng Liu and Tat-Seng Chua. 2019. KGAT: Knowledge "
    "Graph Attention Network for Recommendation. In KDD 2019."
)
_RECBOLE_RAW = (
    "https://raw.githubusercontent.com/RUCAIBox/RecBole/master/recbole/dataset_example/ml-100k"
)
_KGCN_RAW = "https://raw.githubusercontent.com/hwwang55/KGCN/master/data"
_LIGHTGCN_RAW = "https://raw.githubusercontent.com/gusye1234/LightGCN-PyTorch/master/data"


def _kgat_files(dataset: str, *, zipped_kg: bool) -> tuple[RemoteFile, ...]:
    names = ["train.txt", "test.txt", "kg_final.txt.zip" if zipped_kg else "kg_final.txt",
             "user_list.txt", "item_list.txt", "entity_list.txt", "relation_list.txt"]  # fmt: skip
    return tuple(RemoteFile(url=f"{_KGAT_RAW}/{dataset}/{n}") for n in names)


def _register_builtins() -> None:
    movielens = "kgrec.data.readers.movielens:read_movielens"
    for name, variant, homepage in (
        ("ml-100k", "ml-100k", "https://grouplens.org/datasets/movielens/100k/"),
        ("ml-1m", "ml-1m", "https://grouplens.org/datasets/movielens/1m/"),
        ("ml-latest-small", "ml-latest-small", "https://grouplens.org/datasets/movielens/latest/"),
        ("ml-25m", "ml-25m", "https://grouplens.org/datasets/movielens/25m/"),
    ):
        register_dataset(
            name,
            url=f"{_GROUPLENS}/movielens/{name}.zip",
            reader=movielens,
            reader_kwargs={"variant": variant},
            subdir=name,
            citation=_ML_CITATION,
            licence=_ML_LICENCE,
            homepage=homepage,
            description=f"MovieLens {name[3:]} ratings with genres, year (and user demographics where given).",
            overwrite=True,
        )
    register_dataset(
        "ml-100k-kg",
        files=tuple(
            RemoteFile(url=f"{_RECBOLE_RAW}/ml-100k.{ext}")
            for ext in ("inter", "item", "user", "kg", "link")
        ),
        reader="kgrec.data.readers.recbole:read_recbole",
        reader_kwargs={"name": "ml-100k"},
        citation=_ML_CITATION
        + " | Wayne Xin Zhao, Gaole He, Kunlin Yang, Hongjian Dou, Jin Huang, Siqi "
        "Ouyang and Ji-Rong Wen. 2019. KB4Rec: A Data Set for Linking Knowledge Bases with "
        "Recommender Systems. Data Intelligence 1, 2, 121-136. | Wayne Xin Zhao et al. 2021. "
        "RecBole: Towards a Unified, Comprehensive and Efficient Framework for Recommendation "
        "Algorithms. In CIKM 2021.",
        licence="Interactions: the MovieLens licence (see ml-100k). KG: Freebase-derived (KB4Rec "
        "linkage), distributed in the RecBole repository (MIT-licensed code); check the KB4Rec "
        "terms before redistribution.",
        homepage="https://github.com/RUCAIBox/RecBole/tree/master/recbole/dataset_example/ml-100k",
        description="RecBole's ml-100k atomic files with a Freebase KG linked through KB4Rec.",
        overwrite=True,
    )
    for name, dataset, zipped in (
        ("amazon-book-kgat", "amazon-book", True),
        ("last-fm-kgat", "last-fm", False),
        ("yelp2018-kgat", "yelp2018", True),
    ):
        register_dataset(
            name,
            files=_kgat_files(dataset, zipped_kg=zipped),
            reader="kgrec.data.readers.kgat:read_kgat",
            citation=_KGAT_CITATION,
            licence=_KGAT_LICENCE,
            homepage=f"https://github.com/xiangwang1223/knowledge_graph_attention_network/tree/master/Data/{dataset}",
            description=f"KGAT's {dataset} split (train.txt / test.txt) with its Freebase KG (kg_final.txt).",
            overwrite=True,
        )
    hetrec_citation = (
        "Ivan Cantador, Peter Brusilovsky and Tsvi Kuflik. 2011. 2nd Workshop on Information "
        "Heterogeneity and Fusion in Recommender Systems (HetRec 2011). In RecSys 2011. "
        "Data: Last.fm, http://www.lastfm.com"
    )
    hetrec_licence = (
        "HetRec 2011 Last.fm data: non-commercial research use; acknowledge Last.fm and the "
        "HetRec 2011 workshop (see the readme in the GroupLens archive)."
    )
    register_dataset(
        "lastfm-social",
        files=tuple(
            RemoteFile(url=f"{_LIGHTGCN_RAW}/lastfm/{n}")
            for n in ("data1.txt", "test1.txt", "trustnetwork.txt")
        ),
        reader="kgrec.data.readers.lastfm:read_lastfm_social",
        citation=hetrec_citation + " | Xiangnan He, Kuan Deng, Xiang Wang, Yan Li, Yongdong Zhang "
        "and Meng Wang. 2020. LightGCN: Simplifying and Powering Graph Convolution Network for "
        "Recommendation. In SIGIR 2020.",
        licence=hetrec_licence,
        homepage="https://github.com/gusye1234/LightGCN-PyTorch/tree/master/data/lastfm",
        description="HetRec 2011 Last.fm as split for LightGCN: train (data1.txt) and test "
        "(test1.txt) listen counts as weight, friendships (trustnetwork.txt) as user links.",
        overwrite=True,
    )
    register_dataset(
        "hetrec-lastfm-2k",
        url=f"{_GROUPLENS}/hetrec2011/hetrec2011-lastfm-2k.zip",
        reader="kgrec.data.readers.csv:read_csv",
        input="user_artists.dat",
        path_kwargs={
            "user_features_path": "user_friends.dat",
            "item_features_path": "user_taggedartists.dat",
        },
        reader_kwargs={
            "user_col": "userID",
            "item_col": "artistID",
            "weight_col": "weight",
            "sep": "\t",
            "encoding": "latin-1",
            "user_id_col": "userID",
            "user_feature_cols": {"friendID": "friend"},
            "item_id_col": "artistID",
            "item_feature_cols": {"tagID": "tag"},
        },  # fmt: skip
        citation=hetrec_citation,
        licence=hetrec_licence,
        homepage="https://grouplens.org/datasets/hetrec-2011/",
        description="HetRec 2011 Last.fm 2k raw: user-artist listening counts (weight), friend "
        "links as user links friend=<user>, user-assigned tags as artist attributes tag=<tag id>.",
        overwrite=True,
    )
    register_dataset(
        "music-kgcn",
        files=tuple(
            RemoteFile(url=f"{_KGCN_RAW}/music/{n}")
            for n in ("user_artists.dat", "kg.txt", "item_index2entity_id.txt")
        ),
        reader="kgrec.data.readers.kgcn:read_kgcn",
        citation="Hongwei Wang, Miao Zhao, Xing Xie, Wenjie Li and Minyi Guo. 2019. Knowledge Graph "
        "Convolutional Networks for Recommender Systems. In WWW 2019.",
        licence="KGCN repository (MIT licence for the code); the Last.fm interactions keep the "
        "HetRec 2011 terms, the KG (Microsoft Satori) its own.",
        homepage="https://github.com/hwwang55/KGCN/tree/master/data/music",
        description="KGCN's Last.fm music data: raw user_artists.dat, kg.txt and item_index2entity_id.txt.",
        overwrite=True,
    )


_register_builtins()
