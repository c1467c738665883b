"""JMESPath for entity mappings: the transforms, compiling, and build-time checks.

Mappings are JMESPath expressions (https://jmespath.org) with every built-in function
(``join``, ``to_string``, ``not_null``...) plus these transforms:

| function | result |
| --- | --- |
| ``iso_time(value)`` | an ISO 8601 date or date-time, any offset, as UTC ``...Z`` |
| ``unix_time(value)`` | seconds since the epoch (number or string such as Slack's ``ts``) as UTC |
| ``money(amount, currency)`` | a decimal amount and a currency code as money |
| ``minor_money(amount, currency)`` | an amount in minor units (cents) as money |
| ``join_present(separator, values)`` | the non-empty values joined (numbers as text) |
| ``format(template, values)`` | ``{0}``, ``{1}``... in the template replaced by the values |
| ``var(name)`` | a variable of the tenant's connection (Shopify's ``shop``) |
| ``plain_text(html)`` | the text of an HTML fragment |

A transform given a value it cannot read answers ``null``, so one odd record leaves a
field empty instead of failing the search.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import jmespath
from jmespath import exceptions as jp_errors
from jmespath.functions import Functions, signature
from jmespath.parser import ParsedResult

from fastn_gen.cdm.values import iso_to_utc, money_from_minor, money_of, unix_to_utc

_PLACEHOLDER = re.compile(r"\{(\d+)\}")
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_NULLABLE_SCALAR = ["string", "number", "null"]


def _present(value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, bool | dict | list):
        return None
    return str(value)


class MappingFunctions(Functions):
    """Built-in JMESPath functions plus the mapping transforms, for one connection."""

    def __init__(self, variables: Mapping[str, str] | None = None) -> None:
        self.variables = dict(variables or {})

    @signature({"types": _NULLABLE_SCALAR})
    def _func_iso_time(self, value: Any) -> str | None:
        return iso_to_utc(value)

    @signature({"types": _NULLABLE_SCALAR})
    def _func_unix_time(self, value: Any) -> str | None:
        return unix_to_utc(value)

    @signature({"types": _NULLABLE_SCALAR}, {"types": ["string", "null"]})
    def _func_money(self, amount: Any, currency: Any) -> dict[str, str] | None:
        return money_of(amount, currency)

    @signature({"types": _NULLABLE_SCALAR}, {"types": ["string", "null"]})
    def _func_minor_money(self, amount: Any, currency: Any) -> dict[str, str] | None:
        return money_from_minor(amount, currency)

    @signature({"types": ["string"]}, {"types": ["array"]})
    def _func_join_present(self, separator: str, values: list[Any]) -> str | None:
        parts = [text for text in map(_present, values) if text]
        return separator.join(parts) if parts else None

    @signature({"types": ["string"]}, {"types": ["array"]})
    def _func_format(self, template: str, values: list[Any]) -> str | None:
        texts = [_present(v) for v in values]
        if any(
            int(index) >= len(texts) or texts[int(index)] is None
            for index in _PLACEHOLDER.findall(template)
        ):
            return None  # a link with a hole in it is worse than none
        return _PLACEHOLDER.sub(lambda m: str(texts[int(m.group(1))]), template)

    @signature({"types": ["string"]})
    def _func_var(self, name: str) -> str | None:
        return self.variables.get(name)

    @signature({"types": ["string", "null"]})
    def _func_plain_text(self, fragment: str | None) -> str | None:
        if not fragment:
            return None
        text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", fragment))).strip()
        return text or None


FUNCTION_TABLE: dict[str, dict[str, Any]] = MappingFunctions.FUNCTION_TABLE


@lru_cache(maxsize=4096)
def compiled(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


def evaluate(expression: str, document: Any, variables: Mapping[str, str] | None = None) -> Any:
    options = jmespath.Options(custom_functions=MappingFunctions(variables))
    return compiled(expression).search(document, options=options)


# -- build-time checks ----------------------------------------------------------------------


def _functions(node: Any) -> Iterator[tuple[str, int]]:
    if not isinstance(node, dict):
        return
    if node.get("type") == "function_expression":
        yield str(node.get("value")), len(node.get("children") or [])
    for child in node.get("children") or []:
        yield from _functions(child)


def _arity_problem(name: str, given: int) -> str | None:
    spec = FUNCTION_TABLE.get(name)
    if spec is None:
        return f"unknown function {name}()"
    wanted = spec["signature"]
    if wanted and wanted[-1].get("variadic"):
        if given < len(wanted):
            return f"{name}() takes at least {len(wanted)} argument(s), got {given}"
    elif given != len(wanted):
        return f"{name}() takes {len(wanted)} argument(s), got {given}"
    return None


def expression_problems(expression: Any) -> tuple[ParsedResult | None, list[str]]:
    """Compile ``expression``; the result and what is wrong with it (empty when fine)."""
    if not isinstance(expression, str) or not expression.strip():
        return None, ["expected a JMESPath expression (a non-empty string)"]
    try:
        parsed = compiled(expression)
    except jp_errors.JMESPathError as exc:
        return None, [f"not a valid JMESPath expression: {_one_line(exc)}"]
    problems = [p for name, n in _functions(parsed.parsed) if (p := _arity_problem(name, n))]
    return parsed, sorted(set(problems))


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


# Nodes whose every child is evaluated against the same input as the node itself.
_SAME_INPUT = frozenset(
    {
        "or_expression",
        "and_expression",
        "not_expression",
        "comparator",
        "multi_select_list",
        "multi_select_dict",
        "key_val_pair",
        "function_expression",
    }
)
# Nodes whose first child is evaluated against the input and the rest against its result.
_FIRST_ONLY = frozenset(
    {"subexpression", "index_expression", "pipe", "projection", "value_projection"}
)
_FIRST_ONLY |= {"filter_projection", "flatten"}


def top_level_fields(node: Any) -> set[str]:
    """The fields an expression reads from the top of the document it is evaluated on."""
    if not isinstance(node, dict):
        return set()
    kind = node.get("type")
    children = node.get("children") or []
    if kind == "field":
        return {str(node.get("value"))}
    if kind in _FIRST_ONLY and children:
        return top_level_fields(children[0])
    if kind in _SAME_INPUT:
        return {name for child in children for name in top_level_fields(child)}
    return set()  # literals, @, expression references (&...): nothing read from the top


def field_path(node: Any) -> list[str] | None:
    """``a.b.c`` (optionally ending ``[]``, ``[*]`` or ``[?...]``) as its field names."""
    if not isinstance(node, dict):
        return None
    kind = node.get("type")
    children = node.get("children") or []
    if kind == "field":
        return [str(node.get("value"))]
    if kind == "subexpression":
        parts: list[str] = []
        for child in children:
            found = field_path(child)
            if found is None:
                return None
            parts += found
        return parts
    if kind in ("projection", "filter_projection") and children:
        rest = children[1] if len(children) > 1 else None
        if isinstance(rest, dict) and rest.get("type") in ("identity", "current"):
            return field_path(children[0])
    if kind == "flatten" and children:
        return field_path(children[0])
    return None
