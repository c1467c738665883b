"""The shared store: PostgreSQL through psycopg 3 and an async connection pool.

Several gateway replicas can use one database: counters are checked and incremented
under row locks in one transaction, migrations run under an advisory lock, and every
time is a ``timestamptz`` read back in UTC.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Json, Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from fastn_gen.store.cursor import as_utc, from_micros
from fastn_gen.store.errors import StoreError
from fastn_gen.store.eventsql import EVENT_COLUMNS, events_where, page_of
from fastn_gen.store.migrations import MIGRATIONS, SCHEMA_VERSION_POSTGRES, Migration, pending
from fastn_gen.store.pg_sql import (
    CONSUME,
    FLOW_JOIN,
    HEALTH_COLUMNS,
    HEALTH_OF,
    OUTCOME_FAILED,
    OUTCOME_OK,
    PUT_SECRET,
    SAVE_FLOW_HEAD,
    STATUS_COLUMNS,
    TOKEN_EXPIRY,
    event_row,
    flow_row,
    health_of,
    status_row,
)
from fastn_gen.store.postgres_flowruns import PostgresFlowRuns
from fastn_gen.store.postgres_retention import PostgresRetention
from fastn_gen.store.postgres_tenants import PostgresTenants
from fastn_gen.store.records import (
    CounterLimit,
    CounterRefusal,
    Event,
    EventPage,
    EventQuery,
    FlowRecord,
    HealthChange,
    IntegrationStatus,
    UsageRow,
)
from fastn_gen.store.rules import check_amount, clip_error, merge_counters, page_size

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
Conn = psycopg.AsyncConnection[Any]


_INSERT_EVENT = (
    f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({', '.join(['%s'] * 12)}) ON CONFLICT DO NOTHING"
)


def _event_params(event: Event) -> tuple[Any, ...]:
    return (
        event.id,
        event.tenant_id,
        as_utc(event.at),
        event.type,
        event.status,
        event.connector,
        event.tool,
        event.latency_ms,
        event.upstream_status,
        event.error,
        event.args_digest,
        Jsonb(event.detail),
    )


class PostgresStore(PostgresFlowRuns, PostgresTenants, PostgresRetention):
    """``Store`` on PostgreSQL; ``schema`` keeps the tables out of ``public`` if given."""

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout_s: float = 10.0,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ValueError(f"invalid PostgreSQL schema name {schema!r}")
        self._conninfo = conninfo
        self.schema = schema
        self._min_size, self._max_size = min_size, max_size
        self._connect_timeout_s = connect_timeout_s
        self._migrations = tuple(migrations)
        self._pool: AsyncConnectionPool[Conn] | None = None

    def describe(self) -> str:
        """Where the store lives, without user or password (safe for logs)."""
        parts = conninfo_to_dict(self._conninfo)
        where = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}"
        where += f"/{parts.get('dbname', '')}"
        return where + (f" schema {self.schema}" if self.schema else "")

    async def open(self) -> None:
        if self._pool is not None:
            return
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            self._conninfo,
            min_size=self._min_size,
            max_size=self._max_size,
            kwargs={"autocommit": True},  # transactions are explicit (conn.transaction())
            configure=self._configure,
            check=AsyncConnectionPool.check_connection,  # survives a database restart
            open=False,
            name="fastn-store",
        )
        try:
            await pool.open(wait=True, timeout=self._connect_timeout_s)
            self._pool = pool
            await self._migrate()
        except PoolTimeout as exc:
            await pool.close()
            self._pool = None
            raise StoreError(f"cannot connect to PostgreSQL at {self.describe()}") from exc
        except BaseException:
            await pool.close()
            self._pool = None
            raise

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

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

    async def _configure(self, conn: Conn) -> None:
        await conn.execute("SET TIME ZONE 'UTC'")
        if self.schema is not None:
            await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Conn]:
        if self._pool is None:
            raise StoreError("the store is not open")
        async with self._pool.connection() as conn:
            yield conn

    async def _migrate(self) -> None:
        async with self._connection() as conn, conn.transaction():
            # One migrator per schema at a time, across every process and replica.
            lock = f"fastn_gen.store:{self.schema or 'public'}"
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock,))
            if self.schema is not None:
                await conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                )
            await conn.execute(SCHEMA_VERSION_POSTGRES)
            cur = await conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            row = await cur.fetchone()
            for migration in pending(self._migrations, row[0] if row else 0):
                for statement in migration.postgres:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_version (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )

    async def _fetchall(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        async with self._connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchall()

    async def _rowcount(self, query: str, params: Sequence[Any]) -> int:
        async with self._connection() as conn:
            return (await conn.execute(query, params)).rowcount

    async def schema_versions(self) -> list[int]:
        rows = await self._fetchall("SELECT version FROM schema_version ORDER BY version", ())
        return [row[0] for row in rows]

    # -- events ---------------------------------------------------------------------------
    async def record_event(self, event: Event) -> None:
        await self._rowcount(_INSERT_EVENT, _event_params(event))

    async def list_events(self, tenant_id: str, query: EventQuery) -> EventPage:
        size = page_size(query)
        where, params = events_where(tenant_id, query, mark="%s", time_param=from_micros)
        rows = await self._fetchall(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} ORDER BY at DESC, id DESC LIMIT %s",
            [*params, size + 1],
        )
        return page_of([event_row(row) for row in rows], size)

    async def prune_events(self, before: datetime, tenant_id: str | None = None) -> int:
        return await self._rowcount(
            "DELETE FROM events WHERE at < %s AND (%s::text IS NULL OR tenant_id = %s)",
            (as_utc(before), tenant_id, tenant_id),
        )

    # -- usage ----------------------------------------------------------------------------
    async def consume(
        self, tenant_id: str, counters: Sequence[CounterLimit], amount: int = 1
    ) -> CounterRefusal | None:
        check_amount(amount)
        wanted = merge_counters(counters)
        if not wanted:
            return None
        rows = await self._fetchall(
            CONSUME,
            (
                tenant_id,
                [c.key for c in wanted],
                [c.period for c in wanted],
                [c.limit for c in wanted],
                amount,
            ),
        )
        return CounterRefusal(*rows[0]) if rows else None

    async def usage(self, tenant_id: str, periods: Sequence[str] | None = None) -> list[UsageRow]:
        rows = await self._fetchall(
            "SELECT key, period, used FROM usage_counters WHERE tenant_id = %s AND used > 0 "
            "AND (%s::text[] IS NULL OR period = ANY(%s::text[])) ORDER BY period, key",
            (tenant_id, None if periods is None else list(periods), list(periods or [])),
        )
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
        params: tuple[Any, ...] = (tenant_id, connector, as_utc(at))
        sql = OUTCOME_OK
        if not ok:
            sql, params = OUTCOME_FAILED, (*params, clip_error(error), credentials_expired)
        async with self._connection() as conn, conn.transaction():
            # The row lock held from the first read makes before and after one change.
            cur = await conn.execute(HEALTH_OF + " FOR UPDATE", (tenant_id, connector))
            before = await cur.fetchone()
            cur = await conn.execute(sql + " RETURNING " + HEALTH_COLUMNS, params)
            after = await cur.fetchone()
        assert after is not None  # an upsert always returns its row
        return HealthChange(health_of(before), health_of(after), after[0])

    async def set_token_expiry(
        self, tenant_id: str, connector: str, expires_at: datetime | None
    ) -> None:
        expiry = None if expires_at is None else as_utc(expires_at)
        await self._rowcount(TOKEN_EXPIRY, (tenant_id, connector, expiry))

    async def integration_status(
        self, tenant_id: str, connector: str | None = None
    ) -> list[IntegrationStatus]:
        rows = await self._fetchall(
            f"SELECT {STATUS_COLUMNS} FROM integration_status WHERE tenant_id = %s "
            "AND (%s::text IS NULL OR connector = %s) ORDER BY connector",
            (tenant_id, connector, connector),
        )
        return [status_row(row) for row in rows]

    # -- flows ----------------------------------------------------------------------------
    async def save_flow(
        self, tenant_id: str, name: str, spec: dict[str, Any], *, at: datetime
    ) -> FlowRecord:
        created = as_utc(at)
        async with self._connection() as conn, conn.transaction():
            # The upsert locks the flow's row, so concurrent saves get distinct versions.
            cur = await conn.execute(SAVE_FLOW_HEAD, (tenant_id, name))
            head = await cur.fetchone()
            assert head is not None  # INSERT ... RETURNING always returns the row
            version, enabled = head
            cur = await conn.execute(
                "INSERT INTO flow_versions (tenant_id, name, version, spec, created_at) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING spec",
                (tenant_id, name, version, Json(spec), created),
            )
            stored = await cur.fetchone()
        assert stored is not None
        return FlowRecord(tenant_id, name, version, stored[0], enabled, created)

    async def get_flow(
        self, tenant_id: str, name: str, version: int | None = None
    ) -> FlowRecord | None:
        rows = await self._fetchall(
            FLOW_JOIN + "AND v.version = COALESCE(%s, f.latest_version) "
            "WHERE f.tenant_id = %s AND f.name = %s",
            (version, tenant_id, name),
        )
        return flow_row(rows[0]) if rows else None

    async def list_flows(self, tenant_id: str) -> list[FlowRecord]:
        rows = await self._fetchall(
            FLOW_JOIN + "AND v.version = f.latest_version WHERE f.tenant_id = %s ORDER BY f.name",
            (tenant_id,),
        )
        return [flow_row(row) for row in rows]

    async def list_flow_versions(self, tenant_id: str, name: str) -> list[FlowRecord]:
        rows = await self._fetchall(
            FLOW_JOIN + "WHERE f.tenant_id = %s AND f.name = %s ORDER BY v.version",
            (tenant_id, name),
        )
        return [flow_row(row) for row in rows]

    async def set_flow_enabled(self, tenant_id: str, name: str, enabled: bool) -> bool:
        return (
            await self._rowcount(
                "UPDATE flows SET enabled = %s WHERE tenant_id = %s AND name = %s",
                (enabled, tenant_id, name),
            )
            > 0
        )

    async def delete_flow(self, tenant_id: str, name: str) -> bool:
        async with self._connection() as conn, conn.transaction():
            params = (tenant_id, name)
            await self._delete_runs(conn, tenant_id, name)
            await conn.execute(
                "DELETE FROM flow_versions WHERE tenant_id = %s AND name = %s", params
            )
            cur = await conn.execute("DELETE FROM flows WHERE tenant_id = %s AND name = %s", params)
            return cur.rowcount > 0

    # -- secret blobs ---------------------------------------------------------------------
    async def put_secret_blob(self, tenant_id: str, key: str, blob: bytes) -> None:
        await self._rowcount(PUT_SECRET, (tenant_id, key, bytes(blob), datetime.now(UTC)))

    async def get_secret_blob(self, tenant_id: str, key: str) -> bytes | None:
        rows = await self._fetchall(
            "SELECT blob FROM secret_blobs WHERE tenant_id = %s AND key = %s", (tenant_id, key)
        )
        return bytes(rows[0][0]) if rows else None

    async def delete_secret_blob(self, tenant_id: str, key: str) -> bool:
        return (
            await self._rowcount(
                "DELETE FROM secret_blobs WHERE tenant_id = %s AND key = %s", (tenant_id, key)
            )
            > 0
        )

    async def get_secret_blobs(self, key: str, tenant_ids: Sequence[str]) -> dict[str, bytes]:
        rows = await self._fetchall(
            "SELECT tenant_id, blob FROM secret_blobs WHERE key = %s AND tenant_id = ANY(%s)",
            (key, list(tenant_ids)),
        )
        return {row[0]: bytes(row[1]) for row in rows}

    async def put_secret_blobs(
        self, blobs: Sequence[tuple[str, str, bytes]], *, events: Sequence[Event] = ()
    ) -> None:
        now = datetime.now(UTC)
        blob_rows = [(tenant_id, key, bytes(blob), now) for tenant_id, key, blob in blobs]
        # executemany pipelines each statement: one round trip per batch, not per row.
        async with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            if events:
                await cur.executemany(_INSERT_EVENT, [_event_params(e) for e in events])
            if blob_rows:
                await cur.executemany(PUT_SECRET, blob_rows)
