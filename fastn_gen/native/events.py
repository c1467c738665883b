"""``fastn_get_event_history``: the tenant's recorded events, newest first.

Filters map one to one onto :class:`EventQuery`; pages are chained with the opaque
``next_cursor`` of the previous page, which stays stable while new events arrive.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from fastn_gen.native.base import (
    CallContext,
    NativeInput,
    NativeOutput,
    NativeTool,
    NativeToolError,
)
from fastn_gen.store.errors import InvalidCursor
from fastn_gen.store.records import Event, EventQuery

EventTypeName = Literal[
    "tool_call",
    "connection_change",
    "credential_refresh",
    "quota_refusal",
    "auth_failure",
    "flow_run",
]
StatusName = Literal["success", "failure"]
MAX_LIMIT = 200


class EventOut(NativeOutput):
    id: str
    at: datetime
    type: EventTypeName
    status: StatusName
    connector: str | None
    tool: str | None
    latency_ms: float | None
    upstream_status: int | None
    error: str | None = Field(description="The error message, with credentials redacted.")
    args_digest: str | None = Field(
        description="Keyed digest of the call's arguments (equal arguments, equal digest); "
        "the arguments themselves are never stored."
    )
    detail: dict[str, Any]


def event_out(event: Event) -> EventOut:
    return EventOut(
        id=event.id,
        at=event.at,
        type=event.type,
        status=event.status,
        connector=event.connector,
        tool=event.tool,
        latency_ms=event.latency_ms,
        upstream_status=event.upstream_status,
        error=event.error,
        args_digest=event.args_digest,
        detail=dict(event.detail),
    )


class EventHistoryInput(NativeInput):
    since: datetime | None = Field(default=None, description="Only events at or after this time.")
    until: datetime | None = Field(default=None, description="Only events before this time.")
    status: StatusName | None = None
    type: EventTypeName | None = None
    connector: str | None = Field(default=None, max_length=64)
    tool: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT, description="Events per page.")
    cursor: str | None = Field(
        default=None, max_length=512, description="next_cursor of the previous page."
    )

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        # A time without a zone is read as UTC rather than refused.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class EventHistoryOutput(NativeOutput):
    tenant_id: str
    events: list[EventOut]
    next_cursor: str | None = Field(
        description="Pass as cursor for the next page; null at the end."
    )


async def event_history(ctx: CallContext, query: EventQuery) -> EventHistoryOutput:
    await ctx.services.flush()
    try:
        page = await ctx.services.store.list_events(ctx.tenant.id, query)
    except InvalidCursor:
        raise NativeToolError(
            "Invalid cursor: pass the next_cursor of a previous page unchanged",
            {"error": "invalid_cursor"},
        ) from None
    return EventHistoryOutput(
        tenant_id=ctx.tenant.id,
        events=[event_out(e) for e in page.events],
        next_cursor=page.next_cursor,
    )


async def _run(ctx: CallContext, args: EventHistoryInput) -> EventHistoryOutput:
    if args.since is not None and args.until is not None and args.until <= args.since:
        raise NativeToolError("until must be later than since", {"error": "invalid_range"})
    query = EventQuery(
        since=args.since,
        until=args.until,
        status=args.status,
        type=args.type,
        connector=args.connector,
        tool=args.tool,
        limit=args.limit,
        cursor=args.cursor,
    )
    return await event_history(ctx, query)


GET_EVENT_HISTORY = NativeTool(
    name="fastn_get_event_history",
    title="Get event history",
    description=(
        "Recent events of the current tenant, newest first: tool calls (with status, "
        "latency, upstream status and error), quota refusals, authentication failures, "
        "credential refreshes, connection changes and flow runs and their steps "
        "(type flow_run). Filter by time, status, type, connector or tool; page with "
        "next_cursor."
    ),
    input_model=EventHistoryInput,
    output_model=EventHistoryOutput,
    run=_run,
)
