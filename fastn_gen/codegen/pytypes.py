"""Python type expressions for JSON Schema scalars and constants, and their imports.

Every expression is strict about JSON types (see ``pymodels`` for the rules); the
emitter records which names it used so the generated module imports exactly those.
"""

from __future__ import annotations

import math
from typing import Any

from fastn_gen.codegen.schemaprep import compiles

IMPORT_LINES = {
    "Annotated": "from typing import Annotated",
    "Any": "from typing import Any",
    "Literal": "from typing import Literal",
    "BeforeValidator": "from pydantic import BeforeValidator",
    "ConfigDict": "from pydantic import ConfigDict",
    "Field": "from pydantic import Field",
    "StrictBool": "from pydantic import StrictBool",
    "StrictFloat": "from pydantic import StrictFloat",
    "StrictInt": "from pydantic import StrictInt",
    "StrictStr": "from pydantic import StrictStr",
    "model_validator": "from pydantic import model_validator",
    "re": "import re",
    "NestedInput": "from fastn_gen.runtime.operation import NestedInput",
    "ToolInput": "from fastn_gen.runtime.operation import ToolInput",
    "json_boolean": "from fastn_gen.runtime.operation import json_boolean",
    "json_integer": "from fastn_gen.runtime.operation import json_integer",
    "schema_check": "from fastn_gen.runtime.operation import schema_check",
}

Members = tuple[str, ...]  # the members of a union, each a complete type expression


def int_like(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer()
    )


def finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class TypeEmitter:
    """Builds type expressions as source text and collects the imports they need."""

    def __init__(self) -> None:
        self.imports: set[str] = set()

    def use(self, name: str) -> str:
        self.imports.add(IMPORT_LINES[name])
        return name

    def render_members(self, members: Members) -> str:
        if "Any" in members:
            return self.use("Any")
        unique = list(dict.fromkeys(members))
        if "None" in unique and len(unique) > 1:
            unique.remove("None")
            unique.append("None")
        return " | ".join(unique)

    def annotated(self, members: Members, *metadata: str) -> str:
        return f"{self.use('Annotated')}[{self.render_members(members)}, {', '.join(metadata)}]"

    def field(self, kwargs: dict[str, str]) -> str:
        return f"{self.use('Field')}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"

    def constrained(self, base: str, kwargs: dict[str, str]) -> str:
        return self.annotated((base,), self.field(kwargs)) if kwargs else base

    def validator(self, function: str) -> str:
        return f"{self.use('BeforeValidator')}({self.use(function)})"

    def literals(self, values: list[Any], types: list[str] | None) -> Members | None:
        """``enum``/``const`` as Literal members (``()`` if no value has an allowed type).

        None when a value has no Literal form (non-integral floats, arrays, objects).
        Pydantic matches ``Literal[1]`` with ``True`` and ``Literal[True]`` with ``1``;
        the before-validators restore JSON's distinction.
        """
        allowed = None if types is None else set(types)
        strings: list[str] = []
        ints: list[int] = []
        bools: list[bool] = []
        null = False
        for value in values:
            if isinstance(value, float):
                if not value.is_integer():
                    return None
                value = int(value)
            if isinstance(value, list | dict):
                return None
            if value is None:
                kind = "null"
            elif isinstance(value, bool):
                kind = "boolean"
            elif isinstance(value, int):
                kind = "integer"
            else:
                kind = "string"
            if allowed is not None and kind not in allowed:
                if not (kind == "integer" and "number" in allowed):
                    continue
            if value is None:
                null = True
            elif isinstance(value, bool):
                bools.append(value)
            elif isinstance(value, int):
                ints.append(value)
            else:
                strings.append(value)
        out: list[str] = []
        if strings:
            out.append(self.literal(strings))
        if ints:
            out.append(self.annotated((self.literal(ints),), self.validator("json_integer")))
        if bools:
            out.append(self.annotated((self.literal(bools),), self.validator("json_boolean")))
        if null:
            out.append("None")
        return tuple(out)

    def literal(self, values: list[Any]) -> str:
        return f"{self.use('Literal')}[{', '.join(repr(v) for v in dict.fromkeys(values))}]"

    def lengths(
        self, node: dict[str, Any], own: dict[str, Any], keys: tuple[str, str]
    ) -> dict[str, str]:
        """``min_length``/``max_length`` from a pair of JSON Schema length keywords."""
        kwargs: dict[str, str] = {}
        for key, arg in zip(keys, ("min_length", "max_length"), strict=True):
            if key in node:
                if int_like(node[key]) and node[key] >= 0:
                    kwargs[arg] = repr(int(node[key]))
                else:
                    own[key] = node[key]
        return kwargs

    def string(self, node: dict[str, Any], own: dict[str, Any]) -> str:
        kwargs = self.lengths(node, own, ("minLength", "maxLength"))
        pattern = node.get("pattern")
        if compiles(pattern):
            # A compiled pattern makes pydantic use Python's re, as jsonschema does,
            # with the same search (not full-match) semantics.
            kwargs["pattern"] = f"{self.use('re')}.compile({pattern!r})"
        # Otherwise neither Python's re nor jsonschema can evaluate it: ignored.
        return self.constrained(self.use("StrictStr"), kwargs)

    @staticmethod
    def int_bounds(node: dict[str, Any], own: dict[str, Any]) -> dict[str, str]:
        """Bounds for integers as ``ge``/``le``: ``minimum: 1.5`` is ``ge=2``."""
        low: int | None = None
        high: int | None = None
        for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
            if key not in node:
                continue
            bound = node[key]
            if not finite_number(bound):
                own[key] = bound
                continue
            if key == "minimum":
                b = math.ceil(bound)
            elif key == "exclusiveMinimum":
                b = math.floor(bound) + 1
            elif key == "maximum":
                b = math.floor(bound)
            else:
                b = math.ceil(bound) - 1
            if key.endswith("inimum"):
                low = b if low is None else max(low, b)
            else:
                high = b if high is None else min(high, b)
        kwargs: dict[str, str] = {}
        if low is not None:
            kwargs["ge"] = repr(low)
        if high is not None:
            kwargs["le"] = repr(high)
        return kwargs

    def integer(self, node: dict[str, Any], own: dict[str, Any]) -> str:
        kwargs = self.int_bounds(node, own)
        if "multipleOf" in node:
            step = node["multipleOf"]
            if int_like(step) and step > 0:
                kwargs["multiple_of"] = repr(int(step))
            else:
                own["multipleOf"] = step
        # Constraints before the validator so pydantic applies them natively.
        metadata = [self.field(kwargs)] if kwargs else []
        return self.annotated((self.use("StrictInt"),), *metadata, self.validator("json_integer"))

    def number(self, node: dict[str, Any], own: dict[str, Any]) -> str:
        """``StrictInt | StrictFloat``: a number keeps its kind, ``5`` is not sent as ``5.0``."""
        kwargs: dict[str, str] = {}
        for key, arg in (
            ("minimum", "ge"),
            ("exclusiveMinimum", "gt"),
            ("maximum", "le"),
            ("exclusiveMaximum", "lt"),
        ):
            if key in node:
                if finite_number(node[key]):
                    kwargs[arg] = repr(node[key])
                else:
                    own[key] = node[key]
        if "multipleOf" in node:
            own["multipleOf"] = node["multipleOf"]  # float remainders: jsonschema's rule
        if not kwargs:
            return f"{self.use('StrictInt')} | {self.use('StrictFloat')}"
        ints = self.constrained(self.use("StrictInt"), self.int_bounds(node, {}))
        return f"{ints} | {self.constrained(self.use('StrictFloat'), kwargs)}"
