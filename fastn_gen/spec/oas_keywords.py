"""JSON Schema keyword by keyword: from OpenAPI / Swagger dialects to 2020-12.

Each known keyword has a handler that copies it when its value is well-formed and
converts nested schemas through the converter; anything else is dropped. The repairs
listed in ``oas_schema`` that need several keywords at once live in ``repair`` and
``nullable``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from fastn_gen.spec.inputs import trim_description
from fastn_gen.spec.ir import JSONSchema

DEFS_PREFIX = "#/$defs/"


class SubConverter(Protocol):
    keep_examples: bool

    def sub(self, value: Any, ptr: str, key: str, depth: int) -> Any: ...


_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})
_TYPE_ALIASES = {
    "int": "integer",
    "long": "integer",
    "bool": "boolean",
    "float": "number",
    "double": "number",
    "decimal": "number",
    "str": "string",
    "date": "string",
    "datetime": "string",
    "date-time": "string",
    "dict": "object",
    "list": "array",
}
_SUBSCHEMA = ("not", "if", "then", "else", "contains", "propertyNames", "contentSchema")
_SUBSCHEMA_OR_BOOL = ("additionalProperties", "unevaluatedItems", "unevaluatedProperties")
_SCHEMA_MAPS = ("properties", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_COUNTS = (
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "maxProperties",
    "minProperties",
    "maxContains",
    "minContains",
)
_STRINGS = ("title", "format", "contentEncoding", "contentMediaType")
_BOOLS = ("uniqueItems", "deprecated", "readOnly", "writeOnly")
_ANNOTATIONS = (
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
)

# How a keyword holds subschemas: 0 one schema, 1 a map of schemas, 2 a list of them.
WALK: dict[str, int] = {k: 0 for k in (*_SUBSCHEMA, *_SUBSCHEMA_OR_BOOL, "items")}
WALK.update({k: 1 for k in (*_SCHEMA_MAPS, "patternProperties")})
WALK.update({k: 2 for k in _SCHEMA_LISTS})

_regex_ok: dict[str, bool] = {}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _valid_regex(pattern: Any) -> bool:
    if not isinstance(pattern, str):
        return False
    ok = _regex_ok.get(pattern)
    if ok is None:
        try:
            re.compile(pattern)
            ok = True
        except (re.error, OverflowError, RecursionError):
            ok = False
        _regex_ok[pattern] = ok
    return ok


def _normalise_type(value: Any) -> str | list[str] | None:
    names = value if isinstance(value, list) else [value]
    out: list[str] = []
    for name in names:
        if not isinstance(name, str):
            continue
        t = name if name in _TYPES else _TYPE_ALIASES.get(name.lower(), name.lower())
        if t == "file":
            t = "string"
        if t in _TYPES and t not in out:
            out.append(t)
    if not out:
        return None
    return out if isinstance(value, list) else out[0]


def _has_type(schema: JSONSchema, name: str) -> bool:
    t = schema.get("type")
    return t == name or (isinstance(t, list) and name in t)


def refs_in(schema: Any, found: list[str]) -> None:
    """Names of ``#/$defs/`` references anywhere in a converted schema."""
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if ref is not None and ref.startswith(DEFS_PREFIX):
        found.append(ref[len(DEFS_PREFIX) :])
    for key, value in schema.items():
        kind = WALK.get(key)
        if kind is None:
            continue
        if kind == 0:
            refs_in(value, found)
        elif kind == 1:
            for sub in value.values():
                refs_in(sub, found)
        else:
            for sub in value:
                refs_in(sub, found)


def without_refs(schema: Any) -> Any:
    """A copy with every reference replaced by "anything" (siblings kept)."""
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if k != "$ref"}
    for key, value in out.items():
        kind = WALK.get(key)
        if kind == 0:
            out[key] = without_refs(value)
        elif kind == 1:
            out[key] = {k: without_refs(v) for k, v in value.items()}
        elif kind == 2:
            out[key] = [without_refs(v) for v in value]
    return out


def nullable(out: dict[str, Any]) -> dict[str, Any]:
    t = out.get("type")
    if t is not None:
        if isinstance(t, str):
            out["type"] = t if t == "null" else [t, "null"]
        elif "null" not in t:
            out["type"] = [*t, "null"]
        enum = out.get("enum")
        if isinstance(enum, list) and None not in enum:
            out["enum"] = [*enum, None]
        return out
    if all(k in _ANNOTATIONS for k in out):
        return out  # no constraint: null is already allowed
    wrapper: dict[str, Any] = {k: out.pop(k) for k in _ANNOTATIONS if k in out}
    return {"anyOf": [out, {"type": "null"}], **wrapper}


def repair(node: dict[str, Any], out: dict[str, Any]) -> None:
    """Fixes that need more than one keyword of the source node."""
    for key, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = node.get(key)
        if isinstance(flag, bool) and flag and _is_number(out.get(bound)):
            out[key] = out.pop(bound)
    if node.get("type") == "file" and "format" not in out:
        out["format"] = "binary"
    tuple_items = out.pop("\0tuple", None)
    if tuple_items is not None:
        union = tuple_items[0] if len(tuple_items) == 1 else {"anyOf": tuple_items}
        if _has_type(out, "array"):
            out["items"] = union
        else:
            # Slack spells "one of these" as a tuple on the value itself.
            out.pop("type", None)
            if "anyOf" in out or len(tuple_items) == 1:
                out.setdefault("allOf", []).append(union)
            else:
                out["anyOf"] = tuple_items


# -- keyword handlers: (converter, out, value, pointer, key, depth) -----------------

Handler = Callable[[SubConverter, dict[str, Any], Any, str, str, int], None]


def _h_subschema(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    out[k] = c.sub(v, p, k, d)


def _h_map(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if isinstance(v, dict):
        base = f"{p}/{k}"
        out[k] = {name: c.sub(s, base, name, d) for name, s in v.items()}


def _h_pattern_props(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if isinstance(v, dict):
        base = f"{p}/{k}"
        out[k] = {rx: c.sub(s, base, rx, d) for rx, s in v.items() if _valid_regex(rx)}


def _h_list(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if isinstance(v, list) and v:
        base = f"{p}/{k}"
        out[k] = [c.sub(s, base, str(i), d) for i, s in enumerate(v)]


def _h_items(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if isinstance(v, list):
        if v:
            out["\0tuple"] = [c.sub(s, f"{p}/items", str(i), d) for i, s in enumerate(v)]
    else:
        out[k] = c.sub(v, p, k, d)


def _h_type(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    t = _normalise_type(v)
    if t is not None:
        out[k] = t


def _h_description(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if isinstance(v, str):
        text = trim_description(v)
        if text:
            out[k] = text


def _h_count(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if _is_number(v) and v >= 0 and float(v).is_integer():
        out[k] = int(v)


def _h_number(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if _is_number(v):
        out[k] = v


def _h_multiple(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if _is_number(v) and v > 0:
        out[k] = v


def _h_string(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if isinstance(v, str):
        out[k] = v


def _h_bool(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if isinstance(v, bool):
        out[k] = v


def _h_any(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    out[k] = v


def _h_enum(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if isinstance(v, list):
        out[k] = v


def _h_required(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if isinstance(v, list):
        names = list(dict.fromkeys(n for n in v if isinstance(n, str)))
        if names:
            out[k] = names


def _h_dep_required(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if isinstance(v, dict):
        out[k] = {
            name: list(dict.fromkeys(x for x in deps if isinstance(x, str)))
            for name, deps in v.items()
            if isinstance(deps, list)
        }


def _h_pattern(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if _valid_regex(v):
        out[k] = v


def _h_examples(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if c.keep_examples and isinstance(v, list):
        out[k] = v


def _h_exclusive(c: SubConverter, out: dict[str, Any], v: Any, p: str, k: str, d: int) -> None:
    if _is_number(v):
        out[k] = v  # the boolean (2.0/3.0) form is repaired with its bound in _repair


HANDLERS: dict[str, Handler] = {
    "type": _h_type,
    "description": _h_description,
    "enum": _h_enum,
    "const": _h_any,
    "default": _h_any,
    "required": _h_required,
    "dependentRequired": _h_dep_required,
    "pattern": _h_pattern,
    "patternProperties": _h_pattern_props,
    "items": _h_items,
    "examples": _h_examples,
    "multipleOf": _h_multiple,
    "minimum": _h_number,
    "maximum": _h_number,
    "exclusiveMinimum": _h_exclusive,
    "exclusiveMaximum": _h_exclusive,
}
HANDLERS.update({k: _h_subschema for k in _SUBSCHEMA + _SUBSCHEMA_OR_BOOL})
HANDLERS.update({k: _h_map for k in _SCHEMA_MAPS})
HANDLERS.update({k: _h_list for k in _SCHEMA_LISTS})
HANDLERS.update({k: _h_count for k in _COUNTS})
HANDLERS.update({k: _h_string for k in _STRINGS})
HANDLERS.update({k: _h_bool for k in _BOOLS})
