"""A native connector's tools: validate each tool and its parameters, build its IR.

Each tool and each of its parameters is validated on its own, and the path and
parameter rules run even when another field of the tool is wrong, so one mistake
hides no other.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from fastn_gen.spec import ir
from fastn_gen.spec.errors import pointer
from fastn_gen.spec.inputs import MAX_DESCRIPTION, build_input_schema
from fastn_gen.spec.model import (
    AuthSpec,
    ConnectorSpec,
    Issues,
    Loc,
    ParameterSpec,
    ToolSpec,
    show,
    validate,
)
from fastn_gen.spec.naming import tool_name
from fastn_gen.spec.native_params import PATH_PARAM_NAME, check_args, check_parameter, ir_params
from fastn_gen.spec.native_schema import check_schema
from fastn_gen.spec.native_urls import PLACEHOLDER

MEDIA_TYPES: dict[ir.BodyEncoding, str] = {
    "json": "application/json",
    "form": "application/x-www-form-urlencoded",
    "multipart": "multipart/form-data",
}


@dataclass
class ToolParts:
    """A tool whose own fields validated, with the parameters that validated."""

    spec: ToolSpec
    params: list[tuple[int, ParameterSpec]]


# (name, in) of a parameter that failed validation, when readable; None if not.
Broken = list[tuple[str, str] | None]


def validate_tools(
    raw_tools: list[Any], auth: AuthSpec | None, issues: Issues
) -> list[tuple[int, ToolParts] | None]:
    """Validate each tool and each of its parameters on their own."""
    out: list[tuple[int, ToolParts] | None] = []
    for i, raw in enumerate(raw_tools):
        loc: Loc = ("tools", i)
        raw_params = raw.get("parameters") if isinstance(raw, dict) else None
        if isinstance(raw_params, list):
            spec = validate(ToolSpec, {**raw, "parameters": []}, loc, issues)
            params: list[tuple[int, ParameterSpec]] = []
            broken: list[tuple[str, str] | None] = []
            for j, raw_p in enumerate(raw_params):
                p = validate(ParameterSpec, raw_p, (*loc, "parameters", j), issues)
                if p is not None:
                    params.append((j, p))
                    continue
                name = raw_p.get("name") if isinstance(raw_p, dict) else None
                where = raw_p.get("in") if isinstance(raw_p, dict) else None
                ok = isinstance(name, str) and isinstance(where, str)
                broken.append((str(name), str(where)) if ok else None)
        else:
            spec = validate(ToolSpec, raw, loc, issues)
            # Parameters that are not a list are unknown, not absent.
            params, broken = [], ([] if raw_params is None else [None])
        check_tool(spec, raw, params, broken, loc, auth, issues)
        out.append((i, ToolParts(spec, params)) if spec is not None else None)
    return out


def _path_placeholders(path: str, loc: Loc, issues: Issues) -> list[str] | None:
    if not path.startswith("/") or path.startswith("//"):
        issues.add(loc, "must start with a single '/' (it is appended to base_url)")
        return None
    if "?" in path or "#" in path:
        issues.add(loc, "must not contain '?' or '#'; declare query parameters with in: query")
        return None
    rest = PLACEHOLDER.sub("", path)
    if "{" in rest or "}" in rest:
        issues.add(loc, "unbalanced '{' or '}'")
        return None
    if any(seg in (".", "..") for seg in path.split("/")):
        issues.add(loc, "must not contain '.' or '..' segments")
        return None
    names = PLACEHOLDER.findall(path)
    ok = True
    for name in dict.fromkeys(names):
        if not PATH_PARAM_NAME.fullmatch(name):
            issues.add(loc, f"placeholder {{{name}}} is not a valid parameter name")
            ok = False
        elif names.count(name) > 1:
            issues.add(loc, f"placeholder {{{name}}} appears more than once")
            ok = False
    return names if ok else None


def _raw_str(raw: Any, key: str) -> str | None:
    value = raw.get(key) if isinstance(raw, dict) else None
    return value if isinstance(value, str) and value else None


def check_tool(
    spec: ToolSpec | None,
    raw: Any,
    params: list[tuple[int, ParameterSpec]],
    broken: Broken,
    loc: Loc,
    auth: AuthSpec | None,
    issues: Issues,
) -> None:
    """Tool rules. Parameter and path rules run even when another field of the tool is
    wrong (``spec`` is None), reading method and path raw, so one mistake hides no other."""
    method: str = spec.method if spec else (_raw_str(raw, "method") or "").upper()
    path = spec.path if spec else _raw_str(raw, "path")
    for j, p in params:
        check_parameter(p, (*loc, "parameters", j), method, auth, issues)
    # Duplicates: the same wire name twice in one location (headers are case-insensitive).
    first: dict[tuple[str, str], int] = {}
    duplicates: set[int] = set()
    for j, p in params:
        key = (p.location, p.name.lower() if p.location == "header" else p.name)
        if key in first:
            duplicates.add(j)
            issues.add(
                (*loc, "parameters", j, "name"),
                f"duplicate {p.location} parameter {p.name!r} "
                f"(also {pointer(*loc, 'parameters', first[key])})",
            )
        else:
            first[key] = j
    check_args(params, duplicates, loc, issues)
    # Path placeholders and path parameters must match exactly, both ways.
    placeholders = _path_placeholders(path, (*loc, "path"), issues) if path else None
    path_params = {p.name: j for j, p in params if p.location == "path"}
    if placeholders is not None and None not in broken:
        broken_path = {b[0] for b in broken if b is not None and b[1] == "path"}
        for name in placeholders:
            if name not in path_params and name not in broken_path:
                issues.add(
                    (*loc, "path"),
                    f"placeholder {{{name}}} has no parameter with in: path and name: {name}",
                )
        for name, j in path_params.items():
            if name not in placeholders:
                issues.add(
                    (*loc, "parameters", j, "name"),
                    f"path parameter {name!r} does not appear in the path {path}",
                )
    if spec is not None:
        _check_tool_fields(spec, params, broken, loc, issues)


def _check_tool_fields(
    spec: ToolSpec,
    params: list[tuple[int, ParameterSpec]],
    broken: Broken,
    loc: Loc,
    issues: Issues,
) -> None:
    if len(spec.description) > MAX_DESCRIPTION:
        issues.add((*loc, "description"), f"longer than {MAX_DESCRIPTION} characters")
    has_body = any(p.location == "body" for _, p in params)
    # A broken parameter might be the body one: then say nothing.
    if "body_encoding" in spec.model_fields_set and not has_body and not broken:
        issues.add((*loc, "body_encoding"), "set, but the tool has no in: body parameters")
    resolved = resolved_annotations(spec)
    if resolved.read_only and resolved.destructive:
        given = spec.annotations.destructive is not None
        said = "" if given else f" (derived from {spec.method})"
        issues.add(
            (*loc, "annotations"),
            f"read_only: true contradicts destructive: true{said}; a read-only tool "
            "cannot be destructive",
        )
    if spec.output_schema is not None:
        defs = spec.output_schema.get("$defs")
        refs = set(defs) if isinstance(defs, dict) else set()
        if defs is not None and not isinstance(defs, dict):
            issues.add((*loc, "output_schema", "$defs"), f"expected a mapping, got {show(defs)}")
        check_schema(spec.output_schema, (*loc, "output_schema"), issues, refs)
        for name, sub in defs.items() if isinstance(defs, dict) else []:
            check_schema(sub, (*loc, "output_schema", "$defs", name), issues, refs)


def is_wrapped(schema: dict[str, Any] | None) -> bool:
    return schema is not None and schema.get("type") != "object"


def _output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """MCP output schemas are objects: anything else is wrapped as ``{"result": ...}``."""
    if not is_wrapped(schema):
        return copy.deepcopy(schema)
    inner = copy.deepcopy(schema)
    defs = inner.pop("$defs", None)
    wrapped: dict[str, Any] = {
        "type": "object",
        "properties": {"result": inner},
        "required": ["result"],
    }
    if defs:
        wrapped["$defs"] = defs  # refs are ``#/$defs/...`` from the document root
    return wrapped


def resolved_annotations(spec: ToolSpec) -> ir.Annotations:
    derived = ir.Annotations.from_method(spec.method)
    a = spec.annotations
    return ir.Annotations(
        read_only=derived.read_only if a.read_only is None else a.read_only,
        destructive=derived.destructive if a.destructive is None else a.destructive,
        idempotent=derived.idempotent if a.idempotent is None else a.idempotent,
        open_world=derived.open_world if a.open_world is None else a.open_world,
    )


def build_tool(connector: ConnectorSpec, index: int, t: ToolParts) -> ir.Tool:
    spec = t.spec
    params = ir_params(t.params)
    body_params = [p for p in params if p.location == "body"]
    body = (
        ir.Body(
            encoding=spec.body_encoding,
            media_type=MEDIA_TYPES[spec.body_encoding],
            required=any(p.required for p in body_params),
        )
        if body_params
        else None
    )
    return ir.Tool(
        name=final_name(connector.name, spec),
        connector=connector.name,
        operation_id=spec.name,
        description=spec.description.strip(),
        method=spec.method,
        path=spec.path,
        params=tuple(params),
        body=body,
        input_schema=build_input_schema(params),
        output_schema=None if spec.output_schema is None else _output_schema(spec.output_schema),
        annotations=resolved_annotations(spec),
        title=spec.title,
        tags=tuple(spec.tags),
        requires_auth=connector.auth.type != "none",
        pointer=pointer("tools", index),
    )


def final_name(connector: str, spec: ToolSpec) -> str:
    return spec.tool_name or tool_name(connector, spec.name)
