"""Local ``$ref`` resolution and the names schemas get in a tool's ``$defs``.

Only references inside the same document (``#/...``) are followed; a reference to
another file or URL cannot be resolved at build time and makes the operation that
needs it a skip. Every referenced schema location gets one name for the whole
document, so the same component is ``#/$defs/<Name>`` in every tool that uses it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from fastn_gen.spec.errors import escape_pointer_token


class RefProblem(Exception):
    """Something an operation needs cannot be resolved or used; the operation is skipped."""

    def __init__(self, message: str, pointer: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer


def unescape_token(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def ref_pointer(ref: Any, at: str) -> str:
    """The JSON pointer a local ``$ref`` names; RefProblem for anything else."""
    if not isinstance(ref, str):
        raise RefProblem(f"$ref must be a string, not {type(ref).__name__}", at)
    if not ref.startswith("#"):
        raise RefProblem(f"external reference {ref!r} is not supported", at)
    fragment = unquote(ref[1:])
    if fragment and not fragment.startswith("/"):
        raise RefProblem(f"reference {ref!r} is not a JSON pointer", at)
    return fragment


class Resolver:
    """JSON pointer lookups in one document, memoised."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._cache: dict[str, Any] = {}

    def get(self, ptr: str, at: str = "") -> Any:
        try:
            return self._cache[ptr]
        except KeyError:
            pass
        node: Any = self.document
        for raw in ptr.split("/")[1:]:
            token = unescape_token(raw)
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise RefProblem(f"reference #{ptr} does not resolve", at)
        self._cache[ptr] = node
        return node

    def deref(self, node: Any, ptr: str) -> tuple[Any, str]:
        """Follow a chain of ``$ref`` objects to the node they name, and its pointer.

        Used for parameters, request bodies, responses and path items, which are
        inlined; a cycle among such references is a RefProblem.
        """
        seen: set[str] = set()
        while isinstance(node, dict) and "$ref" in node:
            target = ref_pointer(node["$ref"], ptr)
            if target in seen:
                raise RefProblem(f"reference cycle through #{target}", ptr)
            seen.add(target)
            node, ptr = self.get(target, ptr), target
        return node, ptr


_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


def safe_name(text: str) -> str:
    """A ``$defs`` key that needs no escaping and reads as an identifier."""
    name = _UNSAFE.sub("_", text).strip("_")
    if not name or name[0].isdigit():
        name = "Schema_" + name
    return name


class DefNames:
    """One ``$defs`` name per referenced schema location, stable across tools.

    Component schemas are named up front, in sorted order, so their names do not depend
    on which operations are built; ``issuing.card`` becomes ``issuing_card``, and a
    clash after sanitising gets a numeric suffix. Other locations (a schema inside a
    path, as PagerDuty references) are named from their pointer when first seen.
    """

    def __init__(self, components_pointer: str, component_keys: Iterable[str]) -> None:
        self._prefix = components_pointer + "/"
        self._by_pointer: dict[str, str] = {}
        self._by_name: dict[str, str] = {}
        for key in sorted(component_keys):
            self._add(self._prefix + escape_pointer_token(key), safe_name(key))

    def _add(self, ptr: str, wanted: str) -> str:
        name, n = wanted, 2
        while name in self._by_name:
            name = f"{wanted}_{n}"
            n += 1
        self._by_pointer[ptr] = name
        self._by_name[name] = ptr
        return name

    def name(self, ptr: str) -> str:
        found = self._by_pointer.get(ptr)
        if found is not None:
            return found
        tokens = [unescape_token(t) for t in ptr.split("/")[1:]]
        if ptr.startswith(self._prefix):
            tokens = tokens[len(self._prefix.split("/")) - 2 :]
        wanted = safe_name("_".join(tokens))
        if len(wanted) > 80:
            digest = hashlib.sha256(ptr.encode()).hexdigest()[:8]
            wanted = wanted[:60].rstrip("_") + "_" + digest
        return self._add(ptr, wanted)

    def pointer(self, name: str) -> str:
        return self._by_name[name]
