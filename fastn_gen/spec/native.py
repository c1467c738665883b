"""The native connector format and OpenAPI wrappers: validate, report, build the IR.

Every problem is reported as a :class:`SpecIssue` with the file and the JSON pointer of
the offending value, and every problem in a file is reported at once: the connector's
own fields, each tool and each parameter are validated separately, so a typo in one
place does not hide a mistake in another.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import urlsplit

from fastn_gen.spec import ir
from fastn_gen.spec.entities import build_entities
from fastn_gen.spec.errors import pointer
from fastn_gen.spec.inputs import MAX_DESCRIPTION, assign_args, build_input_schema
from fastn_gen.spec.model import (
    HTTP_METHODS,
    IDENTIFIER,
    SNAKE_CASE,
    ApiKeyAuth,
    AuthSpec,
    BearerAuth,
    ConnectorSpec,
    Issues,
    Loc,
    OAuth2Auth,
    OpenAPIWrapperSpec,
    ParameterSpec,
    RouteRuleSpec,
    ToolSpec,
    show,
    validate,
)
from fastn_gen.spec.naming import snake_case, tool_name
from fastn_gen.spec.options import OpenAPIOptions, RouteRule, SecurityMapping

MEDIA_TYPES: dict[ir.BodyEncoding, str] = {
    "json": "application/json",
    "form": "application/x-www-form-urlencoded",
    "multipart": "multipart/form-data",
}
SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean"})
JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})
# Headers the gateway owns: a tool argument must never set the credential or framing.
RESERVED_HEADERS = frozenset(
    {"authorization", "cookie", "host", "content-type", "content-length", "transfer-encoding"}
)
HEADER_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
PATH_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
VERSION_LIKE = re.compile(r"\d+(\.\d+)*")
DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json")
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
SUBSCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas")
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SUBSCHEMA_ONE = (
    "items",
    "additionalProperties",
    "not",
    "contains",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
)
MAX_SCHEMA_DEPTH = 64


# --- shared checks -------------------------------------------------------------------


def _url_problem(url: str, *, placeholders_allowed: bool) -> tuple[str | None, list[str]]:
    """What is wrong with an absolute http(s) URL (``None`` if fine), and its placeholders."""
    names = PLACEHOLDER.findall(url)
    rest = PLACEHOLDER.sub("", url)
    if "{" in rest or "}" in rest:
        return "unbalanced '{' or '}'", names
    if names and not placeholders_allowed:
        return "placeholders such as {name} are not supported here", names
    for name in names:
        if not IDENTIFIER.fullmatch(name):
            return f"placeholder {{{name}}} is not an identifier", names
    try:
        parts = urlsplit(PLACEHOLDER.sub("x", url))
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        return f"not a valid URL: {exc}", names
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http:// or https:// URL", names
    if "@" in parts.netloc:
        return "must not carry credentials; they come from each tenant's connection", names
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return "must not have a query string or fragment", names
    return None, names


def _types_of(schema: Any) -> set[str]:
    """The JSON types a schema declares (empty when it does not say)."""
    if not isinstance(schema, dict):
        return set()
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    return set()


def _matches_type(value: Any, json_type: str) -> bool:
    if json_type == "string":
        return isinstance(value, str)
    if json_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if json_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if json_type == "boolean":
        return isinstance(value, bool)
    if json_type == "array":
        return isinstance(value, list)
    if json_type == "object":
        return isinstance(value, dict)
    return value is None


def _check_schema(
    node: Any, loc: Loc, issues: Issues, refs: set[str] | None, depth: int = 0
) -> None:
    """Catch the JSON Schema mistakes that would make a tool's schema invalid or useless.

    ``refs`` is the set of ``$defs`` names a ``$ref`` may point to; ``None`` forbids refs.
    """
    if isinstance(node, bool):
        return
    if not isinstance(node, dict):
        issues.add(loc, f"a JSON Schema must be a mapping (or true/false), got {show(node)}")
        return
    if depth > MAX_SCHEMA_DEPTH:
        issues.add(loc, f"schema is nested more than {MAX_SCHEMA_DEPTH} levels deep")
        return
    if "type" in node:
        t = node["type"]
        types = [t] if isinstance(t, str) else t if isinstance(t, list) else []
        if not types or any(not isinstance(x, str) or x not in JSON_TYPES for x in types):
            issues.add(
                (*loc, "type"),
                f"expected one of {', '.join(sorted(JSON_TYPES))} (or a list of them), "
                f"got {show(t)}",
            )
    if "nullable" in node:
        issues.add(
            (*loc, "nullable"),
            "'nullable' is not JSON Schema; write type: [<type>, 'null'] instead",
        )
    if "$ref" in node:
        ref = node["$ref"]
        if refs is None:
            issues.add((*loc, "$ref"), "$ref is not supported here; write the schema inline")
        elif not (isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in refs):
            issues.add(
                (*loc, "$ref"),
                f"must point to an entry of this schema's $defs (#/$defs/<name>), got {show(ref)}",
            )
    for key in SUBSCHEMA_MAPS:
        if key in node:
            if not isinstance(node[key], dict):
                issues.add((*loc, key), f"expected a mapping, got {show(node[key])}")
                continue
            for name, sub in node[key].items():
                _check_schema(sub, (*loc, key, name), issues, refs, depth + 1)
    for key in SUBSCHEMA_LISTS:
        if key in node:
            if not isinstance(node[key], list) or not node[key]:
                issues.add((*loc, key), f"expected a non-empty list, got {show(node[key])}")
                continue
            for i, sub in enumerate(node[key]):
                _check_schema(sub, (*loc, key, i), issues, refs, depth + 1)
    for key in SUBSCHEMA_ONE:
        if key not in node:
            continue
        if key == "items" and isinstance(node[key], list):
            issues.add(
                (*loc, key), "a list under items is not JSON Schema 2020-12; use prefixItems"
            )
            continue
        _check_schema(node[key], (*loc, key), issues, refs, depth + 1)
    if "required" in node:
        req = node["required"]
        if not isinstance(req, list) or not all(isinstance(x, str) for x in req):
            issues.add((*loc, "required"), f"expected a list of property names, got {show(req)}")
    if "enum" in node and (not isinstance(node["enum"], list) or not node["enum"]):
        issues.add((*loc, "enum"), f"expected a non-empty list, got {show(node['enum'])}")
    if "pattern" in node:
        try:
            re.compile(node["pattern"])
        except (re.error, TypeError) as exc:
            issues.add((*loc, "pattern"), f"not a valid regular expression: {exc}")


# --- parameters ----------------------------------------------------------------------


def _default_arg(name: str) -> str | None:
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
            if not _matches_type(value, json_type):
                issues.add((*loc, "enum", i), f"{show(value)} is not of type {json_type}")
            elif value in seen:
                issues.add((*loc, "enum", i), f"{show(value)} is listed twice")
            seen.append(value)
    if "default" in given:
        if not _matches_type(p.default, json_type):
            issues.add((*loc, "default"), f"{show(p.default)} is not of type {json_type}")
        elif p.enum is not None and p.default not in p.enum:
            issues.add((*loc, "default"), f"{show(p.default)} is not one of the enum values")
    if p.items is not None:
        _check_schema(p.items, (*loc, "items"), issues, None)
    for name, sub in (p.properties or {}).items():
        _check_schema(sub, (*loc, "properties", name), issues, None)


def _check_parameter(
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
        _check_schema(p.json_schema, (*loc, "schema"), issues, None)
        types = _types_of(p.json_schema)
        type_loc: Loc = (*loc, "schema")
    else:
        _check_shorthand(p, loc, issues)
        types = {p.type or "string"}
        type_loc = (*loc, "type")
    if p.arg is None and _default_arg(p.name) is None:
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


# --- tools ---------------------------------------------------------------------------


@dataclass
class _ToolParts:
    """A tool whose own fields validated, with the parameters that validated."""

    spec: ToolSpec
    params: list[tuple[int, ParameterSpec]]


# (name, in) of a parameter that failed validation, when readable; None if not.
Broken = list[tuple[str, str] | None]


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


def _check_tool(
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
        _check_parameter(p, (*loc, "parameters", j), method, auth, issues)
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
    _check_args(params, duplicates, loc, issues)
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
    resolved = _annotations(spec)
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
        _check_schema(spec.output_schema, (*loc, "output_schema"), issues, refs)
        for name, sub in defs.items() if isinstance(defs, dict) else []:
            _check_schema(sub, (*loc, "output_schema", "$defs", name), issues, refs)


def _check_args(
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
        derived = _default_arg(p.name)
        if p.arg is None and derived in explicit:
            reported.add(explicit[derived])
            issues.add(
                (*loc, "parameters", explicit[derived], "arg"),
                f"argument {derived!r} is also the name of "
                f"{pointer(*loc, 'parameters', j)}; choose another arg",
            )
    for (j, p), param in zip(params, _ir_params(params), strict=True):
        intended = p.arg or _default_arg(p.name) or p.name
        suffixed = p.arg is None and param.arg == f"{intended}__{p.location}"
        if param.arg != intended and not suffixed and j not in reported:
            issues.add(
                (*loc, "parameters", j, "arg" if p.arg is not None else "name"),
                f"argument {intended!r} collides with a suffixed argument name; set arg",
            )


def _ir_params(params: Sequence[tuple[int, ParameterSpec]]) -> list[ir.Param]:
    draft = [
        ir.Param(
            arg=p.arg or _default_arg(p.name) or p.name,
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


def _is_wrapped(schema: dict[str, Any] | None) -> bool:
    return schema is not None and schema.get("type") != "object"


def _output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """MCP output schemas are objects: anything else is wrapped as ``{"result": ...}``."""
    if not _is_wrapped(schema):
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


def _annotations(spec: ToolSpec) -> ir.Annotations:
    derived = ir.Annotations.from_method(spec.method)
    a = spec.annotations
    return ir.Annotations(
        read_only=derived.read_only if a.read_only is None else a.read_only,
        destructive=derived.destructive if a.destructive is None else a.destructive,
        idempotent=derived.idempotent if a.idempotent is None else a.idempotent,
        open_world=derived.open_world if a.open_world is None else a.open_world,
    )


def _build_tool(connector: ConnectorSpec, index: int, t: _ToolParts) -> ir.Tool:
    spec = t.spec
    params = _ir_params(t.params)
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
        name=_final_name(connector.name, spec),
        connector=connector.name,
        operation_id=spec.name,
        description=spec.description.strip(),
        method=spec.method,
        path=spec.path,
        params=tuple(params),
        body=body,
        input_schema=build_input_schema(params),
        output_schema=None if spec.output_schema is None else _output_schema(spec.output_schema),
        annotations=_annotations(spec),
        title=spec.title,
        tags=tuple(spec.tags),
        requires_auth=connector.auth.type != "none",
        pointer=pointer("tools", index),
    )


def _final_name(connector: str, spec: ToolSpec) -> str:
    return spec.tool_name or tool_name(connector, spec.name)


# --- connector -----------------------------------------------------------------------


def _auth_scheme(auth: AuthSpec) -> ir.AuthScheme:
    if isinstance(auth, BearerAuth):
        return ir.AuthScheme(
            "bearer", location="header", param_name="Authorization", prefix=auth.prefix
        )
    if isinstance(auth, ApiKeyAuth):
        return ir.AuthScheme(
            "api_key", location=auth.location, param_name=auth.name, prefix=auth.prefix
        )
    if isinstance(auth, OAuth2Auth):
        return ir.AuthScheme(
            "oauth2",
            location="header",
            param_name="Authorization",
            prefix="Bearer ",
            token_url=auth.token_url,
            refresh_url=auth.refresh_url,
            scopes=tuple(auth.scopes),
        )
    return ir.AuthScheme(auth.type)


def _check_connector(spec: ConnectorSpec, issues: Issues) -> None:
    problem, placeholders = _url_problem(spec.base_url, placeholders_allowed=True)
    if problem:
        issues.add(("base_url",), problem)
    else:
        for name in placeholders:
            if name not in spec.variables:
                issues.add(("base_url",), f"placeholder {{{name}}} is not declared in variables")
    for name in spec.variables:
        if not SNAKE_CASE.fullmatch(name):
            issues.add(("variables", name), "a variable name must be snake_case")
        elif not problem and name not in placeholders:
            issues.add(("variables", name), f"variable {name!r} is not used in base_url")
    auth = spec.auth
    if isinstance(auth, ApiKeyAuth) and auth.location == "header":
        if not HEADER_TOKEN.fullmatch(auth.name):
            issues.add(("auth", "name"), f"{auth.name!r} is not a valid HTTP header name")
    if isinstance(auth, OAuth2Auth):
        for key, url in (("token_url", auth.token_url), ("refresh_url", auth.refresh_url)):
            if url is not None:
                url_problem, _ = _url_problem(url, placeholders_allowed=False)
                if url_problem:
                    issues.add(("auth", key), url_problem)


def _not_native(data: dict[str, Any], stem: str) -> tuple[Loc, str] | None:
    """A document that is not in the native format at all gets one clear issue."""
    for key in ("openapi", "swagger"):
        if key not in data:
            continue
        value = data[key]
        if key == "openapi" and isinstance(value, str) and not VERSION_LIKE.fullmatch(value):
            message = (
                f"a wrapper's openapi path that starts with a digit reads as a version; "
                f"write ./{value}"
                if value[:1].isdigit()
                else "this is an OpenAPI wrapper, not a native connector"
            )
        else:
            message = (
                f"this is an OpenAPI document ({key}: {value}); name it {stem}.openapi.yaml "
                "to load it as one, or write a wrapper whose openapi: names its path"
            )
        return (key,), message
    return None


def _stem(source: str) -> str:
    name = PurePosixPath(source).name
    for suffix in (".yaml", ".yml"):
        name = name.removesuffix(suffix)
    return name


def _validate_tools(
    raw_tools: list[Any], auth: AuthSpec | None, issues: Issues
) -> list[tuple[int, _ToolParts] | None]:
    """Validate each tool and each of its parameters on their own."""
    out: list[tuple[int, _ToolParts] | None] = []
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
        _check_tool(spec, raw, params, broken, loc, auth, issues)
        out.append((i, _ToolParts(spec, params)) if spec is not None else None)
    return out


def _check_names(
    connector: ConnectorSpec | None,
    tools: list[tuple[int, _ToolParts]],
    issues: Issues,
) -> None:
    by_name: dict[str, int] = {}
    by_final: dict[str, int] = {}
    for i, t in tools:
        spec = t.spec
        if spec.name in by_name:
            issues.add(
                ("tools", i, "name"),
                f"duplicate tool name {spec.name!r} (also {pointer('tools', by_name[spec.name])})",
            )
            continue
        by_name[spec.name] = i
        if connector is None:
            continue
        final = _final_name(connector.name, spec)
        if final in by_final:
            where = "tool_name" if spec.tool_name else "name"
            issues.add(
                ("tools", i, where),
                f"tool name {final!r} is also the name of {pointer('tools', by_final[final])}",
            )
        else:
            by_final[final] = i


def _resolve_health_check(
    spec: ConnectorSpec,
    tools: list[tuple[int, _ToolParts]],
    raw_tools: list[Any],
    issues: Issues,
) -> str | None:
    wanted = spec.health_check
    if wanted is None:
        return None
    match = next(
        ((i, t) for i, t in tools if wanted in (t.spec.name, _final_name(spec.name, t.spec))),
        None,
    )
    if match is None:
        raw_names = [r.get("name") for r in raw_tools if isinstance(r, dict)]
        if wanted not in raw_names:  # a tool that failed validation is reported already
            known = [t.spec.name for _, t in tools]
            hint = difflib.get_close_matches(wanted, known, n=1)
            issues.add(
                ("health_check",),
                f"no tool named {wanted!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""),
            )
        return None
    i, t = match
    required = [p.name for _, p in t.params if p.location == "path" or p.required]
    if required:
        issues.add(
            ("health_check",),
            f"the health check runs without arguments, but {wanted!r} requires "
            f"{', '.join(required)}",
        )
    if not _annotations(t.spec).read_only:
        issues.add(
            ("health_check",),
            f"the health check runs unattended, so {wanted!r} must be read-only "
            f"(annotations.read_only: true at {pointer('tools', i)})",
        )
    return _final_name(spec.name, t.spec)


def load_native_connector(data: dict[str, Any], source: str) -> ir.Connector:
    """Validate a native connector document and build its IR; SpecError lists every issue."""
    issues = Issues(source)
    if not isinstance(data, dict):
        issues.add((), "expected a mapping at the top level")
        issues.raise_if_any()
    foreign = _not_native(data, _stem(source))
    if foreign is not None:
        issues.add(*foreign)
        issues.raise_if_any()

    raw_tools = data.get("tools")
    if isinstance(raw_tools, list):
        connector = validate(ConnectorSpec, {**data, "tools": []}, (), issues)
        if not raw_tools:
            issues.add(("tools",), "a connector needs at least one tool")
        auth = connector.auth if connector is not None else None
        validated = _validate_tools(raw_tools, auth, issues)
    else:
        connector = validate(ConnectorSpec, data, (), issues)
        raw_tools, validated = [], []
    tools = [t for t in validated if t is not None]

    if connector is not None:
        _check_connector(connector, issues)
    _check_names(connector, tools, issues)
    health = (
        _resolve_health_check(connector, tools, raw_tools, issues)
        if connector is not None
        else None
    )
    issues.raise_if_any()
    assert connector is not None  # every failure above added an issue

    built = tuple(_build_tool(connector, i, t) for i, t in tools)
    entities = build_entities(connector.entities, connector.name, built, issues)
    issues.raise_if_any()
    extra: dict[str, Any] = {}
    if connector.variables:
        extra["variables"] = {
            name: {"description": v.description or "", "pattern": v.pattern}
            for name, v in connector.variables.items()
        }
    if connector.response_ok is not None:
        extra["response_ok"] = {
            "field": connector.response_ok.field,
            "error_field": connector.response_ok.error_field,
        }
    # The same key the OpenAPI front end uses: results of these tools travel as {"result": ...}.
    wrapped = sorted(
        b.name for b, (_, t) in zip(built, tools, strict=True) if _is_wrapped(t.spec.output_schema)
    )
    if wrapped:
        extra["wrapped_outputs"] = wrapped
    return ir.Connector(
        name=connector.name,
        title=connector.title,
        description=connector.description.strip(),
        base_url=connector.base_url.rstrip("/"),
        auth=_auth_scheme(connector.auth),
        tools=built,
        source=source,
        self_hosted=connector.self_hosted,
        health_check=health,
        extra=extra,
        entities=entities,
    )


# --- OpenAPI wrappers ----------------------------------------------------------------


def _check_rule(rule: RouteRuleSpec | None, raw: Any, loc: Loc, issues: Issues) -> None:
    """Checks the model cannot make; path globs are read raw so they are checked even
    when another field of the rule is wrong."""
    if rule is not None and not (rule.operation_id or rule.tag or rule.method or rule.path):
        issues.add(loc, "a rule needs at least one of operation_id, tag, method, path")
    globs = raw.get("path") if isinstance(raw, dict) else None
    found: list[tuple[Loc, Any]] = []
    if isinstance(globs, str):
        found = [((*loc, "path"), globs)]
    elif isinstance(globs, list):
        found = [((*loc, "path", k), g) for k, g in enumerate(globs)]
    for where, glob in found:
        if isinstance(glob, str) and not glob.startswith(("/", "*")):
            issues.add(where, "a path glob starts with '/' (or '*')")


def _check_document_path(doc: str, issues: Issues) -> None:
    if VERSION_LIKE.fullmatch(doc):
        issues.add(("openapi",), "names the document's path, not an OpenAPI version")
    elif PurePosixPath(doc).is_absolute() or PureWindowsPath(doc).is_absolute() or "\\" in doc:
        issues.add(("openapi",), "must be a relative path with '/' separators")
    elif not doc.endswith(DOCUMENT_SUFFIXES):
        issues.add(("openapi",), "must name a .yaml, .yml or .json document")


def _check_names_map(names: Any, issues: Issues) -> None:
    """Keys are operationIds or ``METHOD /path``; no tool name may be given twice."""
    if not isinstance(names, dict):
        return  # reported by the model
    owners: dict[str, str] = {}
    for key, name in names.items():
        if not isinstance(key, str) or not isinstance(name, str):
            continue
        method, _, path = key.partition(" ")
        if path and (method.upper() not in HTTP_METHODS or not path.startswith("/")):
            issues.add(("names", key), "expected an operationId or 'METHOD /path'")
        if name in owners:
            issues.add(("names", key), f"tool name {name!r} is also given to {owners[name]!r}")
        owners.setdefault(name, key)


def _to_rule(r: RouteRuleSpec) -> RouteRule:
    return RouteRule(
        operation_ids=tuple(r.operation_id),
        tags=tuple(r.tag),
        methods=tuple(r.method),
        paths=tuple(r.path),
    )


def wrapper_options(data: dict[str, Any], source: str) -> tuple[OpenAPIOptions, str]:
    """Validate an OpenAPI wrapper; return its options and the document path it names."""
    issues = Issues(source)
    if not isinstance(data, dict):
        issues.add((), "expected a mapping at the top level")
        issues.raise_if_any()
    # Rules are validated one by one, like tools, so every mistake is reported.
    raw_rules = {k: data[k] for k in ("include", "exclude") if isinstance(data.get(k), list)}
    spec = validate(OpenAPIWrapperSpec, {**data, **dict.fromkeys(raw_rules, [])}, (), issues)
    rules: dict[str, list[RouteRuleSpec]] = {"include": [], "exclude": []}
    for key, raw in raw_rules.items():
        for k, item in enumerate(raw):
            rule = validate(RouteRuleSpec, item, (key, k), issues)
            _check_rule(rule, item, (key, k), issues)
            if rule is not None:
                rules[key].append(rule)
    if isinstance(data.get("openapi"), str):
        _check_document_path(data["openapi"], issues)
    if isinstance(data.get("base_url"), str):
        problem, _ = _url_problem(data["base_url"], placeholders_allowed=False)
        if problem:
            issues.add(("base_url",), problem)
    _check_names_map(data.get("names"), issues)
    issues.raise_if_any()
    assert spec is not None  # every failure above added an issue

    names: dict[str, str] = {}
    for key, name in spec.names.items():
        method, _, path = key.partition(" ")
        names[f"{method.upper()} {path}" if path else key] = name
    options = OpenAPIOptions(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        base_url=spec.base_url.rstrip("/") if spec.base_url else None,
        include=tuple(_to_rule(r) for r in rules["include"]),
        exclude=tuple(_to_rule(r) for r in rules["exclude"]),
        names=names,
        security=(
            SecurityMapping(scheme=spec.security.scheme, prefix=spec.security.prefix)
            if spec.security
            else None
        ),
        default_auth=spec.default_auth,
        self_hosted=spec.self_hosted,
        health_check=spec.health_check,
        entities=dict(spec.entities),
    )
    return options, spec.openapi
