"""Render a tool's input JSON Schema as a builder function for a typed pydantic model.

Generated connector modules hold one ``_build_<tool>()`` per tool; it defines the model
classes and returns the top-level one, and is only called when the tool is first used
(see ``LazyModels``), so importing a module with a thousand tools stays cheap.

Validation is meant to accept exactly what the JSON Schema accepts, no more:

- JSON types are strict. Strings, booleans and numbers are not coerced into each other
  (``"5"`` is not an integer, ``true`` is not ``1``), as JSON Schema specifies. The one
  conversion is JSON Schema's own: an integral float such as ``5.0`` is an integer and
  becomes ``5``. Numbers keep their kind (``5`` stays ``5``, not ``5.0``).
- Optional arguments default to ``None`` but an explicit ``null`` is only accepted when
  the schema allows null. Schema ``default`` values are not copied into the models:
  arguments are sent with ``exclude_unset`` so a default would never reach upstream.
- Only wire names are accepted as keys; a renamed field (``per-page`` → ``per_page``)
  switches off pydantic's validation by Python name.
- Objects are closed only when the schema says ``additionalProperties: false``.
- Whatever pydantic cannot express exactly (``not``, ``if``/``then``, ``uniqueItems``,
  ``patternProperties``, overlapping ``oneOf``, float ``multipleOf``, non-scalar enums,
  ``unevaluated*``, recursion through non-object definitions...) is checked on the raw
  value by a jsonschema validator (``schema_check``) compiled when the model is built.
  The typed part is still generated where possible, so most values are typed.
- ``format`` is an annotation only, as in jsonschema's default. A ``pattern`` is
  enforced with Python's ``re`` (the engine jsonschema uses); one that ``re`` cannot
  compile is ignored, since neither engine can evaluate it.
- Schemas that change base URIs or use dynamic references below the root are validated
  entirely by jsonschema, with an open model that passes the arguments through.

Python identifiers are derived from argument names (see ``pynames``), with the real name
as the field's alias. Long strings are split into implicitly concatenated parts; the
module template carries ``# ruff: noqa: E501`` for the few lines that cannot be split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastn_gen.codegen.literals import py_literal
from fastn_gen.codegen.pynames import ClassNames, pascal_case
from fastn_gen.codegen.pysource import BuilderParts, ModelClass, ModelField, render_builder
from fastn_gen.codegen.pytypes import Members, TypeEmitter
from fastn_gen.codegen.schemamerge import disjoint, is_trivial, merge_all_of, schema_types
from fastn_gen.codegen.schemaprep import (
    Schema,
    SchemaError,
    def_name,
    def_ref,
    normalize_refs,
    referenced_defs,
    strip_annotations,
    validation_keys,
)

__all__ = ["ModelSource", "SchemaError", "render_model_builder"]

COMPOSITION = frozenset({"allOf", "anyOf", "oneOf", "not", "if", "then", "else"})
# Keys that give a schema a type of its own; an unmerged allOf is typed from such a branch.
TYPED = frozenset({"type", "$ref", "properties", "enum", "const", "anyOf", "oneOf", "allOf"})
CONTAINS = ("contains", "minContains", "maxContains")
WHOLE_ROOT = frozenset({"enum", "const", "unevaluatedProperties", "unevaluatedItems"})


_LITERAL_KEYS = ("type", "enum", "const")


@dataclass(frozen=True, slots=True)
class ModelSource:
    function_name: str  # e.g. ``_build_slack_send_message``
    source: str  # the builder function, no trailing newline
    imports: frozenset[str]  # import lines the source needs, one name each


def render_model_builder(tool_name: str, schema: dict[str, Any]) -> ModelSource:
    """The builder function for ``tool_name``'s input model; raises SchemaError."""
    builder = _Builder(tool_name, schema)
    source = builder.render()
    return ModelSource(builder.function_name, source, frozenset(builder.imports))


class _Builder(TypeEmitter):
    """Walks one input schema, collecting model classes and run-time checks."""

    def __init__(self, tool_name: str, schema: dict[str, Any]) -> None:
        super().__init__()
        if not isinstance(schema, dict):
            raise SchemaError(f"{tool_name}: the input schema must be an object schema")
        self.tool = tool_name
        self.function_name = "_build_" + re.sub(r"\W", "_", tool_name, flags=re.ASCII)
        self.names = ClassNames()
        self.classes: list[ModelClass] = []
        self.checks: dict[str, str] = {}  # schema_check argument source → variable
        self.check_defs: set[str] = set()
        self.def_members: dict[str, Members] = {}
        self.pending: set[str] = set()  # definitions being translated (recursion)
        self.forward = False
        root, self.defs, document = normalize_refs(schema)
        self.stripped: dict[str, Schema] | None = None
        self.top = self.names.allocate(pascal_case(tool_name) + "Input")
        try:
            if document:
                self.document_class(schema)
            else:
                self.root_class(root)
        except RecursionError:
            raise SchemaError(f"{tool_name}: the input schema nests too deeply") from None

    def render(self) -> str:
        defs = None
        if self.check_defs:
            needed = {k: v for k, v in self.stripped_defs().items() if k in self.check_defs}
            defs = py_literal(needed)
        parts = BuilderParts(
            self.function_name, self.top, self.classes, self.checks, defs, self.forward
        )
        return render_builder(self, parts)

    # -- run-time checks -----------------------------------------------------------------

    def stripped_defs(self) -> dict[str, Schema]:
        if self.stripped is None:
            self.stripped = {k: strip_annotations(v) for k, v in self.defs.items()}
        return self.stripped

    def check(self, schema: Schema) -> str:
        """The variable holding a compiled jsonschema check of ``schema``."""
        compact = strip_annotations(schema)
        needed = referenced_defs(compact, self.stripped_defs()) if self.defs else []
        if needed and isinstance(compact, dict):
            self.check_defs.update(needed)
            argument = "{'$defs': _defs, " + py_literal(compact)[1:]
        else:
            argument = py_literal(compact)
        name = self.checks.get(argument)
        if name is None:
            name = self.checks[argument] = f"_c{len(self.checks) + 1}"
        return name

    def with_check(self, members: Members, residual: Schema) -> Members:
        if residual == {}:
            return members
        return (self.annotated(members, f"{self.use('BeforeValidator')}({self.check(residual)})"),)

    def fallback(self, schema: Schema) -> Members:
        """``Any``, validated entirely by jsonschema."""
        return self.with_check((self.use("Any"),), schema)

    # -- schemas -------------------------------------------------------------------------

    def members(self, node: Schema, hint: str) -> Members:
        """The union members typing ``node``; ``hint`` names classes it needs."""
        if node is True:
            return (self.use("Any"),)
        if not isinstance(node, dict):
            if node is False:
                return self.fallback(False)
            raise SchemaError(f"{self.tool}: {node!r} is not a schema")
        keys = validation_keys(node)
        if not keys:
            return (self.use("Any"),)
        if "unevaluatedProperties" in keys or "unevaluatedItems" in keys:
            return self.fallback(node)  # depends on every sibling keyword together
        if "$ref" in keys:
            base = self.ref(def_name(node["$ref"]) or "")
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return self.with_check(base, rest) if validation_keys(rest) else base
        if "allOf" in keys:
            branches = [b for b in self.branches(node, "allOf") if not is_trivial(b)]
            if keys == {"allOf"} and len(branches) <= 1:
                return self.members(branches[0], hint) if branches else (self.use("Any"),)
            merged = merge_all_of(node, self.defs)
            if merged is not None:
                return self.members(merged, hint)
        residual = self.composition(node)
        if keys - COMPOSITION:
            return self.by_type(node, keys - COMPOSITION, hint, residual)
        return self.composed(residual, hint)

    def branches(self, node: dict[str, Any], key: str) -> list[Schema]:
        value = node[key]
        if not (isinstance(value, list) and value):
            raise SchemaError(f"{self.tool}: {key} must be a non-empty list of schemas")
        return value

    def composition(self, node: dict[str, Any]) -> dict[str, Any]:
        """The composition keywords of ``node`` that constrain anything."""
        out: dict[str, Any] = {}
        if "allOf" in node:
            branches = [b for b in self.branches(node, "allOf") if not is_trivial(b)]
            if branches:
                out["allOf"] = branches
        if "anyOf" in node and not any(is_trivial(b) for b in self.branches(node, "anyOf")):
            out["anyOf"] = node["anyOf"]
        if "oneOf" in node:
            out["oneOf"] = self.branches(node, "oneOf")
        if "not" in node:
            out["not"] = node["not"]
        if "if" in node and ("then" in node or "else" in node):
            out.update({k: node[k] for k in ("if", "then", "else") if k in node})
        return out

    def composed(self, residual: dict[str, Any], hint: str) -> Members:
        """A node of composition keywords only: typed from one, the rest checked."""
        residual = dict(residual)
        if "anyOf" in residual:
            members = self.union(residual.pop("anyOf"), hint)
        elif "oneOf" in residual:
            members = self.union(residual["oneOf"], hint)
            if disjoint(residual["oneOf"], self.defs):
                del residual["oneOf"]
        elif "allOf" in residual:
            branches = residual.pop("allOf")
            typed = [i for i, b in enumerate(branches) if isinstance(b, dict) and TYPED & set(b)]
            pick = typed[0] if typed else 0
            members = self.members(branches[pick], hint)
            if len(branches) > 1:
                residual["allOf"] = branches[:pick] + branches[pick + 1 :]
        else:
            members = (self.use("Any"),)
        return self.with_check(members, residual)

    def union(self, branches: list[Schema], hint: str) -> Members:
        out: list[str] = []
        for branch in branches:
            out.extend(self.members(branch, hint))
        return ("Any",) if "Any" in out else tuple(out)

    def ref(self, name: str) -> Members:
        if name not in self.defs:
            raise SchemaError(f"{self.tool}: unresolved $ref to {name!r}")
        known = self.def_members.get(name)
        if known is not None:
            self.forward = self.forward or name in self.pending
            return known
        if name in self.pending:
            # Recursion that does not pass through a model class: no Python type can
            # name it here, so this occurrence is validated by jsonschema.
            return self.fallback({"$ref": def_ref(name)})
        self.pending.add(name)
        node = self.defs[name]
        if isinstance(node, dict) and "allOf" in node:
            node = merge_all_of(node, self.defs) or node
        types = schema_types(node) if isinstance(node, dict) else None
        if isinstance(node, dict) and types is not None and self.is_class(node, types):
            cls = self.names.allocate(pascal_case(name))
            members: Members = (cls, "None") if "null" in types else (cls,)
            self.def_members[name] = members
            self.object_class(node, cls, self.composition(node))
        else:
            members = self.members(node, pascal_case(name))
            self.def_members[name] = members
        self.pending.discard(name)
        return members

    def is_class(self, node: dict[str, Any], types: list[str]) -> bool:
        """Whether a definition becomes a model class that recursion can refer to."""
        keys = validation_keys(node)
        if keys & {"$ref", "enum", "const", "unevaluatedProperties", "unevaluatedItems"}:
            return False
        if set(types) not in ({"object"}, {"object", "null"}) or not self.class_shaped(node):
            return False
        return "null" not in types or not self.composition(node)

    @staticmethod
    def class_shaped(node: dict[str, Any]) -> bool:
        props = node.get("properties")
        if isinstance(props, dict) and props:
            return True
        return node.get("additionalProperties") is False and not node.get("patternProperties")

    def by_type(
        self, node: dict[str, Any], keys: frozenset[str], hint: str, generic: dict[str, Any]
    ) -> Members:
        """Members per JSON type; ``generic`` (composition) is checked on every member."""
        generic = dict(generic)
        types = schema_types(node)
        if "enum" in keys or "const" in keys:
            values = [node["const"]] if "const" in keys else node["enum"]
            literal = self.literals(values, types) if isinstance(values, list) else None
            if literal is not None:
                # In the node's key order (a set's order changes from run to run).
                rest = {k: v for k, v in node.items() if k in keys and k not in _LITERAL_KEYS}
                if "const" in keys and "enum" in keys:
                    rest["enum"] = node["enum"]
                if not literal:
                    return self.fallback(False)  # no value of an allowed type
                return self.with_check(literal, {**generic, **rest})
            generic.update({k: node[k] for k in ("enum", "const") if k in keys})
        if types is None:
            rest = {k: v for k, v in node.items() if k in keys and k not in ("enum", "const")}
            return self.with_check((self.use("Any"),), {**generic, **rest})
        if "number" in types and "integer" in types:
            types.remove("integer")
        grouped: dict[str, tuple[list[str], dict[str, Any]]] = {}
        out: list[str] = []
        for t in types:
            own: dict[str, Any] = {}
            if t == "object" and self.class_shaped(node):
                # The class checks ``generic`` itself, so recursive uses check it too.
                out.append(self.object_class(node, self.names.allocate(hint), generic))
                continue
            if t == "string":
                member = self.string(node, own)
            elif t == "integer":
                member = self.integer(node, own)
            elif t == "number":
                member = self.number(node, own)
            elif t == "boolean":
                member = self.use("StrictBool")
            elif t == "null":
                member = "None"
            elif t == "array":
                member = self.array(node, hint, own)
            elif t == "object":
                member = self.mapping(node, hint, own)
            else:
                member = self.use("Any")  # not a JSON type: jsonschema cannot check it either
            residual = {**generic, **own}
            grouped.setdefault(py_literal(residual), ([], residual))[0].append(member)
        for group, residual in grouped.values():
            out.extend(self.with_check(tuple(group), residual))
        return tuple(out) if out else self.fallback(False)

    def array(self, node: dict[str, Any], hint: str, own: dict[str, Any]) -> str:
        item: Members = (self.use("Any"),)
        if "prefixItems" in node:
            own["prefixItems"] = node["prefixItems"]
            if "items" in node:
                own["items"] = node["items"]
        elif "items" in node:
            item = self.members(node["items"], hint + "Item")
        if "contains" in node:
            own.update({k: node[k] for k in CONTAINS if k in node})
        if node.get("uniqueItems") not in (None, False):
            own["uniqueItems"] = node["uniqueItems"]
        kwargs = self.lengths(node, own, ("minItems", "maxItems"))
        return self.constrained(f"list[{self.render_members(item)}]", kwargs)

    def object_rules(self, node: dict[str, Any], own: dict[str, Any]) -> None:
        """Object keywords that no Python type expresses go to ``own``."""
        for key in ("propertyNames", "dependentRequired", "dependentSchemas"):
            if key in node:
                own[key] = node[key]
        patterns = node.get("patternProperties")
        if patterns or (patterns is not None and not isinstance(patterns, dict)):
            own["patternProperties"] = patterns
            extra = node.get("additionalProperties", True)
            if not is_trivial(extra):
                # additionalProperties depends on which names are properties.
                own["additionalProperties"] = extra
                props = node.get("properties")
                if isinstance(props, dict) and props:
                    own["properties"] = dict.fromkeys(props, True)

    def mapping(self, node: dict[str, Any], hint: str, own: dict[str, Any]) -> str:
        """An object without named properties: ``dict[str, T]``."""
        self.object_rules(node, own)
        if "required" in node:
            own["required"] = node["required"]
        value: Members = (self.use("Any"),)
        extra = node.get("additionalProperties", True)
        if "patternProperties" not in own and not is_trivial(extra):
            value = self.members(extra, hint + "Value")
        kwargs = self.lengths(node, own, ("minProperties", "maxProperties"))
        return self.constrained(f"dict[str, {self.render_members(value)}]", kwargs)

    def object_class(self, node: dict[str, Any], name: str, generic: dict[str, Any]) -> str:
        """A model class for an object schema; ``generic`` is checked by the class itself."""
        own = dict(generic)
        self.object_rules(node, own)
        own.update({k: node[k] for k in ("minProperties", "maxProperties") if k in node})
        props = node.get("properties")
        props = props if isinstance(props, dict) else {}
        required = node.get("required")
        required = [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
        missing = [r for r in dict.fromkeys(required) if r not in props]
        if missing:
            own["required"] = missing  # names without a property schema
        extra = node.get("additionalProperties", True)
        # Closed objects derive from ToolInput; import only the base actually used.
        closed = extra is False and "patternProperties" not in own
        cls = ModelClass(name, self.use("ToolInput" if closed else "NestedInput"))
        if not closed and "patternProperties" not in own and not is_trivial(extra):
            cls.extra = self.render_members(self.members(extra, name + "Value"))
        wanted = set(required)
        for prop, sub in props.items():
            description = sub.get("description") if isinstance(sub, dict) else None
            cls.fields.append(
                ModelField(
                    prop,
                    self.members(sub, name + pascal_case(prop)),
                    prop in wanted,
                    description if isinstance(description, str) else None,
                )
            )
        if own:
            cls.check = self.check(own)
        self.classes.append(cls)
        return name

    # -- the top level -------------------------------------------------------------------

    def root_class(self, root: dict[str, Any]) -> None:
        node = {k: v for k, v in root.items() if k != "$defs"}
        if "$ref" in node:
            # The root is an object whatever it refers to: merge the target like allOf.
            node = {k: v for k, v in node.items() if k != "$ref"}
            node["allOf"] = [{"$ref": root["$ref"]}, *node.get("allOf", [])]
        if "allOf" in node:
            node = merge_all_of(node, self.defs) or node
        keys = validation_keys(node)
        if keys & WHOLE_ROOT:
            # Keywords that read the object as a whole: the check gets all of the schema.
            residual = {k: node[k] for k in keys}
        else:
            residual = self.composition(node)
            if "type" in node and schema_types(node) != ["object"]:
                residual["type"] = node["type"]  # the model only takes objects
        self.object_class(node, self.top, residual)

    def document_class(self, schema: dict[str, Any]) -> None:
        """Open model validated as a whole by jsonschema (base URIs, dynamic references)."""
        cls = ModelClass(self.top, self.use("NestedInput"))
        cls.check = self.checks[py_literal(schema)] = "_c1"
        self.classes.append(cls)
