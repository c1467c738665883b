"""Builders for the store contract tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastn_gen.store.base import Store
from fastn_gen.store.ids import new_event_id
from fastn_gen.store.records import CounterLimit, Event, EventQuery

T0 = datetime(2026, 11, 29, 9, 0, 0, 123456, tzinfo=UTC)


def event(tenant: str, seconds: float, **fields: Any) -> Event:
    """An event ``seconds`` after ``T0`` (or at ``at=``), a successful Slack call by default."""
    at = fields.pop("at", T0 + timedelta(seconds=seconds))
    values: dict[str, Any] = {
        "type": "tool_call",
        "status": "success",
        "connector": "slack",
        "tool": "slack_post",
    }
    values.update(fields)
    return Event(id=new_event_id(at), tenant_id=tenant, at=at, **values)


async def all_events(store: Store, tenant: str) -> list[Event]:
    page = await store.list_events(tenant, EventQuery(limit=1000))
    assert page.next_cursor is None
    return list(page.events)


async def fill_tenant(store: Store, tenant: str, *, marker: str) -> None:
    """One of everything for ``tenant``, with ``marker`` in every payload."""
    for n in range(5):
        await store.record_event(event(tenant, n, detail={"marker": marker}))
    assert await store.consume(tenant, [CounterLimit("calls", "2026-11", None)]) is None
    await store.record_outcome(tenant, "slack", ok=False, at=T0, error=f"{marker}-error")
    await store.save_flow(tenant, "sync", {"marker": marker}, at=T0)
    await store.save_flow(tenant, f"{tenant}-only-flow", {"marker": marker}, at=T0)
    await store.put_secret_blob(tenant, "oauth:slack", f"{marker}-blob".encode())
    await store.put_secret_blob(tenant, f"only-{tenant}", b"x")
