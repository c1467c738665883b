"""What the admin pages show, read from the registry and the store.

Per-tenant figures come from the same functions as the native tools
(``fastn_list_integrations``, ``fastn_get_usage_summary``), so the console and a
tenant's own view of itself always agree.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, get_args

from fastn_gen.admin.charts import BarChart, bar_chart
from fastn_gen.gateway.services import Services
from fastn_gen.gateway.tenancy import Tenant
from fastn_gen.native.base import CallContext
from fastn_gen.native.integrations import IntegrationSummary, list_integrations
from fastn_gen.native.usage import QuotaUsage, UsageSummaryOutput, usage_summary
from fastn_gen.store.records import Event, EventQuery, EventStatus, EventType

EVENT_TYPES: tuple[str, ...] = get_args(EventType)
EVENT_STATUSES: tuple[str, ...] = get_args(EventStatus)
DEFAULT_EVENT_LIMIT = 50
MAX_EVENT_LIMIT = 200
NAME_LIMIT = 64


@dataclass(frozen=True, slots=True)
class TenantOverview:
    tenant: Tenant
    integrations: list[IntegrationSummary]
    usage: UsageSummaryOutput
    chart: BarChart

    @property
    def health_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.integrations:
            counts[item.health] = counts.get(item.health, 0) + 1
        return counts


@dataclass(frozen=True, slots=True)
class EventFilters:
    tenant: str | None = None
    type: str | None = None
    status: str | None = None
    connector: str | None = None
    tool: str | None = None
    limit: int = DEFAULT_EVENT_LIMIT
    problems: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, params: dict[str, str]) -> EventFilters:
        """From query parameters; an unknown value is reported and ignored."""
        problems: list[str] = []

        def choice(name: str, allowed: tuple[str, ...]) -> str | None:
            value = params.get(name) or None
            if value is not None and value not in allowed:
                problems.append(f"unknown {name} {value!r}")
                return None
            return value

        def name(key: str) -> str | None:
            value = (params.get(key) or "").strip() or None
            if value is not None and len(value) > NAME_LIMIT:
                problems.append(f"{key} is longer than {NAME_LIMIT} characters")
                return None
            return value

        limit = DEFAULT_EVENT_LIMIT
        if params.get("limit"):
            try:
                limit = max(1, min(MAX_EVENT_LIMIT, int(params["limit"])))
            except ValueError:
                problems.append("limit is not a number")
        return cls(
            tenant=name("tenant"),
            type=choice("type", EVENT_TYPES),
            status=choice("status", EVENT_STATUSES),
            connector=name("connector"),
            tool=name("tool"),
            limit=limit,
            problems=tuple(problems),
        )

    def query(self) -> EventQuery:
        return EventQuery(
            type=self.type,  # type: ignore[arg-type]
            status=self.status,  # type: ignore[arg-type]
            connector=self.connector,
            tool=self.tool,
            limit=self.limit,
        )


def quota_chart(usage: UsageSummaryOutput) -> BarChart:
    """Every limit with its usage; without limits, calls per connector this month."""
    rows: list[tuple[str, int, int | None]] = [
        (_quota_label(q), q.used, q.limit_value) for q in usage.quotas
    ]
    if not rows:
        rows = [(f"{c.connector} calls", c.calls, None) for c in usage.connectors]
        rows.insert(0, ("calls this month", usage.calls, None))
    return bar_chart(f"Usage in {usage.period}", rows)


def _quota_label(q: QuotaUsage) -> str:
    where = "tenant" if q.scope == "tenant" else f"{q.scope} {q.target}"
    per = "month" if q.limit == "tool_calls_per_month" else "minute"
    return f"{where}: calls/{per}"


async def tenant_overview(services: Services, tenant: Tenant) -> TenantOverview:
    ctx = CallContext(tenant=tenant, services=services)
    integrations = await list_integrations(ctx)
    usage = await usage_summary(ctx)
    return TenantOverview(tenant, integrations.integrations, usage, quota_chart(usage))


async def all_overviews(services: Services) -> list[TenantOverview]:
    tenants = sorted(services.registry.tenants, key=lambda t: t.id)
    return list(await asyncio.gather(*(tenant_overview(services, t) for t in tenants)))


async def recent_events(services: Services, filters: EventFilters) -> list[Event]:
    """Newest first across the selected tenants, at most ``filters.limit``."""
    await services.flush()
    if filters.tenant is not None:
        tenant = services.registry.get(filters.tenant)
        tenants = [tenant] if tenant is not None else []
    else:
        tenants = list(services.registry.tenants)
    query = filters.query()
    pages = await asyncio.gather(*(services.store.list_events(t.id, query) for t in tenants))
    events = [event for page in pages for event in page.events]
    events.sort(key=lambda e: (e.at, e.id), reverse=True)
    return events[: filters.limit]


def event_row(event: Event) -> dict[str, Any]:
    return {
        "at": event.at.strftime("%Y-%m-%d %H:%M:%S"),
        "tenant": event.tenant_id,
        "type": event.type,
        "status": event.status,
        "connector": event.connector or "",
        "tool": event.tool or "",
        "latency": f"{event.latency_ms:.0f} ms" if event.latency_ms is not None else "",
        "upstream_status": event.upstream_status or "",
        "error": event.error or "",
    }
