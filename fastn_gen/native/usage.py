"""``fastn_get_usage_summary``: usage in the current period against every limit.

Monthly counters are kept per tenant, connector and tool whether or not a limit is
set, so the summary shows usage per connector and tool as well as each quota's
remaining allowance and reset time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import Field

from fastn_gen.gateway.limits import (
    LIMIT_NAMES,
    MONTHLY,
    PER_MINUTE,
    LimitName,
    Limits,
    ScopedLimits,
)
from fastn_gen.gateway.quotas import Quota, Scope, counter_key, month_start, period_of
from fastn_gen.native.base import CallContext, NativeInput, NativeOutput, NativeTool

_TOOL_PREFIX = counter_key(MONTHLY, "tool", "")


class QuotaUsage(NativeOutput):
    limit: LimitName
    scope: Scope
    target: str | None = Field(description="The connector or tool; null for the tenant.")
    limit_value: int
    used: int
    remaining: int
    period: str
    resets_at: datetime


class ConnectorUsage(NativeOutput):
    connector: str
    calls: int = Field(description="Tool calls this month.")
    quotas: list[QuotaUsage]


class ToolUsage(NativeOutput):
    tool: str
    connector: str | None = Field(description="null for native tools.")
    calls: int


class UsageSummaryInput(NativeInput):
    pass


class UsageSummaryOutput(NativeOutput):
    tenant_id: str
    plan: str
    period: str = Field(description="The current monthly period, e.g. 2026-11 (UTC).")
    period_start: datetime
    resets_at: datetime
    calls: int = Field(description="Connector tool calls this month.")
    quotas: list[QuotaUsage] = Field(description="Every limit that applies, with its usage.")
    connectors: list[ConnectorUsage]
    tools: list[ToolUsage]


def _limited(limits: Limits, now: datetime) -> list[Quota]:
    """Every limit set for the tenant, as quotas of the current period."""
    found: list[Quota] = []
    scoped: list[tuple[Scope, Mapping[str, ScopedLimits]]] = [
        ("connector", limits.per_connector),
        ("tool", limits.per_tool),
    ]
    for name in LIMIT_NAMES:
        period, resets = period_of(name, now)
        value = limits.get(name)
        if value is not None:
            found.append(Quota(name, "tenant", None, value, period, resets))
        for scope, entries in scoped:
            for target, target_limits in entries.items():
                target_value = target_limits.get(name)
                if target_value is not None:
                    found.append(Quota(name, scope, target, target_value, period, resets))
    return found


def _quota_usage(quota: Quota, used: int) -> QuotaUsage:
    assert quota.value is not None
    return QuotaUsage(
        limit=quota.limit,
        scope=quota.scope,
        target=quota.target,
        limit_value=quota.value,
        used=used,
        remaining=max(0, quota.value - used),
        period=quota.period,
        resets_at=quota.resets_at,
    )


async def usage_summary(ctx: CallContext) -> UsageSummaryOutput:
    now = ctx.now
    month, resets = period_of(MONTHLY, now)
    minute, _ = period_of(PER_MINUTE, now)
    await ctx.services.flush()
    rows = await ctx.services.store.usage(ctx.tenant.id, [month, minute])
    used = {(row.key, row.period): row.used for row in rows}
    quotas = [
        _quota_usage(q, used.get((q.key, q.period), 0)) for q in _limited(ctx.tenant.limits, now)
    ]

    catalog = ctx.services.catalog
    connectors = [
        ConnectorUsage(
            connector=name,
            calls=used.get((counter_key(MONTHLY, "connector", name), month), 0),
            quotas=[q for q in quotas if q.scope == "connector" and q.target == name],
        )
        for name in ctx.tenant.connected_connectors()
    ]
    tools = []
    for (key, period), count in sorted(used.items()):
        if period != month or not key.startswith(_TOOL_PREFIX):
            continue
        tool = key[len(_TOOL_PREFIX) :]
        entry = catalog.tools.get(tool)
        tools.append(
            ToolUsage(tool=tool, connector=entry.connector.name if entry else None, calls=count)
        )
    tools.sort(key=lambda t: (-t.calls, t.tool))
    return UsageSummaryOutput(
        tenant_id=ctx.tenant.id,
        plan=ctx.tenant.plan,
        period=month,
        period_start=month_start(now),
        resets_at=resets,
        calls=used.get((counter_key(MONTHLY, "tenant", None), month), 0),
        quotas=quotas,
        connectors=connectors,
        tools=tools,
    )


async def _run(ctx: CallContext, args: UsageSummaryInput) -> UsageSummaryOutput:
    return await usage_summary(ctx)


GET_USAGE_SUMMARY = NativeTool(
    name="fastn_get_usage_summary",
    title="Get usage summary",
    description=(
        "Usage of the current tenant in the current period against every limit of its plan "
        "(tool calls per month, requests per minute, per connector and per tool), with "
        "what remains and when each limit resets; calls per connector and per tool."
    ),
    input_model=UsageSummaryInput,
    output_model=UsageSummaryOutput,
    run=_run,
)
