"""The JSON Schema mistakes in a native connector that would make a tool's schema
invalid or useless (parameter schemas, item and property shorthands, output schemas)."""

from __future__ import annotations

import re
from typing import Any

from fastn_gen.spec.model import Issues, Loc, show

JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})
SUBSCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas")
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SUBSCHEMA_ONE = (
    "items",
    "additionalProperties",
    "not",
    "contains",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
)
MAX_SCHEMA_DEPTH = 64


def types_of(schema: Any) -> set[str]:
    """The JSON types a schema declares (empty when it does not say)."""
    if not isinstance(schema, dict):
        return set()
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    return set()


def matches_type(value: Any, json_type: str) -> bool:
    if json_type == "string":
        return isinstance(value, str)
    if json_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if json_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if json_type == "boolean":
        return isinstance(value, bool)
    if json_type == "array":
        return isinstance(value, list)
    if json_type == "object":
        return isinstance(value, dict)
    return value is None


def check_schema(
    node: Any, loc: Loc, issues: Issues, refs: set[str] | None, depth: int = 0
) -> None:
    """Catch the JSON Schema mistakes that would make a tool's schema invalid or useless.

    ``refs`` is the set of ``$defs`` names a ``$ref`` may point to; ``None`` forbids refs.
    """
    if isinstance(node, bool):
        return
    if not isinstance(node, dict):
        issues.add(loc, f"a JSON Schema must be a mapping (or true/false), got {show(node)}")
        return
    if depth > MAX_SCHEMA_DEPTH:
        issues.add(loc, f"schema is nested more than {MAX_SCHEMA_DEPTH} levels deep")
        return
    if "type" in node:
        t = node["type"]
        types = [t] if isinstance(t, str) else t if isinstance(t, list) else []
        if not types or any(not isinstance(x, str) or x not in JSON_TYPES for x in types):
            issues.add(
                (*loc, "type"),
                f"expected one of {', '.join(sorted(JSON_TYPES))} (or a list of them), "
                f"got {show(t)}",
            )
    if "nullable" in node:
        issues.add(
            (*loc, "nullable"),
            "'nullable' is not JSON Schema; write type: [<type>, 'null'] instead",
        )
    if "$ref" in node:
        ref = node["$ref"]
        if refs is None:
            issues.add((*loc, "$ref"), "$ref is not supported here; write the schema inline")
        elif not (isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in refs):
            issues.add(
                (*loc, "$ref"),
                f"must point to an entry of this schema's $defs (#/$defs/<name>), got {show(ref)}",
            )
    for key in SUBSCHEMA_MAPS:
        if key in node:
            if not isinstance(node[key], dict):
                issues.add((*loc, key), f"expected a mapping, got {show(node[key])}")
                continue
            for name, sub in node[key].items():
                check_schema(sub, (*loc, key, name), issues, refs, depth + 1)
    for key in SUBSCHEMA_LISTS:
        if key in node:
            if not isinstance(node[key], list) or not node[key]:
                issues.add((*loc, key), f"expected a non-empty list, got {show(node[key])}")
                continue
            for i, sub in enumerate(node[key]):
                check_schema(sub, (*loc, key, i), issues, refs, depth + 1)
    for key in SUBSCHEMA_ONE:
        if key not in node:
            continue
        if key == "items" and isinstance(node[key], list):
            issues.add(
                (*loc, key), "a list under items is not JSON Schema 2020-12; use prefixItems"
            )
            continue
        check_schema(node[key], (*loc, key), issues, refs, depth + 1)
    if "required" in node:
        req = node["required"]
        if not isinstance(req, list) or not all(isinstance(x, str) for x in req):
            issues.add((*loc, "required"), f"expected a list of property names, got {show(req)}")
    if "enum" in node and (not isinstance(node["enum"], list) or not node["enum"]):
        issues.add((*loc, "enum"), f"expected a non-empty list, got {show(node['enum'])}")
    if "pattern" in node:
        try:
            re.compile(node["pattern"])
        except (re.error, TypeError) as exc:
            issues.add((*loc, "pattern"), f"not a valid regular expression: {exc}")
