"""Reasoning about schemas before typing them: merging ``allOf``, disjoint ``oneOf``.

Both answer conservatively: ``None``/``False`` whenever exactness is not certain, and the
model generator then keeps the keyword for the run-time jsonschema check.
"""

from __future__ import annotations

from typing import Any

from fastn_gen.codegen.schemaprep import Schema, SchemaError, def_name, validation_keys

Defs = dict[str, Schema]

# Keywords that read each other; an allOf may only be merged when each group comes from
# one branch (properties/additionalProperties have their own merge rule below).
GROUPS = (
    frozenset({"prefixItems", "items"}),
    frozenset({"contains", "minContains", "maxContains"}),
    frozenset({"if", "then", "else"}),
)
OBJECT_SHAPE = frozenset({"properties", "additionalProperties", "patternProperties"})
MAX_DEPTH = 16


def schema_types(node: dict[str, Any]) -> list[str] | None:
    """The ``type`` keyword as a list, or None when absent."""
    t = node.get("type")
    if t is None:
        return None
    if isinstance(t, str):
        return [t]
    if isinstance(t, list) and all(isinstance(x, str) for x in t):
        return list(dict.fromkeys(t))
    raise SchemaError(f"invalid type {t!r}")


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def is_trivial(node: Schema) -> bool:
    """True for schemas that accept everything."""
    return node is True or (isinstance(node, dict) and not validation_keys(node))


def _flatten(node: Schema, defs: Defs, out: list[dict[str, Any]], depth: int) -> bool:
    """The conjuncts of ``node``: allOf branches and references, recursively."""
    if node is True:
        return True
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        return False
    keys = validation_keys(node)
    if "$ref" in keys:
        target = defs.get(def_name(node["$ref"]) or "")
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return (
            target is not None
            and _flatten(target, defs, out, depth + 1)
            and _flatten(rest, defs, out, depth + 1)
        )
    if "allOf" in keys:
        branches = node["allOf"]
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return isinstance(branches, list) and all(
            _flatten(b, defs, out, depth + 1) for b in [*branches, rest]
        )
    out.append(node)
    return True


def _intersect_types(a: list[str], b: list[str]) -> list[str]:
    out = [t for t in a if t in b or (t == "integer" and "number" in b)]
    out += [t for t in b if t == "integer" and "number" in a and t not in out]
    return out


def _merge_shapes(parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """properties/additionalProperties of several conjuncts as one object shape."""
    props: dict[str, list[Schema]] = {}
    closed: list[set[str]] = []
    for part in parts:
        if "patternProperties" in part:
            return None
        p = part.get("properties", {})
        if not isinstance(p, dict):
            return None
        for key, sub in p.items():
            seen = props.setdefault(key, [])
            if sub not in seen:
                seen.append(sub)
        extra = part.get("additionalProperties", True)
        if extra is False:
            closed.append(set(p))
        elif not is_trivial(extra):
            return None  # it would also apply to keys another conjunct defines
    if any(not set(props) <= names for names in closed):
        return None
    shape: dict[str, Any] = {
        "properties": {k: v[0] if len(v) == 1 else {"allOf": v} for k, v in props.items()}
    }
    if closed:
        shape["additionalProperties"] = False
    return shape


def merge_all_of(node: dict[str, Any], defs: Defs) -> dict[str, Any] | None:
    """``node`` with its ``allOf`` (and references in it) merged into one schema.

    Exact or None: keywords may only come from one conjunct or agree, ``type`` is
    intersected, ``required`` united, and object properties merged as long as no
    ``additionalProperties`` schema would see the other conjuncts' properties.
    """
    parts: list[dict[str, Any]] = []
    if not _flatten(node, defs, parts, 0):
        return None
    keysets = [validation_keys(p) for p in parts]
    if any(k & {"unevaluatedProperties", "unevaluatedItems", "$dynamicRef"} for k in keysets):
        return None
    for group in GROUPS:
        if sum(1 for k in keysets if k & group) > 1:
            return None
    shaped = [p for p, k in zip(parts, keysets, strict=True) if k & OBJECT_SHAPE]
    merged: dict[str, Any] = {}
    if len(shaped) == 1:
        merged.update({k: v for k, v in shaped[0].items() if k in OBJECT_SHAPE})
    elif shaped:
        shape = _merge_shapes(shaped)
        if shape is None:
            return None
        merged.update(shape)
    for part, keys in zip(parts, keysets, strict=True):
        # In the conjunct's own key order: a set's order changes from run to run, and
        # the merged schema is written out as it is built.
        for key in (k for k in part if k in keys and k not in OBJECT_SHAPE):
            value = part[key]
            if key == "type":
                types = schema_types(part) or []
                if "type" in merged:
                    types = _intersect_types(merged["type"], types)
                merged["type"] = types
            elif key == "required":
                if not isinstance(value, list):
                    return None
                merged[key] = list(dict.fromkeys([*merged.get(key, []), *value]))
            elif key not in merged:
                merged[key] = value
            elif merged[key] != value:
                return None
    if isinstance(node.get("description"), str):
        merged["description"] = node["description"]
    return merged


def _kinds(node: Schema, defs: Defs, depth: int = 0) -> frozenset[str] | None:
    """The JSON kinds a schema can accept (integers count as numbers), None if unknown."""
    if node is False:
        return frozenset()
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        return None
    found: list[frozenset[str]] = []
    if "$ref" in node:
        target = _kinds(defs.get(def_name(node["$ref"]) or "", True), defs, depth + 1)
        if target is not None:
            found.append(target)
    if "const" in node:
        found.append(frozenset({json_kind(node["const"])}))
    elif isinstance(node.get("enum"), list):
        found.append(frozenset(json_kind(v) for v in node["enum"]))
    if "type" in node:
        types = schema_types(node) or []
        found.append(frozenset("number" if t == "integer" else t for t in types))
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            branches = [_kinds(b, defs, depth + 1) for b in node[key]]
            if all(k is not None for k in branches):
                found.append(frozenset().union(*(k for k in branches if k is not None)))
    if not found:
        return None
    result = found[0]
    for k in found[1:]:
        result &= k
    return result


def _resolve(node: Schema, defs: Defs) -> Schema:
    """Follow a bare ``$ref`` chain to its target."""
    for _ in range(MAX_DEPTH):
        if not (isinstance(node, dict) and validation_keys(node) == {"$ref"}):
            break
        node = defs.get(def_name(node["$ref"]) or "")
    return node


def _constants(node: Schema, defs: Defs) -> frozenset[tuple[str, str]] | None:
    node = _resolve(node, defs)
    if not isinstance(node, dict):
        return None
    values = [node["const"]] if "const" in node else node.get("enum")
    if not isinstance(values, list) or any(isinstance(v, list | dict) for v in values):
        return None
    out: set[tuple[str, str]] = set()
    for v in values:
        kind = json_kind(v)
        try:  # 1 and 1.0 are the same JSON number
            out.add((kind, repr(float(v)) if kind == "number" else repr(v)))
        except OverflowError:
            return None
    return frozenset(out)


def _tagged(a: Schema, b: Schema, defs: Defs) -> bool:
    """Both are objects requiring one property whose allowed constants do not overlap."""
    sa, sb = _resolve(a, defs), _resolve(b, defs)
    if not (isinstance(sa, dict) and isinstance(sb, dict)):
        return False
    pa, pb = sa.get("properties"), sb.get("properties")
    ra, rb = sa.get("required"), sb.get("required")
    if not (isinstance(pa, dict) and isinstance(pb, dict)):
        return False
    if not (isinstance(ra, list) and isinstance(rb, list)):
        return False
    for prop in {r for r in ra if isinstance(r, str)} & {r for r in rb if isinstance(r, str)}:
        va, vb = _constants(pa.get(prop), defs), _constants(pb.get(prop), defs)
        if va is not None and vb is not None and not va & vb:
            return True
    return False


def disjoint(branches: list[Schema], defs: Defs) -> bool:
    """Whether no value can match two ``oneOf`` branches, so a plain union is exact."""
    kinds = [_kinds(b, defs) for b in branches]
    for i in range(len(branches)):
        for j in range(i + 1, len(branches)):
            a, b = kinds[i], kinds[j]
            if a is None or b is None:
                return False
            if a & b and not _distinct(branches[i], branches[j], a == b == {"object"}, defs):
                return False
    return True


def _distinct(a: Schema, b: Schema, objects: bool, defs: Defs) -> bool:
    """Branches of the same kind that still cannot both match: other constants, other tags."""
    ca, cb = _constants(a, defs), _constants(b, defs)
    if ca is not None and cb is not None:
        return not ca & cb
    return objects and _tagged(a, b, defs)
