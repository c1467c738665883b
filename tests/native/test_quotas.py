"""Quota enforcement against a real SQLite store, with a controlled clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fastn_gen.gateway.limits import Limits, ScopedLimits
from fastn_gen.gateway.quotas import (
    QuotaEnforcer,
    call_quotas,
    minute_reset,
    month_period,
    month_reset,
)
from fastn_gen.gateway.tenancy import Tenant
from fastn_gen.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 5, 10, 31, 45, 500000, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "fastn.db")
    await s.open()
    yield s
    await s.close()


def tenant(limits: Limits) -> Tenant:
    return Tenant(id="acme", display_name="Acme", plan="pro", connections={}, limits=limits)


def test_periods_reset_at_the_next_month_and_minute() -> None:
    assert month_period(NOW) == "2026-11"
    assert month_reset(NOW) == datetime(2026, 12, 1, tzinfo=UTC)
    assert month_reset(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(
        2027, 1, 1, tzinfo=UTC
    )
    assert minute_reset(NOW) == datetime(2026, 11, 5, 10, 32, tzinfo=UTC)


def test_a_connector_call_counts_per_tenant_connector_and_tool_monthly_first() -> None:
    limits = Limits(
        tool_calls_per_month=10,
        requests_per_minute=5,
        per_connector={"slack": ScopedLimits(None, 2)},
    )
    quotas = call_quotas(limits, "slack", "slack_send_message", NOW)
    assert [(q.key, q.period, q.value) for q in quotas] == [
        ("calls", "2026-11", 10),
        ("calls:connector:slack", "2026-11", None),
        ("calls:tool:slack_send_message", "2026-11", None),
        ("rpm", "2026-11-05T10:31", 5),
        ("rpm:connector:slack", "2026-11-05T10:31", 2),
    ]


def test_a_native_call_counts_only_its_tool_and_the_tenants_rate() -> None:
    quotas = call_quotas(Limits(tool_calls_per_month=0, requests_per_minute=5), None, "x", NOW)
    assert [(q.key, q.value) for q in quotas] == [("calls:tool:x", None), ("rpm", 5)]


async def test_the_call_over_the_monthly_quota_is_refused_and_not_counted(
    store: SQLiteStore,
) -> None:
    clock = Clock(NOW)
    quotas = QuotaEnforcer(store, clock)
    acme = tenant(Limits(tool_calls_per_month=2))
    assert await quotas.consume(acme, "slack", "slack_send_message") is None
    assert await quotas.consume(acme, "slack", "slack_list_channels") is None
    refusal = await quotas.consume(acme, "slack", "slack_send_message")
    assert refusal is not None
    assert refusal.message == (
        "Quota exceeded: tool_calls_per_month for the tenant is 2 tool calls per month and 2 "
        "were used in 2026-11; the quota resets at 2026-12-01T00:00:00Z."
    )
    assert refusal.retry_after_s is None
    assert refusal.structured()["error"] == "quota_exceeded"
    usage = {(r.key, r.period): r.used for r in await store.usage("acme")}
    assert usage[("calls", "2026-11")] == 2
    assert usage[("calls:tool:slack_send_message", "2026-11")] == 1  # the refusal counted nowhere

    clock.now = datetime(2026, 12, 1, tzinfo=UTC)
    assert await quotas.consume(acme, "slack", "slack_send_message") is None


async def test_a_per_connector_quota_names_the_connector(store: SQLiteStore) -> None:
    quotas = QuotaEnforcer(store, Clock(NOW))
    acme = tenant(Limits(per_connector={"shopify": ScopedLimits(1, None)}))
    assert await quotas.consume(acme, "shopify", "shopify_list_orders") is None
    assert await quotas.consume(acme, "slack", "slack_send_message") is None
    refusal = await quotas.consume(acme, "shopify", "shopify_list_orders")
    assert refusal is not None
    assert refusal.quota.describe() == "tool_calls_per_month for connector shopify"
    assert (refusal.limit, refusal.used) == (1, 1)


async def test_the_rate_limit_gives_the_seconds_until_the_next_minute(store: SQLiteStore) -> None:
    clock = Clock(NOW)
    quotas = QuotaEnforcer(store, clock)
    acme = tenant(Limits(requests_per_minute=1))
    assert await quotas.consume(acme, None, "fastn_list_integrations") is None
    refusal = await quotas.consume(acme, "slack", "slack_send_message")
    assert refusal is not None
    assert refusal.retry_after_s == 15  # 10:31:45.5 -> 10:32:00, rounded up
    assert "retry after 15 s" in refusal.message
    assert refusal.structured()["retry_after_s"] == 15
    assert refusal.structured()["error"] == "rate_limited"
    clock.now = NOW + timedelta(seconds=15)
    assert await quotas.consume(acme, "slack", "slack_send_message") is None


async def test_native_calls_do_not_use_the_monthly_quota(store: SQLiteStore) -> None:
    quotas = QuotaEnforcer(store, Clock(NOW))
    acme = tenant(Limits(tool_calls_per_month=0))
    assert await quotas.consume(acme, None, "fastn_get_usage_summary") is None
    assert await quotas.consume(acme, "slack", "slack_send_message") is not None
