"""Griffe extension: read kgrec's docstring conventions before the Google-style parser does.

Two conventions of kgrec's docstrings that Griffe's Google parser does not know:

1. Parameters that share a meaning are documented on one line::

       Args:
           num_users, num_items: table sizes (``from_data`` reads them from the graph).

   Griffe would read ``num_users, num_items`` as one name that is not in the signature and
   warn (``mkdocs build --strict`` turns that into a failed build). Such an entry is split into
   one entry per name with the same description, so each parameter gets its own row with its
   type and default from the signature. Only ``Args`` / ``Arguments`` / ``Parameters`` /
   ``Params`` sections, and only entries whose name part is two or more comma-separated
   identifiers, are touched; a name that is truly not in the signature still warns.
2. Sphinx roles (``:class:`~kgrec.models.MF```, ``:math:`\\sum_j```) and ``.. math::``
   directives, which Markdown would print literally: a role becomes inline code of its target
   (``~`` keeps the last dotted part, as in Sphinx), a ``.. math::`` block an indented code
   block.

Loaded by ``mkdocs.yml`` (``plugins.mkdocstrings.handlers.python.options.extensions``); the
source files are never changed.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_SECTION = re.compile(r"^(?P<indent>\s*)(?:Args|Arguments|Parameters|Params):\s*$")
_GROUPED = re.compile(
    r"^(?P<indent>\s+)(?P<names>[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)+)\s*:(?P<rest>.*)$"
)
_ROLE = re.compile(r":(?P<role>[a-z]+):`(?P<tilde>~?)(?P<target>[^`]+)`")
_MATH = re.compile(r"^(?P<indent>\s*)\.\. math::\s*(?P<rest>.*)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def expand_grouped_parameters(text: str) -> str:
    """``text`` with each grouped ``a, b: description`` parameter entry split per name."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        header = _SECTION.match(line)
        if header is None:
            continue
        section_indent = len(header.group("indent"))
        item_indent: int | None = None
        while i < len(lines):
            line = lines[i]
            if line.strip() and _indent(line) <= section_indent:
                break  # the section ended
            if line.strip() and item_indent is None:
                item_indent = _indent(line)
            grouped = _GROUPED.match(line) if _indent(line) == item_indent else None
            if grouped is None:
                out.append(line)
                i += 1
                continue
            # the entry's continuation lines: blank or indented deeper than the entry
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > item_indent):
                j += 1
            while j > i + 1 and not lines[j - 1].strip():
                j -= 1  # trailing blank lines belong to the section, not to the entry
            continuation = lines[i + 1 : j]
            prefix, rest = grouped.group("indent"), grouped.group("rest")
            for name in (n.strip() for n in grouped.group("names").split(",")):
                out.append(f"{prefix}{name}:{rest}")
                out.extend(continuation)
            i = j
    return "\n".join(out)


def _role(match: re.Match[str]) -> str:
    target = match.group("target")
    if match.group("role") != "math" and match.group("tilde"):
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def replace_sphinx_markup(text: str) -> str:
    """Roles as inline code, ``.. math::`` directives as indented code blocks."""
    out: list[str] = []
    for line in text.split("\n"):
        math = _MATH.match(line)
        if math is None:
            out.append(_ROLE.sub(_role, line))
        elif math.group("rest"):  # ".. math::  formula" on one line
            out += ["", " " * (len(math.group("indent")) + 4) + math.group("rest"), ""]
        else:  # the formula is the indented block that follows
            out.append("")
    return "\n".join(out)


class KgrecDocstrings(Extension):
    """Apply both rewrites to every loaded object's docstring."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        docstring = obj.docstring
        if docstring is None:
            return
        text = docstring.value
        if "," in text:
            text = expand_grouped_parameters(text)
        if ":`" in text or ".. math::" in text:
            text = replace_sphinx_markup(text)
        docstring.value = text
