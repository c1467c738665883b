"""Tenants, API keys and connections on PostgreSQL (mixed into ``PostgresStore``).

Every change sends a notification on the store's change channel in the same
transaction (``pg_notify``), so it is delivered to listening replicas exactly when it
commits, and never for a change that rolled back (see ``pg_changes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from fastn_gen.store.cursor import as_utc
from fastn_gen.store.pg_changes import ChangeListener, channel_for
from fastn_gen.store.tenant_records import (
    ApiKeyRow,
    ChangeKind,
    ConnectionRow,
    ImportResult,
    TenantImport,
    TenantRecord,
    TenantRow,
)
from fastn_gen.store.tenant_rules import (
    CONNECTION_COLUMNS,
    KEY_COLUMNS,
    TENANT_COLUMNS,
    KeyIdTaken,
    UnknownTenant,
    change_notice,
    check_import,
    import_notices,
    key_scheme,
    tenant_page,
)

Conn = psycopg.AsyncConnection[Any]

_PUT_TENANT = """
INSERT INTO tenants AS t (id, plan, display_name, limits, allow_plaintext, created_at, updated_at,
    toolset)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET plan = EXCLUDED.plan, display_name = EXCLUDED.display_name,
    limits = EXCLUDED.limits, allow_plaintext = EXCLUDED.allow_plaintext,
    updated_at = EXCLUDED.updated_at, toolset = EXCLUDED.toolset
RETURNING (xmax = 0)"""
_PUT_CONNECTION = f"""
INSERT INTO tenant_connections ({CONNECTION_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant_id, name) DO UPDATE SET connector = EXCLUDED.connector,
    credentials = EXCLUDED.credentials, variables = EXCLUDED.variables,
    allow_plaintext = EXCLUDED.allow_plaintext, updated_at = EXCLUDED.updated_at"""
# Inserts a key unless its id exists; returns the owner and hash either way.
_INSERT_KEY = """
WITH added AS (
    INSERT INTO tenant_api_keys (key_id, tenant_id, hash, scheme, label, created_at, toolset)
    VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (key_id) DO NOTHING
    RETURNING tenant_id, hash
)
SELECT tenant_id, hash, true FROM added
UNION ALL SELECT tenant_id, hash, false FROM tenant_api_keys WHERE key_id = %s"""


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def tenant_row(row: tuple[Any, ...]) -> TenantRow:
    return TenantRow(row[0], row[1], row[2], row[3], row[4], _utc(row[5]), _utc(row[6]), row[7])


def key_row(row: tuple[Any, ...]) -> ApiKeyRow:
    return ApiKeyRow(row[0], row[1], row[2], row[3], _utc(row[4]), _utc(row[5]), row[6])


def _jsonb(value: dict[str, Any] | None) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def connection_row(row: tuple[Any, ...]) -> ConnectionRow:
    return ConnectionRow(row[0], row[1], row[2], row[3], row[4], row[5], _utc(row[6]))


def _tenant_params(tenant: TenantRow, at: datetime) -> tuple[Any, ...]:
    limits = None if tenant.limits is None else Jsonb(tenant.limits)
    created = at if tenant.created_at is None else as_utc(tenant.created_at)
    return (tenant.id, tenant.plan, tenant.display_name, limits, tenant.allow_plaintext,
            created, at, _jsonb(tenant.toolset))  # fmt: skip


def _connection_params(conn: ConnectionRow, at: datetime) -> tuple[Any, ...]:
    return (conn.tenant_id, conn.name, conn.connector, Jsonb(conn.credentials),
            Jsonb(conn.variables), conn.allow_plaintext, at)  # fmt: skip


async def _exists(conn: Conn, tenant_id: str) -> bool:
    # Locks the row up front (changes of one tenant queue here, rather than deadlock
    # upgrading shared locks), and a concurrent delete waits for this change to commit.
    cur = await conn.execute("SELECT 1 FROM tenants WHERE id = %s FOR NO KEY UPDATE", (tenant_id,))
    return await cur.fetchone() is not None


async def _insert_key(
    conn: Conn, key: ApiKeyRow, at: datetime, *, replace: bool
) -> tuple[bool, bool]:
    """(usable, written): usable is False when another key already has this id.
    ``replace``: a key of the same tenant with this id gets the new hash (an import)."""
    cur = await conn.execute(
        _INSERT_KEY,
        (
            key.key_id,
            key.tenant_id,
            key.hash,
            key_scheme(key),
            key.label,
            at,
            _jsonb(key.toolset),
            key.key_id,
        ),  # fmt: skip
    )
    owner, stored, added = (await cur.fetchall())[0]
    if owner != key.tenant_id:
        return False, False
    if added or stored == key.hash:
        return True, bool(added)
    if not replace:
        return False, False
    await conn.execute(
        "UPDATE tenant_api_keys SET hash = %s, scheme = %s, label = %s WHERE key_id = %s",
        (key.hash, key_scheme(key), key.label, key.key_id),
    )
    return True, True


class PostgresTenants:
    # Provided by PostgresStore.
    schema: str | None
    _conninfo: str

    @property
    def change_channel(self) -> str:
        """The LISTEN/NOTIFY channel of this store's schema (one per schema)."""
        return channel_for(self.schema)

    def change_listener(self) -> ChangeListener:
        """A listener for this store's change notices (its own connection)."""
        return ChangeListener(self._conninfo, self.change_channel)

    def _connection(self) -> AbstractAsyncContextManager[Conn]:
        raise NotImplementedError

    async def _fetchall(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    async def _notify(self, conn: Conn, kind: ChangeKind, tenant_id: str) -> None:
        await self._notify_raw(conn, change_notice(kind, tenant_id))

    async def _notify_raw(self, conn: Conn, payload: str) -> None:
        await conn.execute("SELECT pg_notify(%s, %s)", (self.change_channel, payload))

    async def put_tenant(self, tenant: TenantRow, *, at: datetime) -> bool:
        async with self._connection() as conn, conn.transaction():
            cur = await conn.execute(_PUT_TENANT, _tenant_params(tenant, as_utc(at)))
            created = await cur.fetchone()
            await self._notify(conn, "tenant", tenant.id)
        return bool(created and created[0])

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        async with self._connection() as conn:
            cur = await conn.execute(
                f"SELECT {TENANT_COLUMNS} FROM tenants WHERE id = %s", (tenant_id,)
            )
            row = await cur.fetchone()
            if row is None:
                return None
            cur = await conn.execute(
                f"SELECT {CONNECTION_COLUMNS} FROM tenant_connections WHERE tenant_id = %s "
                "ORDER BY name",
                (tenant_id,),
            )
            conns = await cur.fetchall()
        return TenantRecord(tenant_row(row), tuple(connection_row(c) for c in conns))

    async def list_tenants(self, *, after: str | None = None, limit: int = 100) -> list[TenantRow]:
        rows = await self._fetchall(
            f"SELECT {TENANT_COLUMNS} FROM tenants WHERE (%s::text IS NULL OR id > %s) "
            "ORDER BY id LIMIT %s",
            (after, after, tenant_page(limit)),
        )
        return [tenant_row(row) for row in rows]

    async def count_tenants(self) -> int:
        rows = await self._fetchall("SELECT COUNT(*) FROM tenants", ())
        return int(rows[0][0])

    async def delete_tenant(self, tenant_id: str) -> bool:
        async with self._connection() as conn, conn.transaction():
            for table in ("tenant_api_keys", "tenant_connections"):
                await conn.execute(f"DELETE FROM {table} WHERE tenant_id = %s", (tenant_id,))
            cur = await conn.execute("DELETE FROM tenants WHERE id = %s", (tenant_id,))
            await self._notify(conn, "tenant", tenant_id)
            return cur.rowcount > 0

    # -- API keys -------------------------------------------------------------------------
    async def add_api_key(self, key: ApiKeyRow, *, at: datetime) -> None:
        key_scheme(key)
        async with self._connection() as conn, conn.transaction():
            if not await _exists(conn, key.tenant_id):
                raise UnknownTenant(f"no tenant {key.tenant_id!r}")
            usable, _ = await _insert_key(conn, key, as_utc(at), replace=False)
            if not usable:
                raise KeyIdTaken(f"API key id {key.key_id!r} is already used")
            await self._notify(conn, "keys", key.tenant_id)

    async def get_api_key(self, key_id: str) -> ApiKeyRow | None:
        rows = await self._fetchall(
            f"SELECT {KEY_COLUMNS} FROM tenant_api_keys WHERE key_id = %s", (key_id,)
        )
        return key_row(rows[0]) if rows else None

    async def list_api_keys(self, tenant_id: str) -> list[ApiKeyRow]:
        rows = await self._fetchall(
            f"SELECT {KEY_COLUMNS} FROM tenant_api_keys WHERE tenant_id = %s ORDER BY key_id",
            (tenant_id,),
        )
        return [key_row(row) for row in rows]

    async def scanned_api_keys(self) -> list[ApiKeyRow]:
        rows = await self._fetchall(
            f"SELECT {KEY_COLUMNS} FROM tenant_api_keys "
            "WHERE scheme <> 'scrypt' AND revoked_at IS NULL ORDER BY key_id",
            (),
        )
        return [key_row(row) for row in rows]

    async def revoke_api_key(self, tenant_id: str, key_id: str, *, at: datetime) -> bool:
        async with self._connection() as conn, conn.transaction():
            cur = await conn.execute(
                "UPDATE tenant_api_keys SET revoked_at = %s "
                "WHERE key_id = %s AND tenant_id = %s AND revoked_at IS NULL",
                (as_utc(at), key_id, tenant_id),
            )
            if cur.rowcount:
                await self._notify(conn, "keys", tenant_id)
            return cur.rowcount > 0

    async def set_toolset(
        self, tenant_id: str, key_id: str | None, toolset: dict[str, Any] | None, *, at: datetime
    ) -> bool:
        moment = as_utc(at)
        async with self._connection() as conn, conn.transaction():
            if not await _exists(conn, tenant_id):  # the tenant's row first, like put
                return False
            if key_id is None:
                cur = await conn.execute(
                    "UPDATE tenants SET toolset = %s, updated_at = %s WHERE id = %s",
                    (_jsonb(toolset), moment, tenant_id),
                )
            else:
                cur = await conn.execute(
                    "UPDATE tenant_api_keys SET toolset = %s WHERE key_id = %s AND tenant_id = %s",
                    (_jsonb(toolset), key_id, tenant_id),
                )
            if cur.rowcount:
                # A tenant's toolset changes its tool list; a key's only its own requests.
                await self._notify(conn, "tenant" if key_id is None else "keys", tenant_id)
            return cur.rowcount > 0

    # -- connections ----------------------------------------------------------------------
    async def put_connection(self, connection: ConnectionRow, *, at: datetime) -> bool:
        moment = as_utc(at)
        async with self._connection() as conn, conn.transaction():
            if not await _exists(conn, connection.tenant_id):
                raise UnknownTenant(f"no tenant {connection.tenant_id!r}")
            cur = await conn.execute(
                _PUT_CONNECTION + " RETURNING (xmax = 0)", _connection_params(connection, moment)
            )
            created = await cur.fetchone()
            await conn.execute(
                "UPDATE tenants SET updated_at = %s WHERE id = %s", (moment, connection.tenant_id)
            )
            await self._notify(conn, "connections", connection.tenant_id)
        return bool(created and created[0])

    async def delete_connection(self, tenant_id: str, name: str, *, at: datetime) -> bool:
        async with self._connection() as conn, conn.transaction():
            if not await _exists(conn, tenant_id):  # the tenant's row first, like put
                return False
            cur = await conn.execute(
                "DELETE FROM tenant_connections WHERE tenant_id = %s AND name = %s",
                (tenant_id, name),
            )
            if cur.rowcount:
                await conn.execute(
                    "UPDATE tenants SET updated_at = %s WHERE id = %s", (as_utc(at), tenant_id)
                )
                await self._notify(conn, "connections", tenant_id)
            return cur.rowcount > 0

    async def import_tenants(self, batch: Sequence[TenantImport], *, at: datetime) -> ImportResult:
        check_import(batch)
        moment = as_utc(at)
        all_keys = [key for item in batch for key in item.keys]
        connections = [c for item in batch for c in item.connections]
        # Whole-batch statements (pipelined by executemany): a large import costs a few
        # round trips per batch rather than several per tenant.
        async with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.executemany(
                _PUT_TENANT, [_tenant_params(i.tenant, moment) for i in batch], returning=True
            )
            created = 0
            while True:
                row = await cur.fetchone()
                created += bool(row and row[0])
                if not cur.nextset():
                    break
            await cur.execute(
                "SELECT key_id, tenant_id, hash FROM tenant_api_keys WHERE key_id = ANY(%s) "
                "FOR UPDATE",
                ([k.key_id for k in all_keys],),
            )
            stored = {row[0]: (row[1], row[2]) for row in await cur.fetchall()}
            taken = [
                k.key_id for k in all_keys if stored.get(k.key_id, (k.tenant_id,))[0] != k.tenant_id
            ]
            if taken:
                raise KeyIdTaken(f"API key id {taken[0]!r} is already used")
            fresh = [k for k in all_keys if k.key_id not in stored]
            edited = [k for k in all_keys if k.key_id in stored and stored[k.key_id][1] != k.hash]
            if fresh:
                await cur.executemany(
                    "INSERT INTO tenant_api_keys (key_id, tenant_id, hash, scheme, label, "
                    "created_at, toolset) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (
                            k.key_id,
                            k.tenant_id,
                            k.hash,
                            key_scheme(k),
                            k.label,
                            moment,
                            _jsonb(k.toolset),
                        )  # fmt: skip
                        for k in fresh
                    ],
                )
            if len(fresh) < len(all_keys):
                # An import sets every key's toolset as the file has it, hash edited or not.
                await cur.executemany(
                    "UPDATE tenant_api_keys SET toolset = %s WHERE key_id = %s",
                    [(_jsonb(k.toolset), k.key_id) for k in all_keys if k.key_id in stored],
                )
            if edited:
                await cur.executemany(
                    "UPDATE tenant_api_keys SET hash = %s, scheme = %s, label = %s "
                    "WHERE key_id = %s",
                    [(k.hash, key_scheme(k), k.label, k.key_id) for k in edited],
                )
            await cur.execute(
                "DELETE FROM tenant_connections WHERE tenant_id = ANY(%s) AND (tenant_id, name) "
                "NOT IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                (
                    [i.tenant.id for i in batch],
                    [c.tenant_id for c in connections],
                    [c.name for c in connections],
                ),
            )
            removed = cur.rowcount
            if connections:
                await cur.executemany(
                    _PUT_CONNECTION, [_connection_params(c, moment) for c in connections]
                )
            for notice in import_notices(batch):
                await self._notify_raw(conn, notice)
        added = len(fresh) + len(edited)
        return ImportResult(created, len(batch) - created, added, len(connections), removed)
