"""Named-dataset registry: download from a local HTTP server, sha256 checks, extraction, caching.

No test leaves the machine: the server is ``http.server`` on 127.0.0.1, port 0.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kgrec.data import registry
from kgrec.data.registry import (
    ChecksumError,
    DownloadError,
    RemoteFile,
    get_entry,
    list_datasets,
    load_named,
    register_dataset,
    unregister_dataset,
)

GENRES = 19
FAKE_NAME = "test-fake-ml-100k"


def _fake_ml100k_zip(*, ratings: str = "1\t1\t5\t10\n1\t2\t3\t20\n2\t1\t4\t30\n") -> bytes:
    """A zip holding ``ml-100k/u.data``, ``u.item``, ``u.user`` like the GroupLens archive."""
    flags = lambda *on: "|".join("1" if i in on else "0" for i in range(GENRES))  # noqa: E731
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ml-100k/u.data", ratings)
        zf.writestr(
            "ml-100k/u.item",
            f"1|A (1995)|01-Jan-1995||u|{flags(5)}\n2|B (1996)|01-Jan-1996||u|{flags(1, 8)}\n",
        )
        zf.writestr("ml-100k/u.user", "1|24|M|technician|85711\n2|53|F|other|94043\n")
        zf.writestr("ml-100k/README", "fake")
    return buf.getvalue()


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture()
def server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Path, list[str]]]:
    """(base URL, served folder, request log) of a local HTTP server."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    served = tmp_path / "served"
    served.mkdir()
    log: list[str] = []
    handler = type("Handler", (_Handler,), {"requests": log})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(served))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served, log
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
        unregister_dataset(FAKE_NAME)


def _serve_zip(served: Path, data: bytes) -> str:
    (served / "ml-100k.zip").write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _register(base_url: str, sha256: str | None) -> None:
    register_dataset(
        FAKE_NAME,
        url=f"{base_url}/ml-100k.zip",
        sha256=sha256,
        reader="kgrec.data.readers.movielens:read_movielens",
        reader_kwargs={"variant": "ml-100k"},
        subdir="ml-100k",
        citation="test",
        licence="test",
        overwrite=True,
    )


def test_download_verify_extract_convert_cache(server, tmp_path: Path) -> None:
    base_url, served, log = server
    digest = _serve_zip(served, _fake_ml100k_zip())
    _register(base_url, digest)
    root = tmp_path / "cache"
    ds = load_named(FAKE_NAME, root=root)
    assert ds.name == FAKE_NAME
    assert (ds.num_users, ds.num_items, ds.num_interactions) == (2, 2, 3)
    assert (root / FAKE_NAME / "raw" / "ml-100k" / "u.data").is_file()
    assert log == ["/ml-100k.zip"]

    again = load_named(FAKE_NAME, root=root)  # from the cache: no request
    assert log == ["/ml-100k.zip"]
    assert again.checksum() == ds.checksum()
    assert again.stats() == ds.stats()

    load_named(FAKE_NAME, root=root, force=True)
    assert log == ["/ml-100k.zip", "/ml-100k.zip"]


def test_sha256_mismatch_removes_the_file(server, tmp_path: Path) -> None:
    base_url, served, _ = server
    _serve_zip(served, _fake_ml100k_zip())
    _register(base_url, "0" * 64)
    root = tmp_path / "cache"
    with pytest.raises(ChecksumError, match="sha256 mismatch") as err:
        load_named(FAKE_NAME, root=root)
    assert "0" * 64 in str(err.value)
    downloads = root / FAKE_NAME / "downloads"
    assert list(downloads.iterdir()) == []  # neither the file nor a .part is left
    assert not (root / FAKE_NAME / "complete.json").exists()


def test_unknown_checksum_is_recorded_then_enforced(
    server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base_url, served, _ = server
    digest = _serve_zip(served, _fake_ml100k_zip())
    _register(base_url, None)
    root = tmp_path / "cache"
    load_named(FAKE_NAME, root=root)
    assert digest in capsys.readouterr().err
    assert digest in (root / FAKE_NAME / "checksums.json").read_text()

    _serve_zip(served, _fake_ml100k_zip(ratings="1\t1\t5\t10\n"))  # upstream changed
    with pytest.raises(ChecksumError, match="recorded at the first download"):
        load_named(FAKE_NAME, root=root, force=True)


def test_kgrec_home_and_http_errors(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, served, _ = server
    monkeypatch.setenv("KGREC_HOME", str(tmp_path / "home"))
    assert registry.default_root() == tmp_path / "home"
    _register(base_url, None)  # nothing served yet: 404
    with pytest.raises(DownloadError, match="404"):
        load_named(FAKE_NAME)
    assert not any((tmp_path / "home" / FAKE_NAME / "downloads").iterdir())


def test_unsafe_archive_is_refused(server, tmp_path: Path) -> None:
    base_url, served, _ = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../escape.txt", "x")
    _register(base_url, _serve_zip(served, buf.getvalue()))
    with pytest.raises(DownloadError, match="outside"):
        load_named(FAKE_NAME, root=tmp_path / "cache")
    assert not (tmp_path / "cache" / FAKE_NAME / "escape.txt").exists()


def test_multi_file_entry_with_plain_files(server, tmp_path: Path) -> None:
    base_url, served, _ = server
    (served / "r.csv").write_text("u,i,w\n1,a,2\n2,b,3\n")
    (served / "f.csv").write_text("i,tag\na,x\n")
    register_dataset(
        FAKE_NAME,
        files=[RemoteFile(url=f"{base_url}/r.csv"), RemoteFile(url=f"{base_url}/f.csv")],
        reader="kgrec.data.readers.csv:read_csv",
        input="r.csv",
        path_kwargs={"item_features_path": "f.csv"},
        reader_kwargs={"user_col": "u", "item_col": "i", "weight_col": "w", "item_id_col": "i"},
        overwrite=True,
    )
    ds = load_named(FAKE_NAME, root=tmp_path / "cache")
    assert ds.num_interactions == 2 and len(ds.triples) == 1


def test_registration_rules() -> None:
    with pytest.raises(ValueError, match="already"):
        register_dataset("ml-100k", url="http://127.0.0.1/x.zip", reader=lambda p: p)
    with pytest.raises(ValueError, match="64 hex"):
        register_dataset(FAKE_NAME, url="http://127.0.0.1/x.zip", sha256="abc", reader=lambda p: p)
    with pytest.raises(ValueError, match="exactly one"):
        register_dataset(FAKE_NAME, reader=lambda p: p)
    with pytest.raises(KeyError, match="ml-100k"):
        get_entry("no-such-dataset")


def test_builtin_entries_are_complete() -> None:
    names = list_datasets()
    for required in (
        "ml-100k",
        "ml-1m",
        "ml-latest-small",
        "ml-100k-kg",
        "amazon-book-kgat",
        "last-fm-kgat",
        "lastfm-social",
    ):
        assert required in names
    assert get_entry("ml-100k").urls == (
        "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    )
    assert get_entry("ml-1m").urls == ("https://files.grouplens.org/datasets/movielens/ml-1m.zip",)
    for name in names:
        entry = get_entry(name)
        assert entry.citation and entry.licence, name
        for f in entry.files:
            assert f.url.startswith("https://"), f.url
            assert f.sha256 is None or len(f.sha256) == 64
    assert any(f.kind == "zip" for f in get_entry("amazon-book-kgat").files)
