"""The embedded store: one SQLite file under the data directory (see docs/store.md)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from fastn_gen.store.cursor import from_micros, to_micros
from fastn_gen.store.eventsql import EVENT_COLUMNS, events_where, page_of
from fastn_gen.store.migrations import MIGRATIONS, SCHEMA_VERSION_SQLITE, Migration, pending
from fastn_gen.store.records import (
    CounterLimit,
    CounterRefusal,
    Event,
    EventPage,
    EventQuery,
    FlowRecord,
    Health,
    HealthChange,
    IntegrationStatus,
    UsageRow,
)
from fastn_gen.store.rules import (
    check_amount,
    clip_error,
    derive_health,
    first_refusal,
    merge_counters,
    page_size,
)
from fastn_gen.store.sqlite_flowruns import SQLiteFlowRuns
from fastn_gen.store.sqlite_retention import SQLiteRetention
from fastn_gen.store.sqlite_runner import SQLiteRunner
from fastn_gen.store.sqlite_tenants import SQLiteTenants

_FLOW_JOIN = (
    "SELECT f.tenant_id, f.name, v.version, v.spec, f.enabled, v.created_at "
    "FROM flows f JOIN flow_versions v "
    "ON v.tenant_id = f.tenant_id AND v.name = f.name "
)
_STATUS_COLUMNS = (
    "tenant_id, connector, last_success_at, last_error_at, last_error, consecutive_failures, "
    "credentials_expired, token_expires_at, calls_ok, calls_failed"
)
_OUTCOME_OK = """
INSERT INTO integration_status (tenant_id, connector, last_success_at, calls_ok)
VALUES (?, ?, ?, 1)
ON CONFLICT (tenant_id, connector) DO UPDATE SET
    last_success_at = MAX(COALESCE(last_success_at, excluded.last_success_at),
                          excluded.last_success_at),
    consecutive_failures = 0,
    credentials_expired = 0,
    calls_ok = calls_ok + 1"""
_OUTCOME_FAILED = """
INSERT INTO integration_status (tenant_id, connector, last_error_at, last_error,
    consecutive_failures, credentials_expired, calls_failed)
VALUES (?, ?, ?, ?, 1, ?, 1)
ON CONFLICT (tenant_id, connector) DO UPDATE SET
    last_error = CASE WHEN last_error_at IS NULL OR excluded.last_error_at >= last_error_at
                      THEN excluded.last_error ELSE last_error END,
    last_error_at = MAX(COALESCE(last_error_at, excluded.last_error_at),
                        excluded.last_error_at),
    consecutive_failures = consecutive_failures + 1,
    credentials_expired = MAX(credentials_expired, excluded.credentials_expired),
    calls_failed = calls_failed + 1"""


_HEALTH_OF = (
    "SELECT consecutive_failures, credentials_expired, calls_ok + calls_failed "
    "FROM integration_status WHERE tenant_id = ? AND connector = ?"
)


def _health(row: tuple[Any, ...] | None) -> Health:
    if row is None:
        return "unknown"
    return derive_health(
        consecutive_failures=row[0], credentials_expired=bool(row[1]), seen=row[2] > 0
    )


def _time(micros: int | None) -> datetime | None:
    return None if micros is None else from_micros(micros)


def _event(row: tuple[Any, ...]) -> Event:
    return Event(
        id=row[0],
        tenant_id=row[1],
        at=from_micros(row[2]),
        type=row[3],
        status=row[4],
        connector=row[5],
        tool=row[6],
        latency_ms=row[7],
        upstream_status=row[8],
        error=row[9],
        args_digest=row[10],
        detail=json.loads(row[11]),
    )


_INSERT_EVENT = (
    f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({', '.join('?' * 12)}) ON CONFLICT DO NOTHING"
)
_PUT_SECRET = (
    "INSERT INTO secret_blobs (tenant_id, key, blob, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (tenant_id, key) DO UPDATE SET "
    "blob = excluded.blob, updated_at = excluded.updated_at"
)


def _event_params(event: Event) -> tuple[Any, ...]:
    return (
        event.id,
        event.tenant_id,
        to_micros(event.at),
        event.type,
        event.status,
        event.connector,
        event.tool,
        event.latency_ms,
        event.upstream_status,
        event.error,
        event.args_digest,
        json.dumps(event.detail, separators=(",", ":")),
    )


def _flow(row: tuple[Any, ...]) -> FlowRecord:
    return FlowRecord(row[0], row[1], row[2], json.loads(row[3]), bool(row[4]), from_micros(row[5]))


def _status(row: tuple[Any, ...]) -> IntegrationStatus:
    calls_ok, calls_failed = row[8], row[9]
    return IntegrationStatus(
        tenant_id=row[0],
        connector=row[1],
        health=derive_health(
            consecutive_failures=row[5],
            credentials_expired=bool(row[6]),
            seen=calls_ok + calls_failed > 0,
        ),
        last_success_at=_time(row[2]),
        last_error_at=_time(row[3]),
        last_error=row[4],
        consecutive_failures=row[5],
        token_expires_at=_time(row[7]),
        calls_ok=calls_ok,
        calls_failed=calls_failed,
    )


class SQLiteStore(SQLiteFlowRuns, SQLiteTenants, SQLiteRetention):
    """``Store`` on one SQLite file; safe for several processes sharing that file."""

    # Writes are applied in the order they are started (one queue, one writer thread).
    ordered_writes = True

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout_s: float = 10.0,
        readers: int = 4,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        self.path = Path(path)
        self._runner = SQLiteRunner(self.path, busy_timeout_s=busy_timeout_s, readers=readers)
        self._migrations = tuple(migrations)

    async def open(self) -> None:
        if self._runner.running:
            return
        self._runner.start()
        try:
            await self._runner.write(self._migrate)
        except BaseException:
            self._runner.stop()
            raise

    async def close(self) -> None:
        # Waits for queued work to finish; off the loop so other tasks keep running.
        await asyncio.get_running_loop().run_in_executor(None, self._runner.stop)

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute(SCHEMA_VERSION_SQLITE)
        current = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        for migration in pending(self._migrations, current[0]):
            for statement in migration.sqlite:
                db.execute(statement)
            db.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, to_micros(datetime.now(UTC))),
            )

    async def schema_versions(self) -> list[int]:
        """Applied migration versions, in order (for diagnostics and tests)."""
        rows = await self._runner.read(
            lambda db: db.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        )
        return [row[0] for row in rows]

    # -- events ---------------------------------------------------------------------------
    async def record_event(self, event: Event) -> None:
        params = _event_params(event)
        await self._runner.write(lambda db: db.execute(_INSERT_EVENT, params))

    async def list_events(self, tenant_id: str, query: EventQuery) -> EventPage:
        size = page_size(query)
        where, params = events_where(tenant_id, query, mark="?", time_param=lambda us: us)
        sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} ORDER BY at DESC, id DESC LIMIT ?"
        rows = await self._runner.read(lambda db: db.execute(sql, [*params, size + 1]).fetchall())
        return page_of([_event(row) for row in rows], size)

    async def prune_events(self, before: datetime, tenant_id: str | None = None) -> int:
        sql, params = "DELETE FROM events WHERE at < ?", [to_micros(before), tenant_id]
        sql += " AND tenant_id = ?" if tenant_id is not None else " AND ? IS NULL"
        return await self._runner.write(lambda db: db.execute(sql, params).rowcount)

    # -- usage ----------------------------------------------------------------------------
    async def consume(
        self, tenant_id: str, counters: Sequence[CounterLimit], amount: int = 1
    ) -> CounterRefusal | None:
        check_amount(amount)
        wanted = merge_counters(counters)
        if not wanted:
            return None

        def work(db: sqlite3.Connection) -> CounterRefusal | None:
            # Runs inside BEGIN IMMEDIATE: no other writer can move these counters between
            # the check and the increment, in this process or any other.
            used: dict[tuple[str, str], int] = {}
            for counter in wanted:
                row = db.execute(
                    "SELECT used FROM usage_counters "
                    "WHERE tenant_id = ? AND key = ? AND period = ?",
                    (tenant_id, counter.key, counter.period),
                ).fetchone()
                used[(counter.key, counter.period)] = row[0] if row else 0
            refusal = first_refusal(wanted, used, amount)
            if refusal is None:
                db.executemany(
                    "INSERT INTO usage_counters (tenant_id, key, period, used) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id, key, period) "
                    "DO UPDATE SET used = used + excluded.used",
                    [(tenant_id, c.key, c.period, amount) for c in wanted],
                )
            return refusal

        return await self._runner.write(work)

    async def usage(self, tenant_id: str, periods: Sequence[str] | None = None) -> list[UsageRow]:
        sql, params = (
            "SELECT key, period, used FROM usage_counters WHERE tenant_id = ? AND used > 0",
            [tenant_id],
        )
        if periods is not None:
            sql += f" AND period IN ({', '.join('?' * len(periods))})" if periods else " AND 0"
            params.extend(periods)
        sql += " ORDER BY period, key"
        rows = await self._runner.read(lambda db: db.execute(sql, params).fetchall())
        return [UsageRow(key, period, used) for key, period, used in rows]

    # -- integration status ---------------------------------------------------------------
    async def record_outcome(
        self,
        tenant_id: str,
        connector: str,
        *,
        ok: bool,
        at: datetime,
        error: str | None = None,
        credentials_expired: bool = False,
    ) -> HealthChange:
        moment = to_micros(at)
        sql, params = (
            (_OUTCOME_OK, (tenant_id, connector, moment))
            if ok
            else (
                _OUTCOME_FAILED,
                (tenant_id, connector, moment, clip_error(error), int(credentials_expired)),
            )
        )

        def work(db: sqlite3.Connection) -> HealthChange:
            # One write transaction: no other writer moves the row between the reads.
            before = db.execute(_HEALTH_OF, (tenant_id, connector)).fetchone()
            db.execute(sql, params)
            after = db.execute(_HEALTH_OF, (tenant_id, connector)).fetchone()
            return HealthChange(_health(before), _health(after), after[0])

        return await self._runner.write(work)

    async def set_token_expiry(
        self, tenant_id: str, connector: str, expires_at: datetime | None
    ) -> None:
        params = (tenant_id, connector, None if expires_at is None else to_micros(expires_at))
        await self._runner.write(
            lambda db: db.execute(
                "INSERT INTO integration_status (tenant_id, connector, token_expires_at) "
                "VALUES (?, ?, ?) ON CONFLICT (tenant_id, connector) "
                "DO UPDATE SET token_expires_at = excluded.token_expires_at",
                params,
            )
        )

    async def integration_status(
        self, tenant_id: str, connector: str | None = None
    ) -> list[IntegrationStatus]:
        sql = f"SELECT {_STATUS_COLUMNS} FROM integration_status WHERE tenant_id = ?"
        params = [tenant_id]
        if connector is not None:
            sql, params = sql + " AND connector = ?", [tenant_id, connector]
        rows = await self._runner.read(
            lambda db: db.execute(sql + " ORDER BY connector", params).fetchall()
        )
        return [_status(row) for row in rows]

    # -- flows ----------------------------------------------------------------------------
    async def save_flow(
        self, tenant_id: str, name: str, spec: dict[str, Any], *, at: datetime
    ) -> FlowRecord:
        text, created = json.dumps(spec, separators=(",", ":")), to_micros(at)

        def work(db: sqlite3.Connection) -> FlowRecord:
            version, enabled = db.execute(
                "INSERT INTO flows (tenant_id, name, latest_version, enabled) "
                "VALUES (?, ?, 1, 1) ON CONFLICT (tenant_id, name) "
                "DO UPDATE SET latest_version = latest_version + 1 "
                "RETURNING latest_version, enabled",
                (tenant_id, name),
            ).fetchone()
            db.execute(
                "INSERT INTO flow_versions (tenant_id, name, version, spec, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (tenant_id, name, version, text, created),
            )
            return FlowRecord(
                tenant_id, name, version, json.loads(text), bool(enabled), from_micros(created)
            )

        return await self._runner.write(work)

    async def get_flow(
        self, tenant_id: str, name: str, version: int | None = None
    ) -> FlowRecord | None:
        sql = _FLOW_JOIN + (
            "AND v.version = COALESCE(?, f.latest_version) WHERE f.tenant_id = ? AND f.name = ?"
        )
        row = await self._runner.read(
            lambda db: db.execute(sql, (version, tenant_id, name)).fetchone()
        )
        return None if row is None else _flow(row)

    async def list_flows(self, tenant_id: str) -> list[FlowRecord]:
        sql = _FLOW_JOIN + "AND v.version = f.latest_version WHERE f.tenant_id = ? ORDER BY f.name"
        rows = await self._runner.read(lambda db: db.execute(sql, (tenant_id,)).fetchall())
        return [_flow(row) for row in rows]

    async def list_flow_versions(self, tenant_id: str, name: str) -> list[FlowRecord]:
        sql = _FLOW_JOIN + "WHERE f.tenant_id = ? AND f.name = ? ORDER BY v.version"
        rows = await self._runner.read(lambda db: db.execute(sql, (tenant_id, name)).fetchall())
        return [_flow(row) for row in rows]

    async def set_flow_enabled(self, tenant_id: str, name: str, enabled: bool) -> bool:
        sql = "UPDATE flows SET enabled = ? WHERE tenant_id = ? AND name = ?"
        params = (int(enabled), tenant_id, name)
        return await self._runner.write(lambda db: db.execute(sql, params).rowcount > 0)

    async def delete_flow(self, tenant_id: str, name: str) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            where = "WHERE tenant_id = ? AND name = ?"
            self._delete_runs(db, tenant_id, name)
            db.execute(f"DELETE FROM flow_versions {where}", (tenant_id, name))
            return db.execute(f"DELETE FROM flows {where}", (tenant_id, name)).rowcount > 0

        return await self._runner.write(work)

    # -- secret blobs ---------------------------------------------------------------------
    async def put_secret_blob(self, tenant_id: str, key: str, blob: bytes) -> None:
        params = (tenant_id, key, bytes(blob), to_micros(datetime.now(UTC)))
        await self._runner.write(lambda db: db.execute(_PUT_SECRET, params))

    async def get_secret_blob(self, tenant_id: str, key: str) -> bytes | None:
        row = await self._runner.read(
            lambda db: db.execute(
                "SELECT blob FROM secret_blobs WHERE tenant_id = ? AND key = ?", (tenant_id, key)
            ).fetchone()
        )
        return None if row is None else bytes(row[0])

    async def delete_secret_blob(self, tenant_id: str, key: str) -> bool:
        sql = "DELETE FROM secret_blobs WHERE tenant_id = ? AND key = ?"
        return await self._runner.write(lambda db: db.execute(sql, (tenant_id, key)).rowcount > 0)

    async def get_secret_blobs(self, key: str, tenant_ids: Sequence[str]) -> dict[str, bytes]:
        # The ids as one JSON parameter: no limit on how many, one statement.
        sql = (
            "SELECT tenant_id, blob FROM secret_blobs WHERE key = ? "
            "AND tenant_id IN (SELECT value FROM json_each(?))"
        )
        params = (key, json.dumps(list(tenant_ids)))
        rows = await self._runner.read(lambda db: db.execute(sql, params).fetchall())
        return {row[0]: bytes(row[1]) for row in rows}

    async def put_secret_blobs(
        self, blobs: Sequence[tuple[str, str, bytes]], *, events: Sequence[Event] = ()
    ) -> None:
        now = to_micros(datetime.now(UTC))
        blob_rows = [(tenant_id, key, bytes(blob), now) for tenant_id, key, blob in blobs]
        event_rows = [_event_params(event) for event in events]

        def work(db: sqlite3.Connection) -> None:
            db.executemany(_INSERT_EVENT, event_rows)
            db.executemany(_PUT_SECRET, blob_rows)

        await self._runner.write(work)
