"""The native connector format: validate, report, build the IR.

Every problem is reported as a :class:`SpecIssue` with the file and the JSON pointer of
the offending value, and every problem in a file is reported at once: the connector's
own fields, each tool and each parameter are validated separately, so a typo in one
place does not hide a mistake in another.

This module holds the connector-level checks; the tools, their parameters, their JSON
Schemas and OpenAPI wrappers have modules of their own (``native_tools``,
``native_params``, ``native_schema``, ``native_wrapper``). ``wrapper_options`` is
re-exported here for the loader.
"""

from __future__ import annotations

import difflib
from pathlib import PurePosixPath
from typing import Any

from fastn_gen.spec import ir
from fastn_gen.spec.entities import build_entities
from fastn_gen.spec.errors import pointer
from fastn_gen.spec.model import (
    SNAKE_CASE,
    ApiKeyAuth,
    AuthSpec,
    BearerAuth,
    ConnectorSpec,
    Issues,
    Loc,
    OAuth2Auth,
    validate,
)
from fastn_gen.spec.native_params import HEADER_TOKEN
from fastn_gen.spec.native_tools import (
    ToolParts,
    build_tool,
    final_name,
    is_wrapped,
    resolved_annotations,
    validate_tools,
)
from fastn_gen.spec.native_urls import http_url_problem
from fastn_gen.spec.native_wrapper import VERSION_LIKE, wrapper_options

__all__ = ["load_native_connector", "wrapper_options"]


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
    problem, placeholders = http_url_problem(spec.base_url, placeholders_allowed=True)
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
                url_problem, _ = http_url_problem(url, placeholders_allowed=False)
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


def _check_names(
    connector: ConnectorSpec | None,
    tools: list[tuple[int, ToolParts]],
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
        final = final_name(connector.name, spec)
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
    tools: list[tuple[int, ToolParts]],
    raw_tools: list[Any],
    issues: Issues,
) -> str | None:
    wanted = spec.health_check
    if wanted is None:
        return None
    match = next(
        ((i, t) for i, t in tools if wanted in (t.spec.name, final_name(spec.name, t.spec))),
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
    if not resolved_annotations(t.spec).read_only:
        issues.add(
            ("health_check",),
            f"the health check runs unattended, so {wanted!r} must be read-only "
            f"(annotations.read_only: true at {pointer('tools', i)})",
        )
    return final_name(spec.name, t.spec)


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
        validated = validate_tools(raw_tools, auth, issues)
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

    built = tuple(build_tool(connector, i, t) for i, t in tools)
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
        b.name for b, (_, t) in zip(built, tools, strict=True) if is_wrapped(t.spec.output_schema)
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
