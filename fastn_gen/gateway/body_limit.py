"""Bounds on what an MCP request body may be, checked before the MCP layer parses it.

A body larger than the configured limit is answered ``413`` (from ``Content-Length``
before anything is read, or as soon as the streamed body passes the limit). A body
that is not UTF-8, not JSON, nested deeper than a fixed depth, not JSON-RPC shaped,
or a ``tools/call`` with an absurd number of arguments is answered ``400`` with a
JSON-RPC error naming the problem. Each is refused in the request that caused it; the
gateway goes on serving everyone else.

The parsed message is left in the ASGI scope (``SCOPE_MESSAGE``) for the checks that
follow (scope enforcement in OAuth mode), so the body is parsed here only once more
than the MCP layer parses it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_ARGUMENTS = 256

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602

SCOPE_MESSAGE = "fastn.jsonrpc"


@dataclass(frozen=True, slots=True)
class RequestLimits:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_depth: int = MAX_DEPTH
    max_arguments: int = MAX_ARGUMENTS


class Refused(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def jsonrpc_error(status: int, code: int, message: str, request_id: Any = None) -> JSONResponse:
    return JSONResponse(
        {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}},
        status_code=status,
    )


def too_large(limit: int) -> JSONResponse:
    return jsonrpc_error(413, INVALID_REQUEST, f"Request body is larger than {limit} bytes")


def depth_of(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion (scalars are depth 0)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_message(body: bytes, limits: RequestLimits) -> Any:
    """The parsed body, or :class:`Refused` saying what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(
            400, PARSE_ERROR, f"Parse error: the body is not valid UTF-8 (byte {exc.start})"
        ) from None
    try:
        parsed = json.loads(text)
    except RecursionError:
        raise Refused(
            400, PARSE_ERROR, f"Parse error: JSON nested deeper than {limits.max_depth} levels"
        ) from None
    except ValueError as exc:
        raise Refused(400, PARSE_ERROR, f"Parse error: {exc}") from None
    if depth_of(parsed) > limits.max_depth:
        raise Refused(400, INVALID_REQUEST, f"JSON nested deeper than {limits.max_depth} levels")
    messages = parsed if isinstance(parsed, list) else [parsed]
    if not messages:
        raise Refused(400, INVALID_REQUEST, "Invalid request: an empty batch")
    for message in messages:
        if not isinstance(message, dict):
            raise Refused(400, INVALID_REQUEST, "Invalid request: a message must be a JSON object")
        _check_envelope(message)
        _check_arguments(message, limits)
    return parsed


def _check_envelope(message: dict[str, Any]) -> None:
    if message.get("jsonrpc") != "2.0":
        raise Refused(400, INVALID_REQUEST, 'Invalid request: "jsonrpc" must be "2.0"')
    request_id = message.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, str | int | float | None):
        raise Refused(400, INVALID_REQUEST, 'Invalid request: "id" must be a string or number')
    if "method" in message:
        if "id" in message and request_id is None:
            # MCP: a request's id is a string or an integer, never null.
            raise Refused(400, INVALID_REQUEST, 'Invalid request: "id" must not be null')
        if not isinstance(message["method"], str) or not message["method"]:
            raise Refused(400, INVALID_REQUEST, 'Invalid request: "method" must be a string')
        if "params" in message and not isinstance(message["params"], dict | list):
            raise Refused(400, INVALID_REQUEST, 'Invalid request: "params" must be an object')
    elif "result" not in message and "error" not in message:
        raise Refused(400, INVALID_REQUEST, "Invalid request: neither a request nor a response")


def _check_arguments(message: dict[str, Any], limits: RequestLimits) -> None:
    if message.get("method") != "tools/call":
        return
    params = message.get("params")
    arguments = params.get("arguments") if isinstance(params, dict) else None
    if isinstance(arguments, dict) and len(arguments) > limits.max_arguments:
        raise Refused(
            400,
            INVALID_PARAMS,
            f"Invalid params: {len(arguments)} arguments; a tool takes at most "
            f"{limits.max_arguments}",
        )


class RequestGuard:
    """ASGI middleware applying :class:`RequestLimits` to POST bodies."""

    def __init__(self, app: ASGIApp, limits: RequestLimits | None = None) -> None:
        self.app = app
        self.limits = limits or RequestLimits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        limit = self.limits.max_body_bytes
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await jsonrpc_error(400, INVALID_REQUEST, "Invalid Content-Length")(
                    scope, receive, send
                )
                return
            if int(declared) > limit:
                await too_large(limit)(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await too_large(limit)(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            parsed = check_message(body, self.limits)
        except Refused as refused:
            await jsonrpc_error(refused.status, refused.code, str(refused))(scope, receive, send)
            return
        scope = dict(scope)
        scope[SCOPE_MESSAGE] = parsed
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
