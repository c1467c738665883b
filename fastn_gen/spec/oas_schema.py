"""OpenAPI / Swagger schema objects to self-contained JSON Schema 2020-12.

A reference to a schema becomes ``{"$ref": "#/$defs/<Name>"}``; each referenced schema
is converted once per document and cached, and a tool's ``$defs`` holds exactly the
schemas its own schemas reach (``collect_defs``; output schemas within a size budget,
``bounded``). Recursive schemas therefore stay references and are never expanded.
Converted schemas are shared between tools and must be treated as read-only.

Dialect repairs, all seen in published vendor documents:

- 3.0 ``nullable: true`` → ``type: [T, "null"]`` (and ``null`` added to an ``enum``),
  or ``anyOf: [schema, {"type": "null"}]`` when there is no ``type``;
- boolean ``exclusiveMinimum``/``exclusiveMaximum`` (2.0/3.0, and OpenAI's 3.1) →
  the numeric 2020-12 form;
- tuple ``items: [A, B]`` (Slack's Swagger 2.0 spelling of a union) → ``anyOf``: of the
  array's items when ``type`` is ``array``, otherwise of the value itself;
- Swagger ``type: file`` → ``{"type": "string", "format": "binary"}``;
- ``example`` → ``examples: [example]`` (input schemas only: examples help a model fill
  arguments, while in output schemas they only add bulk);
- keywords that are not JSON Schema 2020-12 (``discriminator``, ``xml``,
  ``externalDocs``, ``x-*`` extensions, ``$id``/``$schema``/``$anchor``, nested
  ``$defs``) are dropped, and mistyped values (``required: true`` on a property,
  a pattern Python cannot compile, duplicate ``required`` names) are dropped or fixed,
  so every result passes the 2020-12 meta-schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fastn_gen.spec.errors import escape_pointer_token
from fastn_gen.spec.ir import JSONSchema
from fastn_gen.spec.oas_keywords import (
    DEFS_PREFIX,
    HANDLERS,
    nullable,
    refs_in,
    repair,
    without_refs,
)
from fastn_gen.spec.refs import DefNames, RefProblem, Resolver, ref_pointer

__all__ = ["DEFS_PREFIX", "SchemaConverter"]

MAX_DEPTH = 64  # inline nesting; deeper means a malformed (or YAML-aliased) cycle


class SchemaConverter:
    """Converts schema nodes of one document; caches every referenced schema."""

    def __init__(self, resolver: Resolver, names: DefNames, *, keep_examples: bool) -> None:
        self._resolver = resolver
        self._names = names
        self.keep_examples = keep_examples
        # pointer -> converted schema, or the problem that stops its conversion
        self._defs: dict[str, JSONSchema] = {}
        self._problems: dict[str, RefProblem] = {}
        self._deps: dict[str, tuple[str, ...]] = {}
        self._sizes: dict[str, int] = {}
        self._leaves: dict[str, Any] = {}

    # -- public API --------------------------------------------------------------

    def convert(self, node: Any, ptr: str) -> JSONSchema:
        """Convert an inline schema; references into ``$defs`` are left for collect_defs."""
        return _as_object(self._convert(node, ptr, 0))

    def root(self, node: Any, ptr: str) -> JSONSchema:
        """Like convert, but a schema that is only a reference yields the referenced
        schema itself (a shallow copy), so callers can look at its properties."""
        target = self.follow(node, ptr)
        if target is None:
            return self.convert(node, ptr)
        return dict(self.definition(target))

    def follow(self, node: Any, ptr: str) -> str | None:
        """The pointer a pure-reference schema finally names, or None if not one."""
        target: str | None = None
        seen: set[str] = set()
        while isinstance(node, dict) and "$ref" in node and _pure_ref(node):
            target = ref_pointer(node["$ref"], ptr)
            if target in seen:
                raise RefProblem(f"schema reference cycle through #{target}", ptr)
            seen.add(target)
            node, ptr = self._resolver.get(target, ptr), target
        return target

    def definition(self, ptr: str) -> JSONSchema:
        """The converted schema at a pointer (cached); RefProblem if unusable."""
        if ptr in self._defs:
            return self._defs[ptr]
        problem = self._problems.get(ptr)
        if problem is not None:
            raise problem
        try:
            node = self._resolver.get(ptr, ptr)
            schema = _as_object(self._convert(node, ptr, 0))
        except RefProblem as exc:
            self._problems[ptr] = exc
            raise
        self._defs[ptr] = schema
        return schema

    def def_pointer(self, name: str) -> str:
        return self._names.pointer(name)

    def collect_defs(self, schemas: Iterable[Any]) -> dict[str, JSONSchema]:
        """Every definition the given schemas reach, transitively, by name."""
        pending: list[str] = []
        for schema in schemas:
            refs_in(schema, pending)
        out: dict[str, JSONSchema] = {}
        while pending:
            name = pending.pop()
            if name not in out:
                out[name] = self.definition(self._names.pointer(name))
                pending.extend(d for d in self._deps_of(name) if d not in out)
        return out

    def bounded(self, root: JSONSchema, budget: int) -> tuple[JSONSchema, dict[str, Any]]:
        """The root and its ``$defs``, cut to about ``budget`` bytes of definitions.

        Definitions are taken level by level (breadth first from the root) while they
        fit; the last level taken has its own references replaced by ``{}``, so what is
        left out is described as "anything". That only loosens the schema: a response
        valid under the full schema stays valid. When not even the root's direct
        references fit, the root loses its references instead.
        """
        levels: list[list[str]] = []
        first: list[str] = []
        refs_in(root, first)
        seen: set[str] = set()
        frontier = list(dict.fromkeys(first))
        while frontier:
            levels.append(frontier)
            seen.update(frontier)
            following: dict[str, None] = {}
            for name in frontier:
                for dep in self._deps_of(name):
                    if dep not in seen:
                        following[dep] = None
            frontier = list(following)
        total, keep = 0, len(levels)
        for i, level in enumerate(levels):
            total += sum(self._size_of(n) for n in level)
            if total > budget:
                keep = i
                break
        if keep == len(levels):
            return root, {n: self.definition(self._names.pointer(n)) for n in seen}
        if keep == 0:
            return without_refs(root), {}
        defs: dict[str, Any] = {}
        for i in range(keep):
            for name in levels[i]:
                ptr = self._names.pointer(name)
                defs[name] = self.definition(ptr) if i < keep - 1 else self._leaf_of(ptr)
        return root, defs

    def _deps_of(self, name: str) -> tuple[str, ...]:
        ptr = self._names.pointer(name)
        deps = self._deps.get(ptr)
        if deps is None:
            found: list[str] = []
            refs_in(self.definition(ptr), found)
            deps = self._deps[ptr] = tuple(sorted(set(found)))
        return deps

    def _size_of(self, name: str) -> int:
        ptr = self._names.pointer(name)
        size = self._sizes.get(ptr)
        if size is None:
            size = self._sizes[ptr] = len(json.dumps(self.definition(ptr), default=str))
        return size

    def _leaf_of(self, ptr: str) -> Any:
        leaf = self._leaves.get(ptr)
        if leaf is None:
            leaf = self._leaves[ptr] = without_refs(self.definition(ptr))
        return leaf

    # -- conversion ----------------------------------------------------------------

    def _convert(self, node: Any, ptr: str, depth: int) -> Any:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            raise RefProblem(f"schema must be an object, not {type(node).__name__}", ptr)
        if depth > MAX_DEPTH:
            raise RefProblem("schema nested too deeply", ptr)
        out: dict[str, Any] = {}
        if "$ref" in node:
            target = ref_pointer(node["$ref"], ptr)
            self._resolver.get(target, ptr)  # a dangling reference is this schema's problem
            out["$ref"] = DEFS_PREFIX + self._names.name(target)
        for key, value in node.items():
            handler = HANDLERS.get(key)
            if handler is not None:
                handler(self, out, value, ptr, key, depth + 1)
        repair(node, out)
        if self.keep_examples and "example" in node and "examples" not in out:
            out["examples"] = [node["example"]]
        if node.get("nullable") is True:
            out = nullable(out)
        return out

    def sub(self, value: Any, ptr: str, key: str, depth: int) -> Any:
        return self._convert(value, f"{ptr}/{escape_pointer_token(key)}", depth)


def _pure_ref(node: dict[str, Any]) -> bool:
    """A reference whose siblings are only annotations or extensions."""
    return all(
        k in ("$ref", "description", "summary", "title", "example") or k.startswith("x-")
        for k in node
    )


def _as_object(schema: Any) -> JSONSchema:
    if schema is True:
        return {}
    if schema is False:
        return {"not": {}}
    return schema  # type: ignore[no-any-return]
