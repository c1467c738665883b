"""Tenants, API keys and connections on SQLite (mixed into ``SQLiteStore``).

SQLite has no notifications: replicas sharing the file see changes when their cache
entries expire (see docs/tenants.md).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastn_gen.store.cursor import from_micros, to_micros
from fastn_gen.store.sqlite_runner import SQLiteRunner
from fastn_gen.store.tenant_records import (
    ApiKeyRow,
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
    check_import,
    key_scheme,
    tenant_page,
)

_PUT_TENANT = """
INSERT INTO tenants (id, plan, display_name, limits, allow_plaintext, created_at, updated_at,
    toolset)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET plan = excluded.plan, display_name = excluded.display_name,
    limits = excluded.limits, allow_plaintext = excluded.allow_plaintext,
    updated_at = excluded.updated_at, toolset = excluded.toolset"""
_PUT_CONNECTION = f"""
INSERT INTO tenant_connections ({CONNECTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, name) DO UPDATE SET connector = excluded.connector,
    credentials = excluded.credentials, variables = excluded.variables,
    allow_plaintext = excluded.allow_plaintext, updated_at = excluded.updated_at"""


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _time(micros: int | None) -> datetime | None:
    return None if micros is None else from_micros(micros)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def tenant_row(row: tuple[Any, ...]) -> TenantRow:
    return TenantRow(
        row[0], row[1], row[2], _loads(row[3]), bool(row[4]), from_micros(row[5]),
        from_micros(row[6]), _loads(row[7]),
    )  # fmt: skip


def key_row(row: tuple[Any, ...]) -> ApiKeyRow:
    return ApiKeyRow(
        row[0], row[1], row[2], row[3], from_micros(row[4]), _time(row[5]), _loads(row[6])
    )


def connection_row(row: tuple[Any, ...]) -> ConnectionRow:
    return ConnectionRow(
        row[0], row[1], row[2], json.loads(row[3]), json.loads(row[4]), bool(row[5]),
        from_micros(row[6]),
    )  # fmt: skip


def _tenant_params(tenant: TenantRow, at: int) -> tuple[Any, ...]:
    limits = None if tenant.limits is None else _json(tenant.limits)
    created = at if tenant.created_at is None else to_micros(tenant.created_at)
    toolset = None if tenant.toolset is None else _json(tenant.toolset)
    return (tenant.id, tenant.plan, tenant.display_name, limits, int(tenant.allow_plaintext),
            created, at, toolset)  # fmt: skip


def _connection_params(conn: ConnectionRow, at: int) -> tuple[Any, ...]:
    return (conn.tenant_id, conn.name, conn.connector, _json(conn.credentials),
            _json(conn.variables), int(conn.allow_plaintext), at)  # fmt: skip


def _exists(db: sqlite3.Connection, tenant_id: str) -> bool:
    return db.execute("SELECT 1 FROM tenants WHERE id = ?", (tenant_id,)).fetchone() is not None


def _touch(db: sqlite3.Connection, tenant_id: str, at: int) -> None:
    db.execute("UPDATE tenants SET updated_at = ? WHERE id = ?", (at, tenant_id))


def _insert_key(db: sqlite3.Connection, key: ApiKeyRow, at: int, *, replace: bool) -> bool:
    """False when the key id is taken; re-adding the same key is True. ``replace``: a
    key of the same tenant with this id gets the new hash (an import of an edited file)."""
    owner = db.execute(
        "SELECT tenant_id, hash FROM tenant_api_keys WHERE key_id = ?", (key.key_id,)
    ).fetchone()
    toolset = None if key.toolset is None else _json(key.toolset)
    if owner is not None:
        if owner[0] != key.tenant_id:
            return False
        if replace:
            db.execute(
                "UPDATE tenant_api_keys SET hash = ?, scheme = ?, label = ?, toolset = ? "
                "WHERE key_id = ?",
                (key.hash, key_scheme(key), key.label, toolset, key.key_id),
            )
        return bool(replace or owner[1] == key.hash)
    db.execute(
        "INSERT INTO tenant_api_keys (key_id, tenant_id, hash, scheme, label, created_at, "
        "toolset) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (key.key_id, key.tenant_id, key.hash, key_scheme(key), key.label, at, toolset),
    )
    return True


class SQLiteTenants:
    _runner: SQLiteRunner  # provided by SQLiteStore

    async def put_tenant(self, tenant: TenantRow, *, at: datetime) -> bool:
        params = _tenant_params(tenant, to_micros(at))

        def work(db: sqlite3.Connection) -> bool:
            created = not _exists(db, tenant.id)
            db.execute(_PUT_TENANT, params)
            return created

        return await self._runner.write(work)

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        def work(db: sqlite3.Connection) -> TenantRecord | None:
            row = db.execute(
                f"SELECT {TENANT_COLUMNS} FROM tenants WHERE id = ?", (tenant_id,)
            ).fetchone()
            if row is None:
                return None
            conns = db.execute(
                f"SELECT {CONNECTION_COLUMNS} FROM tenant_connections WHERE tenant_id = ? "
                "ORDER BY name",
                (tenant_id,),
            ).fetchall()
            return TenantRecord(tenant_row(row), tuple(connection_row(c) for c in conns))

        return await self._runner.read(work)

    async def list_tenants(self, *, after: str | None = None, limit: int = 100) -> list[TenantRow]:
        sql = f"SELECT {TENANT_COLUMNS} FROM tenants WHERE (? IS NULL OR id > ?) "
        sql += "ORDER BY id LIMIT ?"
        params = (after, after, tenant_page(limit))
        rows = await self._runner.read(lambda db: db.execute(sql, params).fetchall())
        return [tenant_row(row) for row in rows]

    async def count_tenants(self) -> int:
        row = await self._runner.read(
            lambda db: db.execute("SELECT COUNT(*) FROM tenants").fetchone()
        )
        return int(row[0])

    async def delete_tenant(self, tenant_id: str) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            for table in ("tenant_api_keys", "tenant_connections"):
                db.execute(f"DELETE FROM {table} WHERE tenant_id = ?", (tenant_id,))
            return db.execute("DELETE FROM tenants WHERE id = ?", (tenant_id,)).rowcount > 0

        return await self._runner.write(work)

    # -- API keys -------------------------------------------------------------------------
    async def add_api_key(self, key: ApiKeyRow, *, at: datetime) -> None:
        key_scheme(key)
        moment = to_micros(at)

        def work(db: sqlite3.Connection) -> None:
            if not _exists(db, key.tenant_id):
                raise UnknownTenant(f"no tenant {key.tenant_id!r}")
            if not _insert_key(db, key, moment, replace=False):
                raise KeyIdTaken(f"API key id {key.key_id!r} is already used")
            _touch(db, key.tenant_id, moment)

        await self._runner.write(work)

    async def get_api_key(self, key_id: str) -> ApiKeyRow | None:
        row = await self._runner.read(
            lambda db: db.execute(
                f"SELECT {KEY_COLUMNS} FROM tenant_api_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
        )
        return None if row is None else key_row(row)

    async def list_api_keys(self, tenant_id: str) -> list[ApiKeyRow]:
        sql = f"SELECT {KEY_COLUMNS} FROM tenant_api_keys WHERE tenant_id = ? ORDER BY key_id"
        rows = await self._runner.read(lambda db: db.execute(sql, (tenant_id,)).fetchall())
        return [key_row(row) for row in rows]

    async def scanned_api_keys(self) -> list[ApiKeyRow]:
        sql = (
            f"SELECT {KEY_COLUMNS} FROM tenant_api_keys "
            "WHERE scheme <> 'scrypt' AND revoked_at IS NULL ORDER BY key_id"
        )
        rows = await self._runner.read(lambda db: db.execute(sql).fetchall())
        return [key_row(row) for row in rows]

    async def revoke_api_key(self, tenant_id: str, key_id: str, *, at: datetime) -> bool:
        moment = to_micros(at)

        def work(db: sqlite3.Connection) -> bool:
            done = db.execute(
                "UPDATE tenant_api_keys SET revoked_at = ? "
                "WHERE key_id = ? AND tenant_id = ? AND revoked_at IS NULL",
                (moment, key_id, tenant_id),
            ).rowcount
            if done:
                _touch(db, tenant_id, moment)
            return done > 0

        return await self._runner.write(work)

    async def set_toolset(
        self, tenant_id: str, key_id: str | None, toolset: dict[str, Any] | None, *, at: datetime
    ) -> bool:
        moment = to_micros(at)
        value = None if toolset is None else _json(toolset)

        def work(db: sqlite3.Connection) -> bool:
            params: tuple[Any, ...]
            if key_id is None:
                sql, params = "UPDATE tenants SET toolset = ? WHERE id = ?", (value, tenant_id)
            else:
                sql = "UPDATE tenant_api_keys SET toolset = ? WHERE key_id = ? AND tenant_id = ?"
                params = (value, key_id, tenant_id)
            done = db.execute(sql, params).rowcount
            if done:
                _touch(db, tenant_id, moment)
            return done > 0

        return await self._runner.write(work)

    # -- connections ----------------------------------------------------------------------
    async def put_connection(self, connection: ConnectionRow, *, at: datetime) -> bool:
        moment = to_micros(at)
        params = _connection_params(connection, moment)

        def work(db: sqlite3.Connection) -> bool:
            if not _exists(db, connection.tenant_id):
                raise UnknownTenant(f"no tenant {connection.tenant_id!r}")
            created = (
                db.execute(
                    "SELECT 1 FROM tenant_connections WHERE tenant_id = ? AND name = ?",
                    (connection.tenant_id, connection.name),
                ).fetchone()
                is None
            )
            db.execute(_PUT_CONNECTION, params)
            _touch(db, connection.tenant_id, moment)
            return created

        return await self._runner.write(work)

    async def delete_connection(self, tenant_id: str, name: str, *, at: datetime) -> bool:
        moment = to_micros(at)

        def work(db: sqlite3.Connection) -> bool:
            done = db.execute(
                "DELETE FROM tenant_connections WHERE tenant_id = ? AND name = ?",
                (tenant_id, name),
            ).rowcount
            if done:
                _touch(db, tenant_id, moment)
            return done > 0

        return await self._runner.write(work)

    async def import_tenants(self, batch: Sequence[TenantImport], *, at: datetime) -> ImportResult:
        check_import(batch)
        moment = to_micros(at)

        def work(db: sqlite3.Connection) -> ImportResult:
            created = keys = written = removed = 0
            for item in batch:
                tid = item.tenant.id
                created += not _exists(db, tid)
                db.execute(_PUT_TENANT, _tenant_params(item.tenant, moment))
                for key in item.keys:
                    known = db.execute(
                        "SELECT hash FROM tenant_api_keys WHERE key_id = ?", (key.key_id,)
                    ).fetchone()
                    if not _insert_key(db, key, moment, replace=True):
                        raise KeyIdTaken(f"API key id {key.key_id!r} is already used")
                    keys += known is None or known[0] != key.hash
                names = [c.name for c in item.connections]
                marks = ", ".join("?" * len(names))
                removed += db.execute(
                    "DELETE FROM tenant_connections WHERE tenant_id = ?"
                    + (f" AND name NOT IN ({marks})" if names else ""),
                    (tid, *names),
                ).rowcount
                db.executemany(
                    _PUT_CONNECTION, [_connection_params(c, moment) for c in item.connections]
                )
                written += len(item.connections)
            return ImportResult(created, len(batch) - created, keys, written, removed)

        return await self._runner.write(work)
