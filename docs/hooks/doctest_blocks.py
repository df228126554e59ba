"""Griffe extension: dstream's docstrings (reST-flavoured prose with doctests) as Markdown.

- each run of ``>>>`` / ``...`` lines and the output after them becomes a ``pycon`` code block
  (Markdown would read ``>>>`` as nested quotes);
- Sphinx roles (``:class:`X```, ``:meth:`~a.b.c```) become code spans;
- click's ``\\f`` (where a command's ``--help`` text stops) is dropped.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|meth|func|attr|mod|data|exc|obj):`~?([^`]+)`")


def as_markdown(text: str) -> str:
    """``text`` with doctests fenced and Sphinx roles turned into code spans."""
    out: list[str] = []
    in_example = in_fence = False
    for line in text.replace("\f", "").splitlines():
        stripped = line.lstrip()
        if not in_example and stripped.startswith("```"):
            in_fence = not in_fence
        if not in_fence and not in_example and stripped.startswith(">>>"):
            out += ["", "```pycon"]
            in_example = True
        elif in_example and not stripped:
            out += ["```", ""]
            in_example = False
        out.append(line if in_example or in_fence else ROLE.sub(r"`\1`", line))
    if in_example:
        out.append("```")
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = as_markdown(obj.docstring.value)
