"""``tools/list`` over HTTP from cached bytes, inside the SDK's own response.

The SDK still handles every ``tools/list`` request (headers, protocol era, validation,
JSON or SSE framing, status and error answers): this wrapper sits directly around its
ASGI app, after authentication and the request guards, and only gives the request a
:class:`ListSlot`. The gateway's list handler, seeing the slot, puts the tenant's
cached ``tools`` bytes in it and returns the same result with an empty ``tools``
array; the SDK serialises that small result, and the wrapper writes the bytes into
its ``"tools":[]`` on the way out (fixing ``content-length``). Nothing else of the
response changes, so it equals what the SDK would have sent for the full list. A JSON
answer to a client that accepts gzip is sent gzip-encoded (:mod:`.tool_list_gzip`: the
list's bytes are compressed once), a few hundred kilobytes instead of megabytes.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastn_gen.gateway.body_limit import SCOPE_MESSAGE
from fastn_gen.gateway.tool_list_gzip import PackCache, accepts_gzip, gzip_around

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


def items_position(body: bytes) -> int:
    """Where the items go in ``body``: inside its one empty ``tools`` array."""
    at = body.find(EMPTY_TOOLS)
    if at < 0 or body.find(EMPTY_TOOLS, at + 1) >= 0:
        raise ValueError("the response does not have exactly one empty tools array")
    return at + len(EMPTY_TOOLS) - 1


def splice(body: bytes, items: bytes) -> bytes:
    """``body`` with its one empty ``tools`` array filled with ``items``."""
    cut = items_position(body)
    return body[:cut] + items + body[cut:]


class ToolListSplice:
    """ASGI wrapper: fills the ``tools`` array of a ``tools/list`` answer from its slot."""

    def __init__(self, app: ASGIApp, *, gzip: bool = True) -> None:
        self.app = app
        self.packs = PackCache() if gzip else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_tools_list(scope):
            await self.app(scope, receive, send)
            return
        slot = ListSlot()
        scope[SCOPE_SLOT] = slot
        packs = None
        if self.packs is not None:
            accept = b",".join(v for k, v in scope["headers"] if k == b"accept-encoding")
            packs = self.packs if accepts_gzip(accept.decode("latin-1")) else None
        await self.app(scope, receive, _SplicingSend(send, slot, packs))


class _SplicingSend:
    """Holds the response start until the body is known, then splices and sends.

    A response with ``content-length`` (JSON) is collected whole; a streamed one (SSE)
    is spliced chunk by chunk, in the one event that carries the result.
    """

    def __init__(self, send: Send, slot: ListSlot, packs: PackCache | None) -> None:
        self.send = send
        self.slot = slot
        self.packs = packs  # set when the client accepts gzip
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
        start = self.start
        assert start is not None
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        items = self.slot.items
        encoded = any(k.lower() == b"content-encoding" for k, _ in headers)
        if self.packs is not None and items and start["status"] == 200 and not encoded:
            try:
                cut = items_position(body)
            except ValueError:
                cut = -1
            if cut >= 0:
                self.filled = True
                body = gzip_around(body[:cut], self.packs.get(items), body[cut:])
                headers += [(b"content-encoding", b"gzip"), (b"vary", b"accept-encoding")]
        body = self._fill(body)
        headers.append((b"content-length", str(len(body)).encode()))
        await self.send({**start, "headers": headers})
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
