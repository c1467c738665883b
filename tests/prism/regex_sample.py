"""One short, deterministic string matching a regular expression (for ``pattern``).

Walks the parsed pattern and takes the first choice everywhere: the lowest character
of a class, the minimum repeat count, the first branch. Enough for the patterns vendor
documents put on identifiers (``^AC[0-9a-fA-F]{32}$``, ``^[a-z0-9-]+$``); the caller
checks the result and treats ``None`` (or a non-match) as "no sample".
"""

from __future__ import annotations

import re
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser as P  # type: ignore[attr-defined]
from typing import Any

# Characters tried, in order, where the pattern allows many (negated classes, ``.``).
_PREFERRED = "a0A_-. "

_CATEGORY = {
    C.CATEGORY_DIGIT: "0",
    C.CATEGORY_NOT_DIGIT: "a",
    C.CATEGORY_WORD: "a",
    C.CATEGORY_NOT_WORD: "-",
    C.CATEGORY_SPACE: " ",
    C.CATEGORY_NOT_SPACE: "a",
}


class _NoSample(Exception):
    pass


def _class_members(items: list[tuple[Any, Any]]) -> tuple[bool, list[str], list[tuple[int, int]]]:
    negate = False
    chars: list[str] = []
    ranges: list[tuple[int, int]] = []
    for op, arg in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            chars.append(chr(arg))
        elif op is C.RANGE:
            ranges.append(arg)
        elif op is C.CATEGORY:
            chars.append(_CATEGORY.get(arg, "a"))
        else:
            raise _NoSample(str(op))
    return negate, chars, ranges


def _in_class(items: list[tuple[Any, Any]]) -> str:
    negate, chars, ranges = _class_members(items)
    if not negate:
        if ranges:
            # Prefer a letter or digit inside the first range over its (maybe odd) start.
            lo, hi = ranges[0]
            return next((c for c in "a0A" if lo <= ord(c) <= hi), chr(lo))
        if chars:
            return chars[0]
        raise _NoSample("empty class")
    for c in _PREFERRED:
        if c not in chars and not any(lo <= ord(c) <= hi for lo, hi in ranges):
            return c
    raise _NoSample("negated class excludes every preferred character")


def _walk(parsed: Any, groups: dict[int, str]) -> str:
    out: list[str] = []
    for op, arg in parsed:
        if op is C.LITERAL:
            out.append(chr(arg))
        elif op is C.NOT_LITERAL:
            out.append(next(c for c in _PREFERRED if ord(c) != arg))
        elif op is C.ANY:
            out.append("a")
        elif op is C.IN:
            out.append(_in_class(arg))
        elif op is C.CATEGORY:
            out.append(_CATEGORY.get(arg, "a"))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            low, _high, sub = arg
            out.append(_walk(sub, groups) * low)
        elif op is C.SUBPATTERN:
            group, _add, _del, sub = arg
            text = _walk(sub, groups)
            if group is not None:
                groups[group] = text
            out.append(text)
        elif op is C.ATOMIC_GROUP:
            out.append(_walk(arg, groups))
        elif op is C.BRANCH:
            out.append(_walk(arg[1][0], groups))
        elif op is C.GROUPREF:
            out.append(groups.get(arg, ""))
        elif op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            continue  # anchors and lookarounds add no characters
        else:
            raise _NoSample(str(op))
    return "".join(out)


def sample(pattern: str) -> str | None:
    """A string ``re.search(pattern, s)`` accepts, or None when none could be made."""
    try:
        text = _walk(P.parse(pattern), {})
        return text if re.search(pattern, text) else None
    except (_NoSample, re.error, RecursionError, StopIteration):
        return None
