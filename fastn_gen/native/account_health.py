"""Health per account, for connectors a tenant has connected more than once.

The store keeps one status row per connector, which mixes the outcomes of all its
connections. Each connector call's event names the connection it used
(``detail.connection``), so the status of each connection is derived here from the
connector's most recent events, with the same rules the store applies to its row
(:func:`fastn_gen.store.rules.derive_health`): failures since the last success, a
credential rejected since then, a token expiry from the last successful refresh.

Counts cover the events read (the newest ``EVENTS_READ``, within the retention), not
the connector's whole history as its own ``calls_ok``/``calls_failed`` do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from fastn_gen.gateway.outcome import ToolOutcome
from fastn_gen.gateway.recording import credentials_rejected, reached_upstream
from fastn_gen.store.base import Store
from fastn_gen.store.records import Event, EventQuery, Health
from fastn_gen.store.rules import MAX_PAGE, derive_health

EVENTS_READ = MAX_PAGE


@dataclass(slots=True)
class AccountHealth:
    name: str
    health: Health = "unknown"
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    token_expires_at: datetime | None = None
    calls_ok: int = 0
    calls_failed: int = 0


def _outcome(event: Event) -> ToolOutcome:
    """The parts of the call's outcome its event kept, for the store's own rules."""
    kind = event.detail.get("error_kind")
    return ToolOutcome(
        is_error=event.status == "failure",
        text=event.error or "",
        structured=None,
        upstream_status=event.upstream_status,
        latency_ms=event.latency_ms or 0.0,
        error=kind if isinstance(kind, str) else None,
    )


def _expiry(event: Event) -> datetime | None:
    raw = event.detail.get("expires_at")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def account_health(name: str, events: Iterable[Event]) -> AccountHealth:
    """``name``'s status from the connector's events, newest first."""
    found = AccountHealth(name)
    streak_open = True  # still counting failures newer than the last success
    expired = False
    refresh_seen = False
    for event in events:
        if event.detail.get("connection") != name:
            continue
        if event.type == "credential_refresh":
            if event.status == "success" and not refresh_seen:
                refresh_seen = True
                found.token_expires_at = _expiry(event)
            continue
        if event.type != "tool_call":
            continue
        outcome = _outcome(event)
        if not reached_upstream(outcome):
            continue  # refused arguments and gateway bugs say nothing about the account
        if outcome.is_error:
            found.calls_failed += 1
            if found.last_error_at is None:
                found.last_error_at, found.last_error = event.at, event.error
            if streak_open:
                found.consecutive_failures += 1
                expired = expired or credentials_rejected(outcome)
        else:
            found.calls_ok += 1
            if found.last_success_at is None:
                found.last_success_at = event.at
            streak_open = False
    seen = found.calls_ok + found.calls_failed > 0
    if seen or found.token_expires_at is not None:
        found.health = derive_health(
            consecutive_failures=found.consecutive_failures,
            credentials_expired=expired,
            seen=seen,
        )
    return found


async def accounts_health(
    store: Store, tenant_id: str, connector: str, names: Sequence[str]
) -> list[AccountHealth]:
    """Each of ``names`` (the tenant's connections to ``connector``), in that order."""
    page = await store.list_events(tenant_id, EventQuery(connector=connector, limit=EVENTS_READ))
    return [account_health(name, page.events) for name in names]
