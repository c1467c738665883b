"""``tools/list`` over HTTP from cached bytes, inside the SDK's own response.

The SDK still handles every ``tools/list`` request (headers, protocol era, validation,
JSON or SSE framing, status and error answers): this wrapper sits directly around its
ASGI app, after authentication and the request guards, and only gives the request a
:class:`ListSlot`. The gateway's list handler, seeing the slot, puts the tenant's
cached ``tools`` bytes in it and returns the same result with an empty ``tools``
array; the SDK serialises that small result, and the wrapper writes the bytes into
its ``"tools":[]`` on the way out (fixing ``content-length``). Nothing else of the
response changes, so it equals what the SDK would have sent for the full list.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastn_gen.gateway.body_limit import SCOPE_MESSAGE

__all__ = ["SCOPE_SLOT", "ListSlot", "ToolListSplice", "slot_of"]

logger = logging.getLogger(__name__)

SCOPE_SLOT = "fastn.tools_list_slot"
EMPTY_TOOLS = b'"tools":[]'


class ListSlot:
    """Where the handler leaves the ``tools`` array's items for this one request."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: bytes | None = None


def slot_of(request: Any) -> ListSlot | None:
    """The slot of the HTTP request a handler serves (None on stdio or other methods)."""
    scope = getattr(request, "scope", None)
    slot = scope.get(SCOPE_SLOT) if isinstance(scope, dict) else None
    return slot if isinstance(slot, ListSlot) else None


def _is_tools_list(scope: Scope) -> bool:
    message = scope.get(SCOPE_MESSAGE)
    return isinstance(message, dict) and message.get("method") == "tools/list"


def splice(body: bytes, items: bytes) -> bytes:
    """``body`` with its one empty ``tools`` array filled with ``items``."""
    at = body.find(EMPTY_TOOLS)
    if at < 0 or body.find(EMPTY_TOOLS, at + 1) >= 0:
        raise ValueError("the response does not have exactly one empty tools array")
    cut = at + len(EMPTY_TOOLS) - 1
    return body[:cut] + items + body[cut:]


class ToolListSplice:
    """ASGI wrapper: fills the ``tools`` array of a ``tools/list`` answer from its slot."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_tools_list(scope):
            await self.app(scope, receive, send)
            return
        slot = ListSlot()
        scope[SCOPE_SLOT] = slot
        await self.app(scope, receive, _SplicingSend(send, slot))


class _SplicingSend:
    """Holds the response start until the body is known, then splices and sends.

    A response with ``content-length`` (JSON) is collected whole; a streamed one (SSE)
    is spliced chunk by chunk, in the one event that carries the result.
    """

    def __init__(self, send: Send, slot: ListSlot) -> None:
        self.send = send
        self.slot = slot
        self.start: Message | None = None  # held until the body is known
        self.sized = False
        self.body: list[bytes] = []
        self.filled = False

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.start = message
            self.sized = any(k.lower() == b"content-length" for k, _ in message["headers"])
            return
        if kind != "http.response.body":
            await self.send(message)
            return
        chunk = message.get("body", b"")
        if self.sized:
            self.body.append(chunk)
            if not message.get("more_body", False):
                await self._send_whole(b"".join(self.body))
            return
        if self.start is not None:
            start, self.start = self.start, None
            await self.send(start)
        await self.send({**message, "body": self._fill(chunk)})

    async def _send_whole(self, body: bytes) -> None:
        assert self.start is not None
        body = self._fill(body)
        headers = [(k, v) for k, v in self.start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})

    def _fill(self, chunk: bytes) -> bytes:
        items = self.slot.items
        if self.filled or not items or EMPTY_TOOLS not in chunk:
            return chunk
        self.filled = True
        try:
            return splice(chunk, items)
        except ValueError:
            logger.error("tools/list answer sent without its cached tools: %r", chunk[:200])
            return chunk
