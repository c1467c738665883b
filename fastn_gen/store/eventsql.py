"""The WHERE clause and paging of an events query, for either SQL dialect."""

from __future__ import annotations

from collections.abc import Callable

from fastn_gen.store.cursor import decode_cursor, encode_cursor, to_micros
from fastn_gen.store.records import Event, EventPage, EventQuery

EVENT_COLUMNS = (
    "id, tenant_id, at, type, status, connector, tool, latency_ms, upstream_status, "
    "error, args_digest, detail"
)


def events_where(
    tenant_id: str,
    query: EventQuery,
    *,
    mark: str,
    time_param: Callable[[int], object],
) -> tuple[str, list[object]]:
    """``mark`` is the dialect's placeholder; ``time_param`` turns epoch microseconds
    into the value the dialect compares ``at`` with."""
    clauses = [f"tenant_id = {mark}"]
    params: list[object] = [tenant_id]
    if query.since is not None:
        clauses.append(f"at >= {mark}")
        params.append(time_param(to_micros(query.since)))
    if query.until is not None:
        clauses.append(f"at < {mark}")
        params.append(time_param(to_micros(query.until)))
    for column, value in (
        ("status", query.status),
        ("type", query.type),
        ("connector", query.connector),
        ("tool", query.tool),
    ):
        if value is not None:
            clauses.append(f"{column} = {mark}")
            params.append(value)
    if query.cursor is not None:
        at_micros, event_id = decode_cursor(query.cursor)
        # Row comparison keeps the (tenant, at, id) index usable for the keyset seek.
        clauses.append(f"(at, id) < ({mark}, {mark})")
        params.extend([time_param(at_micros), event_id])
    return " AND ".join(clauses), params


def page_of(events: list[Event], size: int) -> EventPage:
    """``events`` was fetched with ``LIMIT size + 1``: the extra row says a page follows."""
    if len(events) <= size:
        return EventPage(tuple(events), None)
    last = events[size - 1]
    return EventPage(tuple(events[:size]), encode_cursor(to_micros(last.at), last.id))
