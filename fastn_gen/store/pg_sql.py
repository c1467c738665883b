"""PostgreSQL statements and row readers used by ``postgres.PostgresStore``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastn_gen.store.records import Event, FlowRecord, Health, IntegrationStatus
from fastn_gen.store.rules import derive_health

CONSUME = "SELECT * FROM fastn_usage_consume(%s, %s::text[], %s::text[], %s::bigint[], %s)"

STATUS_COLUMNS = (
    "tenant_id, connector, last_success_at, last_error_at, last_error, consecutive_failures, "
    "credentials_expired, token_expires_at, calls_ok, calls_failed"
)

OUTCOME_OK = """
INSERT INTO integration_status AS s (tenant_id, connector, last_success_at, calls_ok)
VALUES (%s, %s, %s, 1)
ON CONFLICT (tenant_id, connector) DO UPDATE SET
    last_success_at = GREATEST(s.last_success_at, EXCLUDED.last_success_at),
    consecutive_failures = 0,
    credentials_expired = false,
    calls_ok = s.calls_ok + 1"""

OUTCOME_FAILED = """
INSERT INTO integration_status AS s (tenant_id, connector, last_error_at, last_error,
    consecutive_failures, credentials_expired, calls_failed)
VALUES (%s, %s, %s, %s, 1, %s, 1)
ON CONFLICT (tenant_id, connector) DO UPDATE SET
    last_error = CASE WHEN s.last_error_at IS NULL OR EXCLUDED.last_error_at >= s.last_error_at
                      THEN EXCLUDED.last_error ELSE s.last_error END,
    last_error_at = GREATEST(s.last_error_at, EXCLUDED.last_error_at),
    consecutive_failures = s.consecutive_failures + 1,
    credentials_expired = s.credentials_expired OR EXCLUDED.credentials_expired,
    calls_failed = s.calls_failed + 1"""

# What an integration's health is derived from, read before and after an outcome.
HEALTH_COLUMNS = "consecutive_failures, credentials_expired, calls_ok + calls_failed"
HEALTH_OF = (
    f"SELECT {HEALTH_COLUMNS} FROM integration_status WHERE tenant_id = %s AND connector = %s"
)

TOKEN_EXPIRY = """
INSERT INTO integration_status (tenant_id, connector, token_expires_at) VALUES (%s, %s, %s)
ON CONFLICT (tenant_id, connector) DO UPDATE SET token_expires_at = EXCLUDED.token_expires_at"""

SAVE_FLOW_HEAD = """
INSERT INTO flows AS f (tenant_id, name, latest_version, enabled) VALUES (%s, %s, 1, true)
ON CONFLICT (tenant_id, name) DO UPDATE SET latest_version = f.latest_version + 1
RETURNING latest_version, enabled"""

FLOW_JOIN = (
    "SELECT f.tenant_id, f.name, v.version, v.spec, f.enabled, v.created_at "
    "FROM flows f JOIN flow_versions v ON v.tenant_id = f.tenant_id AND v.name = f.name "
)

PUT_SECRET = """
INSERT INTO secret_blobs (tenant_id, key, blob, updated_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (tenant_id, key) DO UPDATE SET blob = EXCLUDED.blob, updated_at = EXCLUDED.updated_at"""


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def event_row(row: tuple[Any, ...]) -> Event:
    return Event(
        id=row[0],
        tenant_id=row[1],
        at=row[2].astimezone(UTC),
        type=row[3],
        status=row[4],
        connector=row[5],
        tool=row[6],
        latency_ms=row[7],
        upstream_status=row[8],
        error=row[9],
        args_digest=row[10],
        detail=row[11],
    )


def flow_row(row: tuple[Any, ...]) -> FlowRecord:
    return FlowRecord(row[0], row[1], row[2], row[3], row[4], row[5].astimezone(UTC))


def status_row(row: tuple[Any, ...]) -> IntegrationStatus:
    calls_ok, calls_failed = row[8], row[9]
    return IntegrationStatus(
        tenant_id=row[0],
        connector=row[1],
        health=derive_health(
            consecutive_failures=row[5],
            credentials_expired=row[6],
            seen=calls_ok + calls_failed > 0,
        ),
        last_success_at=_utc(row[2]),
        last_error_at=_utc(row[3]),
        last_error=row[4],
        consecutive_failures=row[5],
        token_expires_at=_utc(row[7]),
        calls_ok=calls_ok,
        calls_failed=calls_failed,
    )


def health_of(row: tuple[Any, ...] | None) -> Health:
    """Health from a ``HEALTH_COLUMNS`` row; ``unknown`` when there is no row yet."""
    if row is None:
        return "unknown"
    return derive_health(consecutive_failures=row[0], credentials_expired=row[1], seen=row[2] > 0)
