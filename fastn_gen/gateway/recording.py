"""Events and integration status, written to the store off the call path.

A call hands its records to :class:`EventRecorder`, which queues them (a bounded
queue: under overload callers wait for room rather than events being dropped) and
returns; one background task writes them to the store in order. Readers that must see
every earlier write (the native tools and resources) call :meth:`flush` first, and
:meth:`aclose` writes everything still queued, so a clean shutdown loses nothing.

The writer takes everything queued at once (up to :data:`WRITE_GROUP`). A store that
applies writes in the order they were handed to it (``ordered_writes``: SQLite, whose
writer commits them in groups) gets the whole group handed over together, so a call's
event and status update cost one transaction, shared with every other call's; other
stores get them one after the other, as before.

Arguments are never stored: events carry a keyed digest of them
(:mod:`fastn_gen.gateway.digest`). Error messages are already redacted by the
executor; they are redacted once more here and cut to a bounded length.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Protocol

from fastn_gen.gateway.digest import ArgsDigest
from fastn_gen.gateway.oauth import OAuthContext
from fastn_gen.gateway.outcome import ERR_ARGUMENTS, ERR_OAUTH, ERR_UPSTREAM, ToolOutcome
from fastn_gen.gateway.quotas import QuotaRefusal, utc_now
from fastn_gen.gateway.redact import Redactor
from fastn_gen.gateway.secrets import OAuthToken
from fastn_gen.store.base import Store
from fastn_gen.store.ids import new_event_id
from fastn_gen.store.records import Event, EventStatus, EventType, HealthChange

logger = logging.getLogger(__name__)

ERROR_LIMIT = 500
ERR_INTERNAL = "internal"  # a bug in the gateway, not the upstream's doing
DEFAULT_QUEUE_SIZE = 10_000
WRITE_GROUP = 256

# Errors a 200 answer can carry (Slack's ``ok: false``) that mean the credential itself
# is no longer accepted, as opposed to a bad argument.
AUTH_ERROR_CODES = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "invalid_token",
    }
)
_OK_FALSE = re.compile(r"=false: ([a-z_]+)")

Write = Callable[[Store], Awaitable[None]]
_STOP = object()

# The flow run a tool call is made for (set by the flows engine around each call): its
# events say so, and its failures do not trigger tool_call.failed flows.
FLOW_RUN: ContextVar[str | None] = ContextVar("fastn_flow_run", default=None)


class EventListener(Protocol):
    """Told what was just stored (the flows engine's event triggers); must not block."""

    def tool_call_failed(self, event: Event) -> None: ...

    def health_changed(
        self,
        tenant_id: str,
        connector: str,
        change: HealthChange,
        at: datetime,
        error: str | None,
    ) -> None: ...


def clean_error(text: str | None) -> str | None:
    if not text:
        return None
    cleaned = Redactor()(text)
    return cleaned if len(cleaned) <= ERROR_LIMIT else cleaned[:ERROR_LIMIT] + "…"


def credentials_rejected(outcome: ToolOutcome) -> bool:
    """True when the upstream refused the connection's credential (not the request)."""
    if outcome.upstream_status in (401, 403) or outcome.error == ERR_OAUTH:
        return True
    if outcome.error == ERR_UPSTREAM:
        found = _OK_FALSE.search(outcome.text)
        return found is not None and found.group(1) in AUTH_ERROR_CODES
    return False


def reached_upstream(outcome: ToolOutcome) -> bool:
    """Whether the outcome says something about the integration's health.

    Arguments refused before a request was built, and gateway bugs, say nothing about
    the upstream.
    """
    return outcome.error not in (ERR_ARGUMENTS, ERR_INTERNAL)


class EventRecorder:
    def __init__(
        self,
        store: Store,
        digest: ArgsDigest,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        # The store applies writes in the order they are started (see the module doc).
        self._ordered = bool(getattr(store, "ordered_writes", False))
        self.digest = digest
        self.clock = clock
        self._queue: asyncio.Queue[Write | asyncio.Future[None] | object] = asyncio.Queue(
            queue_size
        )
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.failed = 0
        self.waited_for_room = 0
        # Told of every event as it is recorded, on the call path (the metrics); must
        # be quick and must not raise.
        self.observers: list[Callable[[Event], None]] = []
        self.listener: EventListener | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer task on the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="fastn-event-writer"
            )

    async def flush(self) -> None:
        """Return once every record queued before this call is in the store."""
        if self._task is None or self._task.done():
            await self._drain_inline()
            return
        marker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._put(marker)
        await marker

    async def aclose(self) -> None:
        """Write everything queued, then stop the writer."""
        if self._task is None or self._task.done():
            await self._drain_inline()
            return
        await self._queue.put(_STOP)
        await self._task
        self._task = None

    # -- the queue ------------------------------------------------------------------------

    async def _put(self, item: Write | asyncio.Future[None]) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            # Back-pressure instead of loss: the writer is behind, so wait for room.
            self.waited_for_room += 1
            if self.waited_for_room == 1:
                logger.warning("event queue full; calls wait for the store to catch up")
            await self._queue.put(item)

    async def _run(self) -> None:
        while True:
            group = [await self._queue.get()]
            # Everything queued meanwhile, up to a marker or the stop (they end a group).
            while len(group) < WRITE_GROUP and callable(group[-1]) and not self._queue.empty():
                group.append(self._queue.get_nowait())
            end = group[-1]
            writes = group if callable(end) else group[:-1]
            if self._ordered and len(writes) > 1:
                await asyncio.gather(*(self._apply(write) for write in writes))
            else:
                for write in writes:
                    await self._apply(write)
            if end is _STOP:
                return
            if not callable(end):
                await self._apply(end)

    async def _drain_inline(self) -> None:
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not _STOP:
                await self._apply(item)

    async def _apply(self, item: object) -> None:
        if isinstance(item, asyncio.Future):
            if not item.done():
                item.set_result(None)
            return
        write: Write = item  # type: ignore[assignment]
        try:
            await write(self.store)
            self.written += 1
        except Exception:
            # A store failure must not stop the writer, nor reach the caller.
            self.failed += 1
            logger.exception("could not write a record to the store")

    # -- what gets recorded ---------------------------------------------------------------

    async def event(
        self,
        tenant_id: str,
        type: EventType,
        status: EventStatus,
        *,
        connector: str | None = None,
        tool: str | None = None,
        latency_ms: float | None = None,
        upstream_status: int | None = None,
        error: str | None = None,
        arguments: Mapping[str, Any] | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        event = self.observed_event(
            tenant_id,
            type,
            status,
            connector=connector,
            tool=tool,
            latency_ms=latency_ms,
            upstream_status=upstream_status,
            error=error,
            arguments=arguments,
            detail=detail,
        )
        flow_run = FLOW_RUN.get()

        async def write(store: Store) -> None:
            await store.record_event(event)
            failed_call = type == "tool_call" and status == "failure"
            if failed_call and flow_run is None and self.listener is not None:
                self.listener.tool_call_failed(event)

        await self._put(write)

    def observed_event(
        self,
        tenant_id: str,
        type: EventType,
        status: EventStatus,
        *,
        connector: str | None = None,
        tool: str | None = None,
        latency_ms: float | None = None,
        upstream_status: int | None = None,
        error: str | None = None,
        arguments: Mapping[str, Any] | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> Event:
        """The event :meth:`event` records, made now and shown to the observers, but not
        written: for a caller that stores many events in one transaction of its own."""
        at = self.clock()
        flow_run = FLOW_RUN.get()
        event = Event(
            id=new_event_id(at),
            tenant_id=tenant_id,
            at=at,
            type=type,
            status=status,
            connector=connector,
            tool=tool,
            latency_ms=round(latency_ms, 3) if latency_ms is not None else None,
            upstream_status=upstream_status,
            error=clean_error(error),
            args_digest=self.digest(arguments) if arguments is not None else None,
            detail={**(detail or {}), **({"flow_run": flow_run} if flow_run else {})},
        )
        for observe in self.observers:
            observe(event)
        return event

    async def outcome(
        self,
        tenant_id: str,
        connector: str,
        *,
        ok: bool,
        error: str | None = None,
        credentials_expired: bool = False,
    ) -> None:
        at = self.clock()
        message = clean_error(error)

        async def write(store: Store) -> None:
            change = await store.record_outcome(
                tenant_id,
                connector,
                ok=ok,
                at=at,
                error=message,
                credentials_expired=credentials_expired,
            )
            if change.changed and self.listener is not None:
                self.listener.health_changed(tenant_id, connector, change, at, message)

        await self._put(write)

    async def tool_call(
        self,
        tenant_id: str,
        tool: str,
        connector: str,
        outcome: ToolOutcome,
        arguments: Mapping[str, Any] | None,
        *,
        connection: str | None = None,
    ) -> None:
        """A connector tool call that ran: its event, and the integration's status.

        ``connection`` names the tenant's connection the call used (None when the call
        was refused before one was chosen).
        """
        detail: dict[str, Any] = {}
        if outcome.error:
            detail["error_kind"] = outcome.error
        if connection is not None:
            detail["connection"] = connection
        await self.event(
            tenant_id,
            "tool_call",
            "failure" if outcome.is_error else "success",
            connector=connector,
            tool=tool,
            latency_ms=outcome.latency_ms,
            upstream_status=outcome.upstream_status,
            error=outcome.text if outcome.is_error else None,
            arguments=arguments,
            detail=detail,
        )
        if reached_upstream(outcome):
            await self.outcome(
                tenant_id,
                connector,
                ok=not outcome.is_error,
                error=outcome.text if outcome.is_error else None,
                credentials_expired=outcome.is_error and credentials_rejected(outcome),
            )

    async def quota_refusal(
        self,
        tenant_id: str,
        tool: str,
        connector: str | None,
        refusal: QuotaRefusal,
        arguments: Mapping[str, Any] | None,
    ) -> None:
        detail = refusal.structured()
        detail.pop("message", None)
        await self.event(
            tenant_id,
            "quota_refusal",
            "failure",
            connector=connector,
            tool=tool,
            error=refusal.message,
            arguments=arguments,
            detail=detail,
        )

    async def auth_failure(self, tenant_id: str, reason: str, **detail: Any) -> None:
        await self.event(tenant_id, "auth_failure", "failure", error=reason, detail=detail)

    async def credential_refresh(
        self,
        tenant_id: str,
        connector: str,
        connection: str,
        *,
        ok: bool,
        expires_at: float | None = None,
        error: str | None = None,
    ) -> None:
        expiry = datetime.fromtimestamp(expires_at, UTC) if expires_at is not None else None
        detail: dict[str, Any] = {"connection": connection}
        if expiry is not None:
            detail["expires_at"] = expiry.isoformat().replace("+00:00", "Z")
        await self.event(
            tenant_id,
            "credential_refresh",
            "success" if ok else "failure",
            connector=connector,
            error=error,
            detail=detail,
        )
        if ok:

            async def write(store: Store) -> None:
                await store.set_token_expiry(tenant_id, connector, expiry)

            await self._put(write)

    # -- RefreshObserver (fastn_gen.gateway.oauth) ----------------------------------------

    async def refresh_succeeded(self, ctx: OAuthContext, token: OAuthToken) -> None:
        await self.credential_refresh(
            ctx.tenant_id, ctx.connector.name, ctx.connection, ok=True, expires_at=token.expires_at
        )

    async def refresh_failed(self, ctx: OAuthContext, error: str) -> None:
        await self.credential_refresh(
            ctx.tenant_id, ctx.connector.name, ctx.connection, ok=False, error=error
        )
