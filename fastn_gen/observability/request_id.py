"""A request id per HTTP request, carried in a context variable.

The id is made when a request arrives (or taken from a well-formed inbound
``X-Request-Id``, so a reverse proxy's id stays the same end to end), returned in the
response's ``X-Request-Id``, added to every log line written while the request is
served (:mod:`.logs`), and sent upstream on every call the request makes. The SDK
carries the sender's context to the task that runs the handler, so the id follows the
request into the MCP handlers and the executor as the tenant does.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

import httpx2
from opentelemetry.propagate import inject
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-Id"
# Letters, digits and a few separators only: an id lands in log lines as it is.
_INBOUND = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

_request_id: ContextVar[str | None] = ContextVar("fastn_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served, if any."""
    return _request_id.get()


def new_request_id() -> str:
    return secrets.token_hex(8)


def accepted_inbound(value: str | None) -> str | None:
    """An inbound id worth keeping, or None (malformed ids are replaced, not echoed)."""
    return value if value is not None and _INBOUND.match(value) else None


class RequestIdMiddleware:
    """ASGI middleware: give each HTTP request an id, and answer with it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_inbound(Headers(scope=scope).get(REQUEST_ID_HEADER)) or (
            new_request_id()
        )

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        token = _request_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(token)


async def stamp_upstream_request(request: httpx2.Request) -> None:
    """httpx2 request hook: the request id, and the W3C trace context when a trace is
    being recorded (a no-op without an OpenTelemetry SDK), on every upstream call."""
    request_id = _request_id.get()
    if request_id is not None:
        request.headers[REQUEST_ID_HEADER] = request_id
    inject(request.headers)
