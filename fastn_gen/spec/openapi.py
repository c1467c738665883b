"""OpenAPI 3.0 / 3.1 and Swagger 2.0 documents to a connector in the IR.

Every operation under ``paths`` becomes a Tool or a Skip with its reason; operations
left out by the include/exclude rules are neither. Only problems with the document as
a whole (unreadable, not an OpenAPI document, no usable base URL, bad options) raise
SpecError, with every issue found. Callbacks and 3.1 ``webhooks`` describe requests the
API makes, not operations a tool can call, and are not read.

The work is split by job: ``oas_load`` (reading, document-level checks),
``oas_operation``/``oas_swagger2`` (normalising operations), ``oas_schema``,
``oas_keywords`` and ``refs`` (JSON Schema 2020-12 with per-tool ``$defs``),
``oas_tool`` (arguments, body, input and output schemas), ``oas_auth`` and
``oas_servers``.

``Connector.extra`` carries:

- ``wrapped_outputs``: names of tools whose response is never a JSON object, so their
  output schema is ``{"result": <response schema>}`` (the gateway wraps such responses);
- ``variables``: per-connection base-URL placeholders (name → ``{"pattern": regex}``);
- ``output_notes``: tool name → why its output schema was left out (the tool works
  without one).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, cast

from fastn_gen.spec.entities import build_entities
from fastn_gen.spec.errors import SpecError, SpecIssue, pointer
from fastn_gen.spec.inputs import trim_description
from fastn_gen.spec.ir import Annotations, Connector, HttpMethod, Skip, Tool
from fastn_gen.spec.model import Issues
from fastn_gen.spec.naming import VALID_TOOL_NAME, NameRequest, assign_names, operation_slug
from fastn_gen.spec.oas_auth import select_auth
from fastn_gen.spec.oas_load import Document, check_document_objects, read_document
from fastn_gen.spec.oas_operation import OperationView, RawOperation, iter_operations, view_3
from fastn_gen.spec.oas_schema import SchemaConverter
from fastn_gen.spec.oas_servers import base_url, operation_server
from fastn_gen.spec.oas_swagger2 import view_2
from fastn_gen.spec.oas_tool import ToolBuilder, ToolParts
from fastn_gen.spec.options import OpenAPIOptions, RouteRule
from fastn_gen.spec.refs import DefNames, RefProblem, Resolver

SUPPORTED_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH"})


@dataclass(frozen=True, slots=True)
class _Draft:
    key: str
    view: OperationView
    parts: ToolParts
    override: str | None


def load_openapi_connector(
    doc_path: Path, options: OpenAPIOptions, source: str, options_source: str | None = None
) -> Connector:
    """Build a connector from the document at ``doc_path``; SpecError if unusable.

    ``options_source`` is the wrapper the options came from: problems with the options
    (names, security mapping, health check) are reported against it, not the document.
    """
    wrapper = options_source or source
    doc = read_document(doc_path, source)
    resolver = Resolver(doc.data)
    issues = check_document_objects(doc, with_servers=options.base_url is None)
    base = base_url(doc, options)
    issues += base.issues
    auth, auth_issues = select_auth(doc, resolver, options, options_source)
    issues += auth_issues
    entries = list(iter_operations(doc, resolver))
    operations = [e for e in entries if isinstance(e, RawOperation)]
    overrides, override_issues = _overrides(options, operations, wrapper)
    issues += override_issues
    # Only the health check needs the tools; build them when the options are the only
    # problem, so that every mistake in a wrapper is reported in one run.
    if any(i.file != wrapper for i in issues) or (issues and not options.health_check):
        raise SpecError(issues)

    names = _def_names(doc)
    builder = ToolBuilder(
        SchemaConverter(resolver, names, keep_examples=True),
        SchemaConverter(resolver, names, keep_examples=False),
        auth.scheme,
    )
    skipped = [
        Skip(options.name, e[0], e[2], e[1]) for e in entries if not isinstance(e, RawOperation)
    ]
    drafts: list[_Draft] = []
    for raw in operations:
        if not _selected(raw, options):
            continue
        key = f"{raw.method} {raw.path}"
        try:
            view = _view(raw, doc, resolver, base.document_url)
            parts = builder.build(view)
        except RefProblem as exc:
            skipped.append(Skip(options.name, _label(raw), exc.message, exc.pointer or raw.pointer))
            continue
        except (TypeError, AttributeError, KeyError, ValueError, RecursionError) as exc:
            reason = f"malformed operation ({type(exc).__name__}: {exc})"
            skipped.append(Skip(options.name, _label(raw), reason, raw.pointer))
            continue
        drafts.append(_Draft(key, view, parts, overrides.get(key)))

    tools = _tools(options, drafts)
    if options.health_check and options.health_check not in {t.name for t in tools}:
        msg = f"health_check names no tool of this connector: {options.health_check!r}"
        issues.append(SpecIssue(wrapper, pointer("health_check"), msg))
    entity_issues = Issues(wrapper)
    entities = build_entities(options.entities, options.name, tools, entity_issues)
    issues += entity_issues.found
    if issues:
        raise SpecError(issues)
    return Connector(
        name=options.name,
        title=options.title or _info_text(doc, "title") or options.name,
        description=options.description or trim_description(_info_text(doc, "description")) or "",
        base_url=base.url,
        auth=auth.scheme,
        tools=tools,
        skipped=tuple(sorted(skipped, key=lambda s: (s.operation, s.pointer))),
        source=source,
        self_hosted=options.self_hosted,
        health_check=options.health_check,
        extra=_extra(drafts, tools, base.variables),
        entities=entities,
    )


def _view(
    raw: RawOperation, doc: Document, resolver: Resolver, document_url: str | None
) -> OperationView:
    if raw.method not in SUPPORTED_METHODS:
        raise RefProblem(f"{raw.method} operations are not supported", raw.pointer)
    if not isinstance(raw.operation, dict):
        raise RefProblem("operation must be an object", raw.pointer)
    if not raw.path.startswith("/"):
        raise RefProblem("path must start with '/'", raw.pointer)
    view = view_2(raw, doc, resolver) if doc.version == "2.0" else view_3(raw, doc, resolver)
    if view.servers:
        other = operation_server(view.servers, document_url)
        if other is not None:
            raise RefProblem(
                f"served from {other}, not the connector base URL {document_url} "
                "(one base URL per connector)",
                raw.pointer,
            )
    return view


def _label(raw: RawOperation) -> str:
    op = raw.operation
    op_id = op.get("operationId") if isinstance(op, dict) else None
    return op_id if isinstance(op_id, str) and op_id else f"{raw.method} {raw.path}"


def _info_text(doc: Document, key: str) -> str | None:
    info = doc.data.get("info")
    value = info.get(key) if isinstance(info, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def _def_names(doc: Document) -> DefNames:
    if doc.version == "2.0":
        found = doc.data.get("definitions")
        return DefNames("/definitions", found if isinstance(found, dict) else ())
    components = doc.data.get("components")
    found = components.get("schemas") if isinstance(components, dict) else None
    return DefNames("/components/schemas", found if isinstance(found, dict) else ())


# -- selection and names -----------------------------------------------------------------


def _matches(rule: RouteRule, raw: RawOperation) -> bool:
    op = raw.operation if isinstance(raw.operation, dict) else {}
    if rule.operation_ids and op.get("operationId") not in rule.operation_ids:
        return False
    if rule.tags:
        tags = op.get("tags")
        if not isinstance(tags, list) or not any(t in rule.tags for t in tags):
            return False
    if rule.methods and raw.method not in {m.upper() for m in rule.methods}:
        return False
    return not rule.paths or any(fnmatchcase(raw.path, glob) for glob in rule.paths)


def _selected(raw: RawOperation, options: OpenAPIOptions) -> bool:
    if options.include and not any(_matches(r, raw) for r in options.include):
        return False
    return not any(_matches(r, raw) for r in options.exclude)


def _overrides(
    options: OpenAPIOptions, operations: list[RawOperation], source: str
) -> tuple[dict[str, str], list[SpecIssue]]:
    """Name overrides by "METHOD /path" key, and the problems with them."""
    issues: list[SpecIssue] = []
    for key, name in options.names.items():
        if not isinstance(name, str) or not VALID_TOOL_NAME.match(name):
            msg = f"invalid tool name {name!r}: use 1-64 characters of [a-z0-9_]"
            issues.append(SpecIssue(source, pointer("names", key), msg))
    by_key: dict[str, str] = {}
    known: set[str] = set()
    for raw in operations:
        key = f"{raw.method} {raw.path}"
        op_id = raw.operation.get("operationId") if isinstance(raw.operation, dict) else None
        known.add(key)
        if isinstance(op_id, str):
            known.add(op_id)
        wanted = options.names.get(key)
        if wanted is None and isinstance(op_id, str):
            wanted = options.names.get(op_id)
        if wanted and VALID_TOOL_NAME.match(wanted) and _selected(raw, options):
            by_key[key] = wanted
    for key in options.names:
        if key not in known:
            msg = "no operation has this operationId or 'METHOD /path'"
            issues.append(SpecIssue(source, pointer("names", key), msg))
    for name, count in Counter(by_key.values()).items():
        if count > 1:
            keys = sorted(k for k, v in by_key.items() if v == name)
            msg = f"tool name {name!r} is given to {count} operations: {', '.join(keys)}"
            issues.append(SpecIssue(source, pointer("names"), msg))
    return by_key, issues


def _tools(options: OpenAPIOptions, drafts: list[_Draft]) -> tuple[Tool, ...]:
    requests = [
        NameRequest(
            key=d.key,
            connector=options.name,
            slug=operation_slug(d.view.operation_id, d.view.method, d.view.path),
            method=d.view.method,
            path=d.view.path,
            override=d.override,
        )
        for d in drafts
    ]
    names = assign_names(requests)
    tools = [_tool(options.name, names[d.key], d) for d in drafts]
    return tuple(sorted(tools, key=lambda t: t.name))


def _tool(connector: str, name: str, d: _Draft) -> Tool:
    view, parts = d.view, d.parts
    description = trim_description(view.description or view.summary) or d.key
    return Tool(
        name=name,
        connector=connector,
        operation_id=view.operation_id or d.key,
        description=description,
        method=cast(HttpMethod, view.method),
        path=view.path,
        params=parts.params,
        body=parts.body,
        input_schema=parts.input_schema,
        output_schema=parts.output_schema,
        annotations=Annotations.from_method(view.method),
        title=view.summary,
        tags=view.tags,
        requires_auth=parts.requires_auth,
        pointer=view.pointer,
    )


def _extra(
    drafts: list[_Draft], tools: tuple[Tool, ...], variables: dict[str, dict[str, str]]
) -> dict[str, Any]:
    by_pointer = {t.pointer: t.name for t in tools}
    wrapped = sorted(by_pointer[d.view.pointer] for d in drafts if d.parts.output_wrapped)
    extra: dict[str, Any] = {"wrapped_outputs": wrapped}
    notes = {by_pointer[d.view.pointer]: d.parts.warning for d in drafts if d.parts.warning}
    if notes:
        extra["output_notes"] = dict(sorted(notes.items()))
    if variables:
        extra["variables"] = variables
    return extra
