"""OpenAPI wrappers: a small YAML file that names an OpenAPI document and says which of
its operations become tools, under which names and with which credential scheme."""

from __future__ import annotations

import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from fastn_gen.spec.model import (
    HTTP_METHODS,
    Issues,
    Loc,
    OpenAPIWrapperSpec,
    RouteRuleSpec,
    validate,
)
from fastn_gen.spec.native_urls import http_url_problem
from fastn_gen.spec.options import OpenAPIOptions, RouteRule, SecurityMapping

VERSION_LIKE = re.compile(r"\d+(\.\d+)*")
DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json")


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
        problem, _ = http_url_problem(data["base_url"], placeholders_allowed=False)
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
