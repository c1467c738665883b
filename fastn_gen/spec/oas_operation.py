"""One operation of a document, normalised across Swagger 2.0 and OpenAPI 3.x.

The result still holds raw schema nodes (with their pointers); turning them into
tool arguments and JSON Schema is ``oas_tool.py``'s job. Structural problems confined
to the operation raise RefProblem and make it a skip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastn_gen.spec.errors import escape_pointer_token, pointer
from fastn_gen.spec.ir import BodyEncoding, Location
from fastn_gen.spec.oas_load import Document
from fastn_gen.spec.refs import RefProblem, Resolver

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PARAM_LOCATIONS_3 = ("path", "query", "header", "cookie")


@dataclass(frozen=True, slots=True)
class RawParam:
    name: str
    location: Location
    required: bool
    schema: Any  # raw schema node; None means "any string"
    schema_ptr: str
    description: str | None = None
    style: str | None = None
    explode: bool | None = None


@dataclass(frozen=True, slots=True)
class RawBody:
    media_type: str
    encoding: BodyEncoding
    required: bool
    schema: Any  # raw schema node, or None
    schema_ptr: str
    description: str | None = None
    fields: tuple[RawParam, ...] = ()  # Swagger 2.0 formData parameters
    # 3.x ``encoding`` of form and multipart fields: name -> (style, explode)
    field_styles: tuple[tuple[str, str | None, bool | None], ...] = ()


@dataclass(frozen=True, slots=True)
class OperationView:
    method: str  # upper case
    path: str
    pointer: str
    operation_id: str | None
    summary: str | None
    description: str | None
    tags: tuple[str, ...]
    security: list[Any] | None  # effective requirement list; None when none declared
    servers: list[Any] | None  # operation- or path-level servers (3.x)
    params: tuple[RawParam, ...]
    body: RawBody | None
    output: tuple[Any, str] | None  # raw success-response schema and its pointer
    # Why no output schema could be read; the operation is still usable without one.
    output_problem: RefProblem | None = None


@dataclass(frozen=True, slots=True)
class RawOperation:
    """An entry under ``paths`` before normalisation, for filtering and counting."""

    method: str
    path: str
    pointer: str
    operation: Any
    path_item: dict[str, Any]
    path_pointer: str


def iter_operations(
    doc: Document, resolver: Resolver
) -> Iterator[RawOperation | tuple[str, str, str]]:
    """Every (path, method) entry, or ``(key, pointer, reason)`` for an unusable path item."""
    for path, item in (doc.data.get("paths") or {}).items():
        item_ptr = pointer("paths", path)
        if item is None:
            continue
        try:
            item, _ = resolver.deref(item, item_ptr)
        except RefProblem as exc:
            yield (path, item_ptr, exc.message)
            continue
        if not isinstance(item, dict):
            yield (path, item_ptr, "path item must be an object")
            continue
        for method in HTTP_METHODS:
            if method in item:
                op_ptr = f"{item_ptr}/{method}"
                yield RawOperation(method.upper(), path, op_ptr, item[method], item, item_ptr)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def media_rank(media_type: str) -> tuple[int, str]:
    """Preference among offered request media types: JSON first, then forms, then raw."""
    base = media_type.split(";")[0].strip().lower()
    if base == "application/json":
        rank = 0
    elif base.endswith("+json") or base.endswith("/json"):
        rank = 1
    elif base == "application/x-www-form-urlencoded":
        rank = 2
    elif base == "multipart/form-data":
        rank = 3
    elif base in ("*/*", "application/*"):
        rank = 4
    else:
        rank = 5
    return rank, base


_ENCODINGS: dict[int, BodyEncoding] = {0: "json", 1: "json", 2: "form", 3: "multipart", 4: "json"}


def encoding_for(media_type: str) -> BodyEncoding:
    return _ENCODINGS.get(media_rank(media_type)[0], "raw")


def is_json_media(media_type: str) -> bool:
    return media_rank(media_type)[0] in (0, 1, 4)


# 204 and 205 answers never carry content (RFC 9110), whatever a document declares
# under them (SendGrid gives its 204s a JSON object schema): no output schema from them.
NO_CONTENT = ("204", "205")


def success_codes(responses: dict[str, Any]) -> list[str]:
    """Response codes to take the output schema from, most preferred first."""
    codes = [str(c) for c in responses]
    ok = sorted(
        c for c in codes if len(c) == 3 and c[0] == "2" and c.isdigit() and c not in NO_CONTENT
    )
    ordered = [c for c in ("200", "201") if c in ok] + [c for c in ok if c not in ("200", "201")]
    ordered += [c for c in codes if c.upper() == "2XX"]
    if not ordered and "default" in codes:
        ordered.append("default")
    return ordered


def common_fields(raw: RawOperation) -> dict[str, Any]:
    op = raw.operation
    tags = op.get("tags")
    return {
        "method": raw.method,
        "path": raw.path,
        "pointer": raw.pointer,
        "operation_id": _str_or_none(op.get("operationId")),
        "summary": _str_or_none(op.get("summary")),
        "description": _str_or_none(op.get("description")),
        "tags": tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
    }


def effective_security(raw: RawOperation, doc_security: Any) -> list[Any] | None:
    op = raw.operation
    security = op["security"] if "security" in op else doc_security
    if security is None:
        return None
    if not isinstance(security, list) or not all(isinstance(r, dict) for r in security):
        where = f"{raw.pointer}/security" if "security" in op else "/security"
        raise RefProblem("security must be a list of requirement objects", where)
    return security


def merged_parameters(raw: RawOperation, resolver: Resolver) -> list[tuple[dict[str, Any], str]]:
    """Path-level then operation-level parameters, dereferenced; the operation's win
    over the path's by (name, in)."""
    found: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
    for owner, owner_ptr in ((raw.path_item, raw.path_pointer), (raw.operation, raw.pointer)):
        params = owner.get("parameters")
        if params is None:
            continue
        base = f"{owner_ptr}/parameters"
        if not isinstance(params, list):
            raise RefProblem("parameters must be a list", base)
        for i, node in enumerate(params):
            param, ptr = resolver.deref(node, f"{base}/{i}")
            if not isinstance(param, dict):
                raise RefProblem("parameter must be an object", ptr)
            name, where = param.get("name"), param.get("in")
            if not isinstance(name, str) or not isinstance(where, str):
                raise RefProblem("parameter needs a string `name` and `in`", ptr)
            found[(name, where)] = (param, ptr)
    return list(found.values())


OutputReader = Callable[[RawOperation, Resolver], "tuple[Any, str] | None"]


def read_output(
    reader: OutputReader, raw: RawOperation, resolver: Resolver
) -> tuple[tuple[Any, str] | None, RefProblem | None]:
    try:
        return reader(raw, resolver), None
    except RefProblem as exc:
        return None, exc


def view_3(raw: RawOperation, doc: Document, resolver: Resolver) -> OperationView:
    """Normalise an OpenAPI 3.0/3.1 operation."""
    op = raw.operation
    params: list[RawParam] = []
    for param, ptr in merged_parameters(raw, resolver):
        where = param["in"]
        if where not in PARAM_LOCATIONS_3:
            raise RefProblem(f"parameter location {where!r} is not valid in OpenAPI 3", ptr)
        schema, schema_ptr = param.get("schema"), f"{ptr}/schema"
        content = param.get("content")
        if schema is None and isinstance(content, dict) and content:
            media = next(iter(content))
            media_obj = content[media]
            schema = media_obj.get("schema") if isinstance(media_obj, dict) else None
            schema_ptr = f"{ptr}/content/{escape_pointer_token(media)}/schema"
        style, explode = param.get("style"), param.get("explode")
        params.append(
            RawParam(
                name=param["name"],
                location=where,
                required=where == "path" or param.get("required") is True,
                schema=schema,
                schema_ptr=schema_ptr,
                description=_str_or_none(param.get("description")),
                style=style if isinstance(style, str) else None,
                explode=explode if isinstance(explode, bool) else None,
            )
        )
    servers = op.get("servers") or raw.path_item.get("servers")
    output, output_problem = read_output(_output_3, raw, resolver)
    return OperationView(
        **common_fields(raw),
        security=effective_security(raw, doc.data.get("security")),
        servers=servers if isinstance(servers, list) else None,
        params=tuple(params),
        body=_body_3(raw, resolver),
        output=output,
        output_problem=output_problem,
    )


def _body_3(raw: RawOperation, resolver: Resolver) -> RawBody | None:
    node = raw.operation.get("requestBody")
    if node is None:
        return None
    body, ptr = resolver.deref(node, f"{raw.pointer}/requestBody")
    if not isinstance(body, dict):
        raise RefProblem("requestBody must be an object", ptr)
    content = body.get("content")
    if not isinstance(content, dict):
        raise RefProblem("requestBody needs a `content` object", ptr)
    if not content:
        return None
    media = min((str(m) for m in content), key=media_rank)
    media_obj = content[media]
    media_obj = media_obj if isinstance(media_obj, dict) else {}
    return RawBody(
        media_type=media,
        encoding=encoding_for(media),
        required=body.get("required") is True,
        schema=media_obj.get("schema"),
        schema_ptr=f"{ptr}/content/{escape_pointer_token(media)}/schema",
        description=_str_or_none(body.get("description")),
        field_styles=_field_styles(media_obj.get("encoding")),
    )


def _field_styles(encoding: Any) -> tuple[tuple[str, str | None, bool | None], ...]:
    if not isinstance(encoding, dict):
        return ()
    out = []
    for name, spec in encoding.items():
        if isinstance(spec, dict):
            style, explode = spec.get("style"), spec.get("explode")
            out.append(
                (
                    str(name),
                    style if isinstance(style, str) else None,
                    explode if isinstance(explode, bool) else None,
                )
            )
    return tuple(out)


def _output_3(raw: RawOperation, resolver: Resolver) -> tuple[Any, str] | None:
    responses = raw.operation.get("responses")
    if not isinstance(responses, dict):
        return None
    base = f"{raw.pointer}/responses"
    for code in success_codes(responses):
        response, ptr = resolver.deref(responses[code], f"{base}/{escape_pointer_token(code)}")
        content = response.get("content") if isinstance(response, dict) else None
        if not isinstance(content, dict):
            continue
        for media, media_obj in content.items():
            if is_json_media(str(media)) and isinstance(media_obj, dict) and "schema" in media_obj:
                return media_obj["schema"], f"{ptr}/content/{escape_pointer_token(media)}/schema"
    return None
