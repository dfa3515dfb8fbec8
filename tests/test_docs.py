"""The documentation site: it builds with zero warnings, its nav and files agree, and the command
line page documents every sub-command and flag the parser has (and no other)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
MKDOCS_YML = REPO / "mkdocs.yml"


def _load_mkdocs_config() -> dict[str, Any]:
    """``mkdocs.yml`` as plain data; MkDocs' own YAML tags (``!relative``, ``!ENV``) read as None."""
    yaml = pytest.importorskip("yaml")

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load(MKDOCS_YML.read_text(), Loader=Loader)  # noqa: S506 (a SafeLoader subclass)


def _nav_pages(nav: Any) -> list[str]:
    """Every ``.md`` path listed in a MkDocs nav, in order (titles and sections walked through)."""
    if isinstance(nav, str):
        return [nav] if nav.endswith(".md") else []
    if isinstance(nav, list):
        return [page for item in nav for page in _nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    return []


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]' to build the site)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (
        f"mkdocs build --strict failed (exit {proc.returncode}):\n{proc.stderr}\n{proc.stdout}"
    )
    assert (tmp_path / "site" / "index.html").is_file()


def test_nav_lists_every_page_and_only_existing_ones() -> None:
    config = _load_mkdocs_config()
    pages = _nav_pages(config.get("nav"))
    assert pages, "mkdocs.yml has no nav"
    missing = [p for p in pages if not (DOCS / p).is_file()]
    assert not missing, f"pages listed in the nav of mkdocs.yml but absent from docs/: {missing}"
    repeated = sorted({p for p in pages if pages.count(p) > 1})
    assert not repeated, f"pages listed twice in the nav: {repeated}"
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    unlisted = sorted(on_disk - set(pages))
    assert not unlisted, f"docs/ pages missing from the nav of mkdocs.yml: {unlisted}"


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    from kgrec.cli import build_parser

    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1, "expected one sub-command group in kgrec.cli.build_parser()"
    return dict(actions[0].choices)


def _cli_sections() -> dict[str, str]:
    """``{sub-command: text of its section}`` from the ``## `kgrec NAME` `` headings of cli.md."""
    text = (DOCS / "cli.md").read_text()
    parts = re.split(r"^## `kgrec ([\w-]+)`[ \t]*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_cli_page_documents_every_subcommand() -> None:
    parsers = _subcommands()
    sections = _cli_sections()
    undocumented = sorted(set(parsers) - set(sections))
    assert not undocumented, (
        f"sub-commands without a '## `kgrec NAME`' section in docs/cli.md: {undocumented}"
    )
    stale = sorted(set(sections) - set(parsers))
    assert not stale, f"docs/cli.md documents sub-commands kgrec does not have: {stale}"


def test_cli_page_documents_every_flag() -> None:
    parsers = _subcommands()
    sections = _cli_sections()
    problems = []
    for name, parser in sorted(parsers.items()):
        if name not in sections:
            continue  # reported by test_cli_page_documents_every_subcommand
        flags = {
            option
            for action in parser._actions
            for option in action.option_strings
            if option.startswith("--") and option != "--help"
        }
        documented = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", sections[name]))
        if flags - documented:
            problems.append(f"kgrec {name}: undocumented {sorted(flags - documented)}")
        if documented - flags:
            problems.append(f"kgrec {name}: documented but not a flag {sorted(documented - flags)}")
    assert not problems, "docs/cli.md and the parsers disagree:\n" + "\n".join(problems)


def test_griffe_extension_splits_grouped_parameters() -> None:
    pytest.importorskip("griffe")
    path = DOCS / "_ext" / "griffe_kgrec.py"
    spec = importlib.util.spec_from_file_location("griffe_kgrec", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (
        "Summary.\n\nArgs:\n    a, b: shared meaning,\n        continued.\n    c: alone.\n\n"
        "Returns:\n    x, y: not a parameter section.\n"
    )
    assert module.expand_grouped_parameters(text) == (
        "Summary.\n\nArgs:\n    a: shared meaning,\n        continued.\n"
        "    b: shared meaning,\n        continued.\n    c: alone.\n\n"
        "Returns:\n    x, y: not a parameter section.\n"
    )
    assert (
        module.replace_sphinx_markup(
            "See :class:`~kgrec.models.MF` and :func:`kgrec.train.fit`, :math:`\\sum_j`."
        )
        == "See `MF` and `kgrec.train.fit`, `\\sum_j`."
    )
