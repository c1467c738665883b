"""Minimal valid arguments for a tool, from its input schema alone.

Only the required fields of the tool's input are filled. Each value is the first
candidate that validates against its own schema: ``const``, the first ``enum`` member,
the schema's ``examples`` and ``default``, a value for its ``format``, a string made
from its ``pattern``, then a plain value of its type within its bounds. Nested objects
get their required properties (or, when none is required, their first property, so
that a required object is not sent empty); arrays get ``minItems`` items, at least one.
The whole result is checked against the tool's input schema (formats included) before
it is used, so a value the generator got wrong is reported as such, never sent.
"""

from __future__ import annotations

import math
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from tests.prism.regex_sample import sample

MAX_DEPTH = 12

FORMATS: dict[str, Any] = {
    "date-time": "2024-01-02T03:04:05Z",
    "date": "2024-01-02",
    "time": "03:04:05Z",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "uri": "https://example.com/a",
    "url": "https://example.com/a",
    "uri-reference": "https://example.com/a",
    "iri": "https://example.com/a",
    "uri-template": "https://example.com/{id}",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "byte": "aGVsbG8=",
    "binary": "hello",
    "password": "example-password",
    "phone-number": "+15005550006",
    "duration": "P1D",
    "regex": "^a$",
    "json-pointer": "/a",
}
FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER


class NoArguments(Exception):
    """No schema-valid value could be made; the message says for which field."""


def _strings_first(alternatives: Any) -> list[Any]:
    """On the wire (path, query, form) every value is text, and a digit string also
    matches an integer alternative, failing ``oneOf: [integer, string]`` (GitHub's
    ``pages_deployment_id``): try plain strings first, then the rest in order."""
    parts = list(alternatives)
    strings = [p for p in parts if isinstance(p, dict) and p.get("type") == "string"]
    return strings + [p for p in parts if p not in strings]


class ArgumentMaker:
    def __init__(self, input_schema: dict[str, Any], *, every: bool = False) -> None:
        self.every = every  # fill every top-level argument, not only the required ones
        self.root = input_schema
        self.defs: dict[str, Any] = input_schema.get("$defs", {})
        self._validator = Draft202012Validator(input_schema, format_checker=FORMAT_CHECKER)

    def make(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        props = self.root.get("properties", {})
        required = self.root.get("required", [])
        for name in required:
            args[name] = self.value(props.get(name, {}), name, 0)
        if self.every:
            for name, prop in props.items():
                if name not in args:
                    try:
                        args[name] = self.value(prop, name, 0)
                    except NoArguments:
                        continue
        errors = sorted(self._validator.iter_errors(args), key=lambda e: list(e.path))
        if errors:
            raise NoArguments(f"generated arguments are invalid: {errors[0].message}")
        return args

    # -- one value ---------------------------------------------------------------------

    def _valid(self, schema: Any, value: Any) -> bool:
        wrapped = {"$defs": self.defs, **schema} if isinstance(schema, dict) else schema
        try:
            validator = Draft202012Validator(wrapped, format_checker=FORMAT_CHECKER)
            return bool(validator.is_valid(value))
        except jsonschema.exceptions.SchemaError:
            return False

    def _resolve(self, schema: Any) -> Any:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < MAX_DEPTH:
            name = schema["$ref"].removeprefix("#/$defs/")
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**self.defs.get(name, {}), **rest}
            seen += 1
        return schema

    def value(self, schema: Any, where: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise NoArguments(f"{where}: schema nests too deeply")
        schema = self._resolve(schema)
        if schema is True or schema == {}:
            return "example"
        if not isinstance(schema, dict):
            raise NoArguments(f"{where}: unusable schema")
        for candidate in self._candidates(schema, where, depth):
            if self._valid(schema, candidate):
                return candidate
        raise NoArguments(f"{where}: no valid value for {str(schema)[:200]}")

    def _candidates(self, schema: dict[str, Any], where: str, depth: int) -> list[Any]:
        out: list[Any] = []
        if "const" in schema:
            out.append(schema["const"])
        out.extend((schema.get("enum") or [])[:3])
        if schema.get("format") in FORMATS:
            # Before the examples: the format checker lacks some formats (uri), and
            # vendors' examples do not always match their formats.
            out.append(FORMATS[schema["format"]])
        out.extend((schema.get("examples") or [])[:3])
        if "default" in schema:
            out.append(schema["default"])
        for key in ("allOf", "anyOf", "oneOf"):
            for part in _strings_first(schema.get(key, ())):
                merged = {k: v for k, v in schema.items() if k not in ("allOf", "anyOf", "oneOf")}
                merged = self._merge(merged, self._resolve(part))
                try:
                    out.append(self.value(merged, where, depth + 1))
                except NoArguments:
                    continue
        for kind in self._types(schema):
            try:
                out.append(self._typed(kind, schema, where, depth))
            except NoArguments:
                continue
        return out

    def _merge(self, a: dict[str, Any], b: Any) -> dict[str, Any]:
        if not isinstance(b, dict):
            return a
        merged = {**a, **b}
        if "properties" in a or "properties" in b:
            merged["properties"] = {**a.get("properties", {}), **b.get("properties", {})}
        if "required" in a or "required" in b:
            merged["required"] = list(
                dict.fromkeys([*a.get("required", []), *b.get("required", [])])
            )
        return merged

    @staticmethod
    def _types(schema: dict[str, Any]) -> list[str]:
        declared = schema.get("type")
        if isinstance(declared, str):
            return [declared]
        if isinstance(declared, list):
            return [t for t in declared if t != "null"] + (["null"] if "null" in declared else [])
        if "properties" in schema or "required" in schema:
            return ["object"]
        if "items" in schema:
            return ["array"]
        if any(k in schema for k in ("allOf", "anyOf", "oneOf")):
            return []
        return ["string", "object"]

    def _typed(self, kind: str, schema: dict[str, Any], where: str, depth: int) -> Any:
        if kind == "string":
            return self._string(schema)
        if kind in ("integer", "number"):
            return self._number(schema, integer=kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        if kind == "array":
            return self._array(schema, where, depth)
        if kind == "object":
            return self._object(schema, where, depth)
        raise NoArguments(f"{where}: unknown type {kind!r}")

    @staticmethod
    def _string(schema: dict[str, Any]) -> str:
        text = "example"
        if schema.get("format") in FORMATS and isinstance(FORMATS[schema["format"]], str):
            text = FORMATS[schema["format"]]
        if "pattern" in schema:
            text = sample(schema["pattern"]) or text
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if len(text) < low:
            text += text[-1:] * (low - len(text)) if text else "a" * low
        if high is not None and len(text) > high:
            text = text[:high]
        return text

    @staticmethod
    def _number(schema: dict[str, Any], *, integer: bool) -> int | float:
        low: float = 1
        if "minimum" in schema:
            low = schema["minimum"]
        if "exclusiveMinimum" in schema:
            low = schema["exclusiveMinimum"] + (1 if integer else 0.5)
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if high is not None and low > high and "minimum" not in schema:
            low = high - (1 if "exclusiveMaximum" in schema else 0)
        step = schema.get("multipleOf")
        if step:
            low = math.ceil(low / step) * step
        return int(math.ceil(low)) if integer else low

    def _array(self, schema: dict[str, Any], where: str, depth: int) -> list[Any]:
        count = max(schema.get("minItems", 0), 1)
        if schema.get("maxItems") == 0:
            return []
        prefix = schema.get("prefixItems", [])
        items: list[Any] = []
        for i in range(count):
            sub = prefix[i] if i < len(prefix) else schema.get("items", {})
            items.append(self.value(sub, f"{where}[{i}]", depth + 1))
        if schema.get("uniqueItems") and len(items) > 1:
            raise NoArguments(f"{where}: cannot make {count} distinct items")
        return items

    def _object(self, schema: dict[str, Any], where: str, depth: int) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties", {})
        required = list(schema.get("required", []))
        if required:
            return {
                name: self.value(props.get(name, {}), f"{where}.{name}", depth + 1)
                for name in required
            }
        for name, prop in props.items():
            try:
                return {name: self.value(prop, f"{where}.{name}", depth + 1)}
            except NoArguments:
                continue
        return {}


def minimal_arguments(input_schema: dict[str, Any]) -> dict[str, Any]:
    """Required arguments only; NoArguments when no schema-valid set could be made."""
    return ArgumentMaker(input_schema).make()


def every_argument(input_schema: dict[str, Any]) -> dict[str, Any]:
    """Every argument the generator can fill (optional ones too): exercises the
    serialisation of arrays, objects and booleans in every location."""
    return ArgumentMaker(input_schema, every=True).make()
