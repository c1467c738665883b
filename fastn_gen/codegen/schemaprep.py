"""JSON Schema plumbing for model generation: keyword tables, references, check schemas.

Tool input schemas are 2020-12 documents whose ``$ref`` values point into the root
``$defs``. :func:`normalize_refs` makes that an invariant (other in-document pointers
are hoisted into ``$defs``), so every later step resolves a reference by name, and a
run-time check schema can carry exactly the definitions it needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

Schema = Any  # a dict or a boolean schema

# Keywords whose value is one subschema, a list of them, or a name → subschema map.
SUBSCHEMA_ONE = frozenset(
    {
        "items",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
SUBSCHEMA_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
SUBSCHEMA_MAP = frozenset({"properties", "patternProperties", "dependentSchemas", "$defs"})

# 2020-12 keywords that can reject an instance (applicators and assertions).
VALIDATION = frozenset(
    {
        "$ref",
        "$dynamicRef",
        "type",
        "enum",
        "const",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxContains",
        "minContains",
        "maxProperties",
        "minProperties",
        "required",
        "dependentRequired",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "dependentSchemas",
        "prefixItems",
        "items",
        "contains",
        "properties",
        "patternProperties",
        "additionalProperties",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
# Keywords that change how references resolve; a schema using them below the root is
# validated as a whole document (see pymodels).
DOCUMENT_KEYWORDS = frozenset(
    {"$id", "$anchor", "$dynamicAnchor", "$dynamicRef", "$recursiveRef", "$recursiveAnchor"}
)
DEFS_PREFIX = "#/$defs/"


class SchemaError(ValueError):
    """A tool input schema that cannot be turned into a model."""


def validation_keys(node: Schema) -> frozenset[str]:
    if not isinstance(node, dict):
        return frozenset()
    return VALIDATION.intersection(node)


def subschemas(node: Schema) -> Iterator[Schema]:
    """The direct subschemas of ``node`` (not values of ``enum``, ``const``...)."""
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in SUBSCHEMA_ONE:
            yield value
        elif key in SUBSCHEMA_LIST and isinstance(value, list):
            yield from value
        elif key in SUBSCHEMA_MAP and isinstance(value, dict):
            yield from value.values()


def map_schema(node: Schema, fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Schema:
    """Rebuild ``node`` bottom-up, applying ``fn`` to every object subschema."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in SUBSCHEMA_ONE:
            out[key] = map_schema(value, fn)
        elif key in SUBSCHEMA_LIST and isinstance(value, list):
            out[key] = [map_schema(v, fn) for v in value]
        elif key in SUBSCHEMA_MAP and isinstance(value, dict):
            out[key] = {k: map_schema(v, fn) for k, v in value.items()}
        else:
            out[key] = value
    return fn(out)


def def_name(ref: str) -> str | None:
    """``#/$defs/Name`` → ``Name`` (pointer-unescaped); None for any other reference."""
    if not ref.startswith(DEFS_PREFIX):
        return None
    token = unquote(ref[len(DEFS_PREFIX) :])
    if "/" in token:
        return None
    return token.replace("~1", "/").replace("~0", "~")


def def_ref(name: str) -> str:
    return DEFS_PREFIX + name.replace("~", "~0").replace("/", "~1").replace("%", "%25")


def _scan(node: Schema, refs: set[str], flags: set[str], root: bool) -> None:
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str):
        refs.add(ref)
    found = DOCUMENT_KEYWORDS.intersection(node)
    if found and not (root and found <= {"$id", "$anchor"}):
        flags.add("document")
    for sub in subschemas(node):
        _scan(sub, refs, flags, False)


def _resolve_pointer(root: Schema, ref: str) -> Schema:
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        raise SchemaError(f"unsupported $ref {ref!r}: only references inside the schema work")
    target = root
    for raw in unquote(ref[2:]).split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and token in target:
            target = target[token]
        elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
            target = target[int(token)]
        else:
            raise SchemaError(f"$ref {ref!r} does not resolve")
    if not isinstance(target, dict | bool):
        raise SchemaError(f"$ref {ref!r} does not point at a schema")
    return target


def normalize_refs(root: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Schema], bool]:
    """``(root, defs, document)``: every ``$ref`` made ``#/$defs/<name>`` with ``name`` in defs.

    ``document`` is true when the schema relies on base-URI or dynamic-reference
    keywords below the root, which only a whole-document validation gets right.
    """
    defs = root.get("$defs")
    defs = dict(defs) if isinstance(defs, dict) else {}
    refs: set[str] = set()
    flags: set[str] = set()
    _scan(root, refs, flags, True)
    odd = sorted(r for r in refs if def_name(r) not in defs)
    if not odd or "document" in flags:
        return root, defs, "document" in flags
    # Hoist every other in-document pointer into $defs under a fresh name.
    hoisted: dict[str, str] = {}
    for n, ref in enumerate(odd, 1):
        name = f"ref{n}"
        while name in defs or name in hoisted.values():
            name += "_"
        hoisted[ref] = name
    targets = {ref: _resolve_pointer(root, ref) for ref in odd}

    def rewrite(node: dict[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in hoisted:
            return {**node, "$ref": def_ref(hoisted[ref])}
        return node

    new_defs = {name: map_schema(schema, rewrite) for name, schema in defs.items()}
    for ref, name in hoisted.items():
        target = targets[ref]
        if ref == "#":
            target = {k: v for k, v in root.items() if k != "$defs"}
        new_defs[name] = map_schema(target, rewrite)
    body = map_schema({k: v for k, v in root.items() if k != "$defs"}, rewrite)
    return {**body, "$defs": new_defs}, new_defs, False


def compiles(pattern: Any) -> bool:
    """Whether Python's ``re`` (used by jsonschema and the models) accepts ``pattern``."""
    if not isinstance(pattern, str):
        return False
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError):
        return False
    return True


def strip_annotations(node: Schema) -> Schema:
    """Only what validation reads: drops descriptions, examples, vendor extensions.

    Patterns Python cannot compile are dropped too: jsonschema would raise on them
    instead of validating, and the typed fields ignore them the same way.
    """

    def keep(n: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in n.items() if k in VALIDATION}
        if "pattern" in out and not compiles(out["pattern"]):
            del out["pattern"]
        patterns = out.get("patternProperties")
        if isinstance(patterns, dict) and not all(compiles(p) for p in patterns):
            out["patternProperties"] = {p: v for p, v in patterns.items() if compiles(p)}
        return out

    return map_schema(node, keep)


def referenced_defs(node: Schema, defs: dict[str, Schema]) -> list[str]:
    """Names of the definitions ``node`` needs, transitively, in ``defs`` order."""
    seen: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            ref = current.get("$ref")
            name = def_name(ref) if isinstance(ref, str) else None
            if name is not None and name in defs and name not in seen:
                seen.add(name)
                stack.append(defs[name])
            stack.extend(subschemas(current))
    return [name for name in defs if name in seen]
