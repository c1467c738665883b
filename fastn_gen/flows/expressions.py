"""Flow expressions: JMESPath inside ``{{ }}``, evaluated against the run's data.

JMESPath is a query language over JSON with no side effects: it can select, filter,
project and compare, and call a fixed set of pure functions, but it cannot run code,
read files or reach the network. The data an expression sees is one JSON object:

``trigger``
    what started the run (manual input, due time, event)
``steps``
    ``steps.<id>.result``, ``.status`` and ``.error`` of the steps run so far
``item``
    the current element inside a ``for_each`` step
``flow``
    ``name``, ``version``, ``run_id``, ``tenant_id``, ``started_at``, ``previous_run_at``

A string that is exactly one placeholder (``"{{ steps.list.result.channels }}"``)
becomes the expression's value with its JSON type; placeholders inside longer text are
replaced by the value as text (strings as they are, null as nothing, anything else as
compact JSON).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jmespath
from jmespath import exceptions as jp_errors
from jmespath.parser import ParsedResult

ROOTS = frozenset({"trigger", "steps", "item", "flow"})
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_WHOLE = re.compile(r"^\s*\{\{(.*?)\}\}\s*$", re.DOTALL)
MAX_EXPRESSION = 1000


class ExpressionError(Exception):
    """An expression that does not parse, or fails on the data it is given."""


@lru_cache(maxsize=4096)
def compile_expression(expression: str) -> ParsedResult:
    text = expression.strip()
    if not text:
        raise ExpressionError("empty expression")
    if len(text) > MAX_EXPRESSION:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION} characters")
    try:
        return jmespath.compile(text)
    except jp_errors.JMESPathError as exc:
        raise ExpressionError(_first_line(exc)) from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def evaluate(expression: str, data: Mapping[str, Any]) -> Any:
    try:
        return compile_expression(expression).search(dict(data))
    except jp_errors.JMESPathError as exc:
        raise ExpressionError(f"{{{{ {expression.strip()} }}}}: {_first_line(exc)}") from None


def truthy(value: Any) -> bool:
    """JMESPath truth: false, null, and empty strings, lists and objects are false
    (the number 0 is true; compare explicitly, e.g. ``count > `0```)."""
    return not (value is None or value is False or value in ("", [], {}))


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def render(value: Any, data: Mapping[str, Any]) -> Any:
    """``value`` (any JSON) with every placeholder replaced by its value."""
    if isinstance(value, str):
        if "{{" not in value:
            return value
        whole = _WHOLE.match(value)
        if whole is not None and "{{" not in whole.group(1):
            return evaluate(whole.group(1), data)
        return PLACEHOLDER.sub(lambda m: _as_text(evaluate(m.group(1), data)), value)
    if isinstance(value, Mapping):
        return {key: render(item, data) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, data) for item in value]
    return value


def bare_expression(text: str) -> str:
    """A condition or for_each, written with or without ``{{ }}``."""
    whole = _WHOLE.match(text)
    return whole.group(1).strip() if whole is not None else text.strip()


def placeholders(value: Any) -> Iterator[str]:
    """The expressions inside ``{{ }}`` anywhere in a JSON value."""
    if isinstance(value, str):
        for found in PLACEHOLDER.finditer(value):
            yield found.group(1).strip()
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from placeholders(item)
    elif isinstance(value, list):
        for item in value:
            yield from placeholders(item)


# -- what an expression refers to ----------------------------------------------------------


@dataclass
class References:
    """The top-level names an expression reads, and the step ids after ``steps.``."""

    roots: set[str] = field(default_factory=set)
    steps: set[str] = field(default_factory=set)


def references(expression: str) -> References:
    """Names read from the run's data (not from elements inside a projection or filter)."""
    found = References()
    tree: dict[str, Any] = dict(compile_expression(expression).parsed)
    _walk(tree, found)
    return found


# Node types whose first child is evaluated on the run's data and the others on its
# result (or on each of its elements).
_CHAINED = frozenset(
    {
        "subexpression",
        "index_expression",
        "pipe",
        "projection",
        "value_projection",
        "filter_projection",
    }
)


def _leading_field(node: dict[str, Any]) -> str | None:
    """The first name a chain reads: ``a`` in ``a``, ``a[0]``, ``a[*].b``, ``a[?x]``."""
    if node["type"] == "field":
        return str(node["value"])
    if node["type"] in _CHAINED and node.get("children"):
        return _leading_field(node["children"][0])
    return None


def _walk(node: dict[str, Any], found: References) -> None:
    kind = node["type"]
    children: list[dict[str, Any]] = node.get("children", [])
    if kind == "field":
        found.roots.add(str(node["value"]))
    elif kind in _CHAINED:
        if not children:
            return
        _walk(children[0], found)
        head = children[0]
        if kind == "subexpression" and head["type"] == "field" and head["value"] == "steps":
            step = _leading_field(children[1]) if len(children) > 1 else None
            if step is not None:
                found.steps.add(step)
    elif kind != "expref":  # an expref is evaluated on elements (sort_by, max_by...)
        for child in children:
            _walk(child, found)
