"""JSON text for manifest.json: readable where people look, fast where it is big.

``json.dumps(..., indent=...)`` runs Python's pure-Python encoder; on GitHub's full
spec (a 10 MB manifest) that alone took longer than the rest of the build. Here the
outer levels (the manifest, its lists, each tool's fields) are laid out one item per
line, and everything deeper (schemas, annotations) is written on one line by the C
encoder. The result is still byte-stable, and a changed tool shows up as changed
lines of that tool only.
"""

from __future__ import annotations

import json
from typing import Any

_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))


class Encoded(str):
    """A value's JSON text, laid out already (``dumps_layered`` at its depth)."""

    __slots__ = ()


def dumps_layered(value: Any, levels: int = 3, indent: str = " ", depth: int = 0) -> str:
    """JSON for ``value`` with the first ``levels`` container levels indented; ``depth``
    is where the value will sit (for :class:`Encoded` parts written separately)."""
    parts: list[str] = []
    _write(value, levels, indent, depth, parts)
    return "".join(parts)


def _write(value: Any, levels: int, indent: str, depth: int, out: list[str]) -> None:
    if type(value) is Encoded:
        out.append(value)
        return
    if depth >= levels or not isinstance(value, dict | list) or not value:
        out.append(_COMPACT.encode(value))
        return
    inner = "\n" + indent * (depth + 1)
    if isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append(("," if i else "") + inner + _COMPACT.encode(str(key)) + ": ")
            _write(item, levels, indent, depth + 1, out)
        out.append("\n" + indent * depth + "}")
    else:
        out.append("[")
        for i, item in enumerate(value):
            out.append(("," if i else "") + inner)
            _write(item, levels, indent, depth + 1, out)
        out.append("\n" + indent * depth + "]")
