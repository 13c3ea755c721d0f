"""A griffe extension for the API reference: doctest examples in docstrings render as Python code blocks.

Docstrings are rendered as Markdown, where ``>>> x`` would be a quote and ``[1, 2]`` a link. Each run of
lines from a ``>>>`` line to the next blank line (the doctest example and its expected output, as doctest
reads them) is wrapped in a fenced ``pycon`` block instead.
"""

from __future__ import annotations

import griffe


def fence_doctests(text: str) -> str:
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if not inside and line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}```pycon")
            inside = True
        elif inside and not line.strip():
            out.append(f"{indent}```")
            inside = False
        out.append(line)
    if inside:
        out.append(f"{indent}```")
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
