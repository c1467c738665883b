"""Per-account health derived from a connector's events (newest first)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastn_gen.native.account_health import account_health
from fastn_gen.store.records import Event, EventStatus, EventType

START = datetime(2026, 11, 1, tzinfo=UTC)


def event(
    n: int,
    connection: str | None,
    status: EventStatus = "success",
    *,
    type: EventType = "tool_call",
    upstream_status: int | None = 200,
    **detail: Any,
) -> Event:
    if connection is not None:
        detail["connection"] = connection
    return Event(
        id=f"e{n}",
        tenant_id="t",
        at=START + timedelta(minutes=n),
        type=type,
        status=status,
        connector="slack",
        tool="slack_list_channels",
        upstream_status=upstream_status,
        error=f"failed {n}" if status == "failure" else None,
        detail=detail,
    )


def newest_first(*events: Event) -> list[Event]:
    return sorted(events, key=lambda e: e.at, reverse=True)


def test_failures_since_the_last_success_count_for_their_account_only() -> None:
    events = newest_first(
        event(1, "eu", "failure", upstream_status=500, error_kind="http_status"),
        event(2, "us"),
        event(3, "eu"),
        event(4, "eu", "failure", upstream_status=500, error_kind="http_status"),
        event(5, "eu", "failure", upstream_status=500, error_kind="http_status"),
        event(6, "us"),
    )
    eu = account_health("eu", events)
    assert (eu.health, eu.consecutive_failures) == ("degraded", 2)
    assert (eu.calls_ok, eu.calls_failed) == (1, 3)
    assert eu.last_success_at == START + timedelta(minutes=3)
    assert (eu.last_error_at, eu.last_error) == (START + timedelta(minutes=5), "failed 5")
    us = account_health("us", events)
    assert (us.health, us.consecutive_failures, us.last_error) == ("healthy", 0, None)


def test_refused_arguments_say_nothing_about_the_account() -> None:
    refused = event(2, "eu", "failure", upstream_status=None, error_kind="invalid_arguments")
    found = account_health("eu", newest_first(event(1, "eu"), refused))
    assert (found.health, found.calls_failed) == ("healthy", 0)


def test_a_rejected_credential_and_the_token_expiry() -> None:
    expiry = "2026-12-01T00:00:00Z"
    events = newest_first(
        event(1, "eu", type="credential_refresh", upstream_status=None, expires_at=expiry),
        event(2, "eu", "failure", upstream_status=401, error_kind="http_status"),
    )
    found = account_health("eu", events)
    assert found.health == "credentials_expired"
    assert found.token_expires_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert account_health("us", events).health == "unknown"
