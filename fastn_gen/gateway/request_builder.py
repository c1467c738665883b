"""Turn an operation and its validated arguments into an upstream HTTP request.

Everything a tool argument contributes is encoded so it cannot change the request's
shape: path values are percent-encoded with no safe characters (``/`` and dot segments
included, so ``../../admin`` stays inside its segment), header and cookie values with a
line break or NUL are refused, and connection variables substituted into the base URL
must match the connector's pattern and contain only URL-unreserved characters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlencode

from fastn_gen.gateway.egress import within_base
from fastn_gen.runtime.operation import BodySpec, ConnectorSpec, Operation, ParamSpec

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_UNRESERVED = re.compile(r"^[A-Za-z0-9._~-]+$")
_FORBIDDEN_IN_HEADER = ("\r", "\n", "\0")
# Framing and routing headers belong to the HTTP client, never to a tool argument.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer"}
)
# RFC 6265 cookie-octets that need no escaping (everything else is percent-encoded).
_COOKIE_SAFE = "!#$&'()*+-./:<=>?@[]^_`{|}~"

MultipartField = tuple[str, tuple[None, bytes, str | None]]


class RequestBuildError(Exception):
    """The arguments cannot be turned into a safe request. Never carries secret values."""


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """An upstream request before credentials are added."""

    method: str
    url: str  # scheme://authority/path, percent-encoded, without query
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    content: bytes | None = None
    multipart: tuple[MultipartField, ...] | None = None
    # The connector is self_hosted: its host may resolve to private addresses.
    private_ok: bool = False

    def with_query(
        self, extra: Iterable[tuple[str, str]], drop: str | None = None
    ) -> PreparedRequest:
        kept = tuple(kv for kv in self.query if drop is None or kv[0] != drop)
        return replace(self, query=kept + tuple(extra))

    def with_headers(
        self, extra: Iterable[tuple[str, str]], drop: Iterable[str] = ()
    ) -> PreparedRequest:
        dropped = {d.lower() for d in drop}
        kept = tuple(kv for kv in self.headers if kv[0].lower() not in dropped)
        return replace(self, headers=kept + tuple(extra))


def scalar(value: Any) -> str:
    """The wire text of a JSON scalar (booleans as ``true``/``false``, like JSON)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def substitute_variables(template: str, spec: ConnectorSpec, variables: Mapping[str, str]) -> str:
    """``template`` with ``{name}`` replaced by the connection's checked variable values."""
    patterns = dict(spec.variables)

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in patterns:
            raise RequestBuildError(
                f"connector {spec.name}: URL placeholder {{{name}}} is not a declared variable"
            )
        value = variables.get(name)
        if value is None:
            raise RequestBuildError(
                f"the connection has no value for variable {name!r} (set it under variables)"
            )
        if re.fullmatch(patterns[name], value) is None or not _UNRESERVED.match(value):
            raise RequestBuildError(
                f"connection variable {name!r} does not match the pattern {patterns[name]}"
            )
        return value

    return _PLACEHOLDER.sub(sub, template)


def encode_path_value(value: Any, param: ParamSpec) -> str:
    """One path parameter, percent-encoded so it stays within its segment."""
    style_explode = param.explode is True
    if isinstance(value, list):
        text = ",".join(quote(scalar(v), safe="") for v in value)
    elif isinstance(value, dict):
        pairs = [(quote(str(k), safe=""), quote(scalar(v), safe="")) for k, v in value.items()]
        sep = "=" if style_explode else ","
        text = ",".join(f"{k}{sep}{v}" for k, v in pairs)
    else:
        text = quote(scalar(value), safe="")
    if text == "":
        raise RequestBuildError(f"path parameter {param.arg!r} must not be empty")
    if set(text) == {"."}:
        # "." and ".." would be resolved as dot segments by clients and servers.
        text = text.replace(".", "%2E")
    return text


def build_path(operation: Operation, arguments: Mapping[str, Any]) -> str:
    by_name = {p.name: p for p in operation.params if p.location == "path"}

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        param = by_name.get(name)
        if param is None:
            raise RequestBuildError(
                f"operation {operation.operation_id}: path placeholder {{{name}}} has no parameter"
            )
        if param.arg not in arguments or arguments[param.arg] is None:
            raise RequestBuildError(f"missing required path parameter {param.arg!r}")
        return encode_path_value(arguments[param.arg], param)

    path = _PLACEHOLDER.sub(sub, operation.path)
    return path if path.startswith("/") else "/" + path


def _deep_object(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _deep_object(f"{prefix}[{k}]", v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _deep_object(f"{prefix}[{i}]", v, out)
    else:
        out.append((prefix, scalar(value)))


def encode_query_param(param: ParamSpec, value: Any) -> list[tuple[str, str]]:
    """OpenAPI query serialisation: form (default), space/pipeDelimited, deepObject."""
    style = param.style or "form"
    explode = param.explode if param.explode is not None else style == "form"
    if value is None:
        return []
    if style == "deepObject":
        out: list[tuple[str, str]] = []
        _deep_object(param.name, value, out)
        return out
    if isinstance(value, list):
        items = [scalar(v) for v in value]
        if explode:
            return [(param.name, v) for v in items]
        sep = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(style, ",")
        return [(param.name, sep.join(items))]
    if isinstance(value, dict):
        if explode:
            return [(str(k), scalar(v)) for k, v in value.items()]
        return [(param.name, ",".join(f"{k},{scalar(v)}" for k, v in value.items()))]
    return [(param.name, scalar(value))]


def _simple(value: Any, explode: bool) -> str:
    if isinstance(value, list):
        return ",".join(scalar(v) for v in value)
    if isinstance(value, dict):
        sep = "=" if explode else ","
        return ",".join(f"{k}{sep}{scalar(v)}" for k, v in value.items())
    return scalar(value)


def _check_header_text(arg: str, text: str) -> None:
    if any(c in text for c in _FORBIDDEN_IN_HEADER):
        raise RequestBuildError(
            f"argument {arg!r} contains a line break or NUL character, "
            "which is not allowed in an HTTP header"
        )


def encode_header_param(param: ParamSpec, value: Any) -> tuple[str, str]:
    if param.name.lower() in _RESERVED_HEADERS:
        raise RequestBuildError(f"argument {param.arg!r} cannot set the {param.name} header")
    text = _simple(value, param.explode is True)
    _check_header_text(param.arg, text)
    if not text.isascii():
        raise RequestBuildError(
            f"argument {param.arg!r} contains characters outside ASCII, which an HTTP "
            "header cannot carry"
        )
    return param.name, text


def encode_cookie_param(param: ParamSpec, value: Any) -> str:
    text = _simple(value, param.explode is True)
    _check_header_text(param.arg, text)
    return f"{param.name}={quote(text, safe=_COOKIE_SAFE)}"


def form_pairs(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Form fields with nested objects in bracket notation: ``a[b]=c``, ``a[0]=x``.

    The convention Stripe documents and its client libraries send; top-level ``None``
    becomes an empty value, which Stripe reads as "unset".
    """
    out: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(form_pairs(v, f"{prefix}[{k}]" if prefix else str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(form_pairs(v, f"{prefix}[{i}]"))
    elif prefix:
        out.append((prefix, scalar(value)))
    return out


def form_fields(value: Mapping[str, Any], styles: Mapping[str, ParamSpec]) -> list[tuple[str, str]]:
    """A form body's fields. A field whose parameter has a serialisation style (OpenAPI's
    ``encoding``: form, spaceDelimited, pipeDelimited) is written as a query parameter of
    that style, so an array is ``ids=1&ids=2`` by default; the others (no style, or
    deepObject) in bracket notation (:func:`form_pairs`)."""
    out: list[tuple[str, str]] = []
    for name, v in value.items():
        param = styles.get(str(name))
        if param is None or param.style in (None, "deepObject") or v is None:
            out.extend(form_pairs({name: v}))
        else:
            out.extend(encode_query_param(param, v))
    return out


def _body_value(operation: Operation, body: BodySpec, arguments: Mapping[str, Any]) -> Any:
    if body.whole_arg is not None:
        return arguments.get(body.whole_arg)
    fields = {
        p.name: arguments[p.arg]
        for p in operation.params
        if p.location == "body" and p.arg in arguments
    }
    if not fields and not body.required:
        return None
    return fields


def _is_json_media(media_type: str) -> bool:
    base = media_type.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def encode_body(
    body: BodySpec, value: Any, styles: Mapping[str, ParamSpec] | None = None
) -> tuple[bytes | None, tuple[MultipartField, ...] | None, str | None]:
    """(content, multipart fields, content type) for one request body; ``styles``: the
    body parameters by wire name, whose styles shape form fields."""
    if value is None:
        return None, None, None
    if body.encoding == "json":
        media = body.media_type if _is_json_media(body.media_type) else "application/json"
        data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        return data, None, media
    if body.encoding == "form":
        if not isinstance(value, dict):
            raise RequestBuildError("a form-encoded body must be an object")
        pairs = form_fields(value, styles or {})
        return urlencode(pairs).encode(), None, "application/x-www-form-urlencoded"
    if body.encoding == "multipart":
        if not isinstance(value, dict):
            raise RequestBuildError("a multipart body must be an object")
        parts: list[MultipartField] = []
        for name, v in value.items():
            if isinstance(v, list) and not any(isinstance(x, dict | list) for x in v):
                # Arrays of scalars travel as repeated parts (OpenAPI's default).
                parts.extend((str(name), (None, scalar(x).encode(), None)) for x in v)
            elif isinstance(v, dict | list):
                data = json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode()
                parts.append((str(name), (None, data, "application/json")))
            elif v is not None:
                parts.append((str(name), (None, scalar(v).encode(), None)))
        return None, tuple(parts), None
    # raw: a string is sent as is; anything else as JSON text.
    if isinstance(value, str):
        data = value.encode()
    else:
        data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return data, None, body.media_type or "application/octet-stream"


def build_request(
    connector: ConnectorSpec,
    operation: Operation,
    variables: Mapping[str, str],
    arguments: Mapping[str, Any],
) -> PreparedRequest:
    """The upstream request for ``operation`` with already-validated ``arguments``."""
    base = substitute_variables(connector.base_url, connector, variables).rstrip("/")
    url = base + build_path(operation, arguments)
    if not within_base(url, base):
        raise RequestBuildError(f"the request would leave the connector's base URL {base}")

    query: list[tuple[str, str]] = []
    headers: list[tuple[str, str]] = []
    cookies: list[str] = []
    for param in operation.params:
        if param.location in ("path", "body") or param.arg not in arguments:
            continue
        value = arguments[param.arg]
        if value is None:
            continue
        if param.location == "query":
            query.extend(encode_query_param(param, value))
        elif param.location == "header":
            headers.append(encode_header_param(param, value))
        elif param.location == "cookie":
            cookies.append(encode_cookie_param(param, value))
    if cookies:
        headers.append(("Cookie", "; ".join(cookies)))

    content: bytes | None = None
    multipart: tuple[MultipartField, ...] | None = None
    if operation.body is not None:
        styles = {p.name: p for p in operation.params if p.location == "body"}
        content, multipart, media = encode_body(
            operation.body, _body_value(operation, operation.body, arguments), styles
        )
        if media is not None:
            headers = [h for h in headers if h[0].lower() != "content-type"]
            headers.append(("Content-Type", media))
    return PreparedRequest(
        method=operation.method.upper(),
        url=url,
        query=tuple(query),
        headers=tuple(headers),
        content=content,
        multipart=multipart,
        private_ok=connector.self_hosted,
    )
