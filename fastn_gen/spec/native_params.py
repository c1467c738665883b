"""A native tool's parameters: each one's rules, its JSON Schema, and argument names.

Argument names are the parameter's wire name (snake_cased when it is not an
identifier) unless ``arg`` says otherwise; clashes are reported, not silently renamed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

from fastn_gen.spec import ir
from fastn_gen.spec.errors import pointer
from fastn_gen.spec.inputs import MAX_DESCRIPTION, assign_args
from fastn_gen.spec.model import IDENTIFIER, ApiKeyAuth, AuthSpec, Issues, Loc, ParameterSpec, show
from fastn_gen.spec.naming import snake_case
from fastn_gen.spec.native_schema import check_schema, matches_type, types_of

SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean"})
# Headers the gateway owns: a tool argument must never set the credential or framing.
RESERVED_HEADERS = frozenset(
    {"authorization", "cookie", "host", "content-type", "content-length", "transfer-encoding"}
)
HEADER_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
PATH_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# Which types each shorthand keyword applies to.
KEYWORD_TYPES: dict[str, frozenset[str]] = {
    "format": frozenset({"string", "integer", "number"}),
    "minimum": frozenset({"integer", "number"}),
    "maximum": frozenset({"integer", "number"}),
    "minLength": frozenset({"string"}),
    "maxLength": frozenset({"string"}),
    "pattern": frozenset({"string"}),
    "items": frozenset({"array"}),
    "properties": frozenset({"object"}),
}


def default_arg(name: str) -> str | None:
    """The argument name for a wire name: itself if an identifier, else snake_case."""
    if IDENTIFIER.fullmatch(name):
        return name
    arg = snake_case(name)
    return arg if IDENTIFIER.fullmatch(arg) else None


def _param_schema(p: ParameterSpec) -> dict[str, Any]:
    if p.json_schema is not None:
        return copy.deepcopy(p.json_schema)
    schema: dict[str, Any] = {"type": p.type or "string"}
    if p.format is not None:
        schema["format"] = p.format
    if p.enum is not None:
        schema["enum"] = list(p.enum)
    if "default" in p.model_fields_set:
        schema["default"] = p.default
    for key, value in (
        ("minimum", p.minimum),
        ("maximum", p.maximum),
        ("minLength", p.min_length),
        ("maxLength", p.max_length),
        ("pattern", p.pattern),
    ):
        if value is not None:
            schema[key] = value
    if p.items is not None:
        schema["items"] = copy.deepcopy(p.items)
    if p.properties is not None:
        schema["properties"] = copy.deepcopy(p.properties)
    return schema


def _check_shorthand(p: ParameterSpec, loc: Loc, issues: Issues) -> None:
    json_type = p.type or "string"
    given = p.shorthand_given()
    for key in given:
        allowed = KEYWORD_TYPES.get(key)
        if allowed is not None and json_type not in allowed:
            issues.add(
                (*loc, key),
                f"'{key}' applies to {' and '.join(sorted(allowed))} parameters, not {json_type}",
            )
    if p.minimum is not None and p.maximum is not None and p.minimum > p.maximum:
        issues.add((*loc, "maximum"), f"maximum {p.maximum} is below minimum {p.minimum}")
    if p.min_length is not None and p.max_length is not None and p.min_length > p.max_length:
        issues.add(
            (*loc, "maxLength"), f"maxLength {p.max_length} is below minLength {p.min_length}"
        )
    if p.enum is not None:
        seen: list[Any] = []
        for i, value in enumerate(p.enum):
            if not matches_type(value, json_type):
                issues.add((*loc, "enum", i), f"{show(value)} is not of type {json_type}")
            elif value in seen:
                issues.add((*loc, "enum", i), f"{show(value)} is listed twice")
            seen.append(value)
    if "default" in given:
        if not matches_type(p.default, json_type):
            issues.add((*loc, "default"), f"{show(p.default)} is not of type {json_type}")
        elif p.enum is not None and p.default not in p.enum:
            issues.add((*loc, "default"), f"{show(p.default)} is not one of the enum values")
    if p.items is not None:
        check_schema(p.items, (*loc, "items"), issues, None)
    for name, sub in (p.properties or {}).items():
        check_schema(sub, (*loc, "properties", name), issues, None)


def check_parameter(
    p: ParameterSpec, loc: Loc, method: str, auth: AuthSpec | None, issues: Issues
) -> None:
    shorthand = p.shorthand_given()
    if p.json_schema is not None:
        if shorthand:
            issues.add(
                (*loc, "schema"),
                "use either schema or the shorthand typing fields, not both "
                f"(also given: {', '.join(shorthand)})",
            )
        check_schema(p.json_schema, (*loc, "schema"), issues, None)
        types = types_of(p.json_schema)
        type_loc: Loc = (*loc, "schema")
    else:
        _check_shorthand(p, loc, issues)
        types = {p.type or "string"}
        type_loc = (*loc, "type")
    if p.arg is None and default_arg(p.name) is None:
        issues.add((*loc, "name"), f"cannot derive an argument name from {p.name!r}; set arg")
    if p.description is not None and len(p.description) > MAX_DESCRIPTION:
        issues.add((*loc, "description"), f"longer than {MAX_DESCRIPTION} characters")

    where = p.location
    if where == "path":
        if p.required is False:
            issues.add((*loc, "required"), "path parameters are always required")
        if not PATH_PARAM_NAME.fullmatch(p.name):
            issues.add(
                (*loc, "name"),
                "a path parameter name must be letters, digits, '_', '.' or '-', "
                "not starting with a digit",
            )
    if where in ("path", "header") and types - SCALAR_TYPES:
        issues.add(type_loc, f"{where} parameters must be string, integer, number or boolean")
    if where == "header":
        if not HEADER_TOKEN.fullmatch(p.name):
            issues.add((*loc, "name"), f"{p.name!r} is not a valid HTTP header name")
        elif p.name.lower() in RESERVED_HEADERS:
            issues.add((*loc, "name"), f"the gateway sets the {p.name} header itself")
    if isinstance(auth, ApiKeyAuth) and auth.location == where:
        same = p.name.lower() == auth.name.lower() if where == "header" else p.name == auth.name
        if same:
            issues.add((*loc, "name"), f"{p.name!r} carries the credential (auth.name)")
    if where == "body" and method in ("GET", "HEAD", "OPTIONS"):
        issues.add((*loc, "in"), f"{method} requests have no body; use in: query")
    if p.style is not None or p.explode is not None:
        key = "style" if p.style is not None else "explode"
        if where != "query":
            issues.add((*loc, key), "style and explode apply to query parameters only")
        elif p.style in ("spaceDelimited", "pipeDelimited") and "array" not in types:
            issues.add((*loc, "style"), f"style {p.style} applies to array parameters")
        elif p.style == "deepObject" and "object" not in types:
            issues.add((*loc, "style"), "style deepObject applies to object parameters")
        elif p.explode is not None and types and not types & {"array", "object"}:
            issues.add((*loc, "explode"), "explode applies to array and object parameters")


def check_args(
    params: Sequence[tuple[int, ParameterSpec]], duplicates: set[int], loc: Loc, issues: Issues
) -> None:
    """Explicit ``arg`` names must be unique; derived ones get ``__{location}`` suffixes.

    Any other change to an argument name would be silent, so it is reported.
    """
    reported = set(duplicates)
    explicit: dict[str, int] = {}
    for j, p in params:
        if p.arg is None:
            continue
        if p.arg in explicit:
            reported.add(j)
            issues.add(
                (*loc, "parameters", j, "arg"),
                f"argument {p.arg!r} is also used by "
                f"{pointer(*loc, 'parameters', explicit[p.arg])}",
            )
        else:
            explicit[p.arg] = j
    for j, p in params:
        derived = default_arg(p.name)
        if p.arg is None and derived in explicit:
            reported.add(explicit[derived])
            issues.add(
                (*loc, "parameters", explicit[derived], "arg"),
                f"argument {derived!r} is also the name of "
                f"{pointer(*loc, 'parameters', j)}; choose another arg",
            )
    for (j, p), param in zip(params, ir_params(params), strict=True):
        intended = p.arg or default_arg(p.name) or p.name
        suffixed = p.arg is None and param.arg == f"{intended}__{p.location}"
        if param.arg != intended and not suffixed and j not in reported:
            issues.add(
                (*loc, "parameters", j, "arg" if p.arg is not None else "name"),
                f"argument {intended!r} collides with a suffixed argument name; set arg",
            )


def ir_params(params: Sequence[tuple[int, ParameterSpec]]) -> list[ir.Param]:
    draft = [
        ir.Param(
            arg=p.arg or default_arg(p.name) or p.name,
            name=p.name,
            location=p.location,
            required=True if p.location == "path" else bool(p.required),
            schema=_param_schema(p),
            description=p.description,
            style=p.style,
            explode=p.explode,
        )
        for _, p in params
    ]
    return assign_args(draft)
