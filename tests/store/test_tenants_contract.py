"""The tenants part of the store contract (migration 3), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import psycopg
import pytest
from psycopg import sql

from fastn_gen.gateway.apikeys import generate_api_key, hash_api_key
from fastn_gen.store.postgres import PostgresStore
from fastn_gen.store.tenant_records import (
    ApiKeyRow,
    ConnectionRow,
    TenantImport,
    TenantRow,
)
from fastn_gen.store.tenant_rules import KeyIdTaken, UnknownTenant
from tests.store.conftest import Backend
from tests.store.helpers import T0
from tests.store.postgres_server import POSTGRES_URL

pytestmark = pytest.mark.anyio
LATER = T0 + timedelta(minutes=1)


def key(tenant: str, key_id: str, *, plain: str | None = None) -> ApiKeyRow:
    return ApiKeyRow(key_id, tenant, hash_api_key(plain or f"plain-{key_id}-0123456789"))


def conn(tenant: str, name: str, connector: str = "slack", **refs: str) -> ConnectionRow:
    return ConnectionRow(tenant, name, connector, credentials=dict(refs) or {"bot_token": "${T}"})


async def test_tenant_round_trip_with_connections(backend: Backend) -> None:
    async with backend.make() as store:
        limits = {"tool_calls_per_month": 5, "per_connector": {"slack": {"requests_per_minute": 2}}}
        assert await store.put_tenant(TenantRow("acme", "pro", "Acme", limits), at=T0)
        assert await store.put_connection(conn("acme", "slack"), at=T0)
        shop = ConnectionRow(
            "acme", "shop", "shopify", {"access_token": "secret:tok"}, {"shop": "acme-store"}
        )
        assert await store.put_connection(shop, at=T0)
        record = await store.get_tenant("acme")
    assert record is not None
    assert (record.tenant.id, record.tenant.plan, record.tenant.display_name) == (
        "acme",
        "pro",
        "Acme",
    )
    assert record.tenant.limits == limits
    assert record.tenant.created_at == T0
    assert [c.name for c in record.connections] == ["shop", "slack"]
    assert record.connections[0].variables == {"shop": "acme-store"}
    assert record.connections[0].credentials == {"access_token": "secret:tok"}
    assert record.connections[1].credentials == {"bot_token": "${T}"}


async def test_updating_a_tenant_keeps_created_at_keys_and_connections(backend: Backend) -> None:
    async with backend.make() as store:
        await store.put_tenant(TenantRow("acme"), at=T0)
        await store.add_api_key(key("acme", "aaaaaaaaaaaa"), at=T0)
        await store.put_connection(conn("acme", "slack"), at=T0)
        assert not await store.put_tenant(TenantRow("acme", plan="pro"), at=LATER)
        record = await store.get_tenant("acme")
        keys = await store.list_api_keys("acme")
    assert record is not None and record.tenant.plan == "pro"
    assert record.tenant.created_at == T0 and record.tenant.updated_at == LATER
    assert len(record.connections) == 1 and [k.key_id for k in keys] == ["aaaaaaaaaaaa"]


async def test_unknown_tenant_is_none_and_refuses_keys_and_connections(backend: Backend) -> None:
    async with backend.make() as store:
        assert await store.get_tenant("ghost") is None
        with pytest.raises(UnknownTenant):
            await store.add_api_key(key("ghost", "bbbbbbbbbbbb"), at=T0)
        with pytest.raises(UnknownTenant):
            await store.put_connection(conn("ghost", "slack"), at=T0)
        assert await store.get_api_key("bbbbbbbbbbbb") is None


async def test_key_ids_are_unique_across_tenants_and_only_hashes_are_kept(
    backend: Backend,
) -> None:
    plain, _ = generate_api_key("acme")
    kid = plain.split("_")[1]
    async with backend.make() as store:
        for tenant in ("acme", "globex"):
            await store.put_tenant(TenantRow(tenant), at=T0)
        row = ApiKeyRow(kid, "acme", hash_api_key(plain), label="laptop")
        await store.add_api_key(row, at=T0)
        await store.add_api_key(row, at=T0)  # the same key again: no change
        with pytest.raises(KeyIdTaken):
            await store.add_api_key(ApiKeyRow(kid, "globex", hash_api_key(plain)), at=T0)
        found = await store.get_api_key(kid)
    assert found is not None and found.tenant_id == "acme" and found.label == "laptop"
    assert found.indexed and found.hash.startswith("scrypt$") and plain not in found.hash
    assert found.revoked_at is None


async def test_revoked_keys_stay_findable_but_marked_and_leave_the_scan_set(
    backend: Backend,
) -> None:
    async with backend.make() as store:
        await store.put_tenant(TenantRow("acme"), at=T0)
        await store.add_api_key(key("acme", "legacy"), at=T0)
        await store.add_api_key(key("acme", "other"), at=T0)
        assert [k.key_id for k in await store.scanned_api_keys()] == ["legacy", "other"]
        assert await store.revoke_api_key("acme", "legacy", at=LATER)
        assert not await store.revoke_api_key("acme", "legacy", at=LATER)
        assert not await store.revoke_api_key("globex", "other", at=LATER)
        revoked = await store.get_api_key("legacy")
        assert [k.key_id for k in await store.scanned_api_keys()] == ["other"]
    assert revoked is not None and revoked.revoked_at == LATER


async def test_connections_are_replaced_and_deleted(backend: Backend) -> None:
    async with backend.make() as store:
        await store.put_tenant(TenantRow("acme"), at=T0)
        assert await store.put_connection(conn("acme", "slack"), at=T0)
        assert not await store.put_connection(conn("acme", "slack", bot_token="${NEW}"), at=LATER)
        record = await store.get_tenant("acme")
        assert record is not None and record.connections[0].credentials == {"bot_token": "${NEW}"}
        assert await store.delete_connection("acme", "slack", at=LATER)
        assert not await store.delete_connection("acme", "slack", at=LATER)
        record = await store.get_tenant("acme")
    assert record is not None and record.connections == ()


async def test_list_count_and_delete_tenants(backend: Backend) -> None:
    async with backend.make() as store:
        for n in range(5):
            await store.put_tenant(TenantRow(f"t{n}"), at=T0)
        await store.add_api_key(key("t1", "cccccccccccc"), at=T0)
        await store.put_connection(conn("t1", "slack"), at=T0)
        first = await store.list_tenants(limit=2)
        rest = await store.list_tenants(after=first[-1].id, limit=10)
        assert [t.id for t in first + rest] == ["t0", "t1", "t2", "t3", "t4"]
        assert await store.count_tenants() == 5
        assert await store.delete_tenant("t1")
        assert not await store.delete_tenant("t1")
        assert await store.get_api_key("cccccccccccc") is None
        assert await store.count_tenants() == 4
        await store.put_tenant(TenantRow("t1"), at=LATER)  # back, without its old rows
        record = await store.get_tenant("t1")
    assert record is not None and record.connections == ()


async def test_import_makes_connections_exactly_the_given_ones(backend: Backend) -> None:
    same = key("acme", "dddddddddddd")
    async with backend.make() as store:
        first = await store.import_tenants(
            [
                TenantImport(
                    TenantRow("acme", "pro"),
                    (same,),
                    (conn("acme", "slack"), conn("acme", "shop", "shopify")),
                ),
                TenantImport(TenantRow("globex")),
            ],
            at=T0,
        )
        again = await store.import_tenants(
            [TenantImport(TenantRow("acme", "free"), (same,), ())],
            at=LATER,
        )
        record = await store.get_tenant("acme")
    assert (first.tenants_created, first.keys_added, first.connections_written) == (2, 1, 2)
    assert (again.tenants_created, again.tenants_updated, again.keys_added) == (0, 1, 0)
    assert again.connections_removed == 2
    assert record is not None and record.tenant.plan == "free" and record.connections == ()


async def test_an_import_gives_an_edited_key_its_new_hash(backend: Backend) -> None:
    async with backend.make() as store:
        await store.import_tenants([TenantImport(TenantRow("acme"), (key("acme", "lab"),))], at=T0)
        edited = key("acme", "lab", plain="a-new-legacy-key-0123456789")
        done = await store.import_tenants([TenantImport(TenantRow("acme"), (edited,))], at=T0)
        with pytest.raises(KeyIdTaken):  # outside an import, an id is never reused
            await store.add_api_key(key("acme", "lab"), at=T0)
        found = await store.get_api_key("lab")
    assert done.keys_added == 1 and found is not None and found.hash == edited.hash


async def test_toolsets_are_kept_and_an_import_replaces_them(backend: Backend) -> None:
    tenant_set = {"connectors": ["slack"], "mode": "search"}
    reader = ApiKeyRow("ffffffffffff", "acme", key("acme", "x").hash, toolset={"access": "read"})
    plain = key("acme", "plain")
    async with backend.make() as store:
        await store.import_tenants(
            [TenantImport(TenantRow("acme", toolset=tenant_set), (reader, plain))], at=T0
        )
        record = await store.get_tenant("acme")
        stored_reader = await store.get_api_key("ffffffffffff")
        stored_plain = await store.get_api_key("plain")
        # The same keys imported again with other toolsets: the file is the truth.
        moved = ApiKeyRow(reader.key_id, "acme", reader.hash, toolset={"access": "write"})
        await store.import_tenants([TenantImport(TenantRow("acme"), (moved, plain))], at=LATER)
        record_after = await store.get_tenant("acme")
        reader_after = await store.get_api_key("ffffffffffff")
        listed = await store.list_api_keys("acme")
    assert record is not None and record.tenant.toolset == tenant_set
    assert stored_reader is not None and stored_reader.toolset == {"access": "read"}
    assert stored_plain is not None and stored_plain.toolset is None
    assert record_after is not None and record_after.tenant.toolset is None
    assert reader_after is not None and reader_after.toolset == {"access": "write"}
    assert [k.toolset for k in listed] == [{"access": "write"}, None]


async def test_set_toolset_changes_only_the_toolset_of_the_tenant_or_its_key(
    backend: Backend,
) -> None:
    limits = {"tool_calls_per_month": 5}
    async with backend.make() as store:
        await store.put_tenant(TenantRow("acme", "pro", "Acme", limits), at=T0)
        await store.put_tenant(TenantRow("beta"), at=T0)
        await store.put_connection(conn("acme", "slack"), at=T0)
        await store.add_api_key(key("acme", "ffffffffffff"), at=T0)
        await store.add_api_key(key("beta", "bbbbbbbbbbbb"), at=T0)
        assert await store.set_toolset("acme", None, {"access": "read"}, at=LATER)
        assert await store.set_toolset("acme", "ffffffffffff", {"mode": "search"}, at=LATER)
        # Another tenant's key, an unknown key or tenant: nothing is written.
        assert not await store.set_toolset("acme", "bbbbbbbbbbbb", {"access": "read"}, at=LATER)
        assert not await store.set_toolset("acme", "nokey", {"access": "read"}, at=LATER)
        assert not await store.set_toolset("ghost", None, {"access": "read"}, at=LATER)
        record = await store.get_tenant("acme")
        acme_key = await store.get_api_key("ffffffffffff")
        beta_key = await store.get_api_key("bbbbbbbbbbbb")
        assert await store.set_toolset("acme", None, None, at=LATER)
        cleared = await store.get_tenant("acme")
        assert await store.set_toolset("acme", "ffffffffffff", None, at=LATER)
        key_cleared = await store.get_api_key("ffffffffffff")
    assert record is not None and record.tenant.toolset == {"access": "read"}
    assert (record.tenant.plan, record.tenant.display_name, record.tenant.limits) == (
        "pro",
        "Acme",
        limits,
    )
    assert record.tenant.updated_at == LATER and len(record.connections) == 1
    assert acme_key is not None and acme_key.toolset == {"mode": "search"}
    assert beta_key is not None and beta_key.toolset is None
    assert cleared is not None and cleared.tenant.toolset is None
    assert key_cleared is not None and key_cleared.toolset is None


async def test_an_import_with_a_taken_key_id_writes_nothing(backend: Backend) -> None:
    async with backend.make() as store:
        await store.put_tenant(TenantRow("acme"), at=T0)
        await store.add_api_key(key("acme", "eeeeeeeeeeee"), at=T0)
        with pytest.raises(KeyIdTaken):
            await store.import_tenants(
                [
                    TenantImport(TenantRow("new1")),
                    TenantImport(TenantRow("globex"), (key("globex", "eeeeeeeeeeee"),)),
                ],
                at=T0,
            )
        assert await store.get_tenant("new1") is None
        assert await store.count_tenants() == 1


async def test_concurrent_writers_on_two_instances_keep_every_connection(
    backend: Backend,
) -> None:
    stores = [backend.make() for _ in range(2)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        await stores[0].put_tenant(TenantRow("acme"), at=T0)
        await asyncio.gather(
            *(stores[n % 2].put_connection(conn("acme", f"c{n}"), at=T0) for n in range(20))
        )
        record = await stores[1].get_tenant("acme")
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert record is not None and len(record.connections) == 20


async def test_postgres_notifies_each_committed_change_and_not_a_rolled_back_one(
    backend: Backend,
) -> None:
    if backend.name != "postgres":
        # SQLite has no notifications; its contract is the rest of this file.
        assert backend.sqlite_path is not None
        return
    async with backend.make() as store:
        assert isinstance(store, PostgresStore)
        listener = await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True)
        try:
            await listener.execute(
                sql.SQL("LISTEN {}").format(sql.Identifier(store.change_channel))
            )
            await store.put_tenant(TenantRow("acme"), at=T0)
            await store.put_connection(conn("acme", "slack"), at=T0)
            await store.add_api_key(key("acme", "ffffffffffff"), at=T0)
            with pytest.raises(UnknownTenant):
                await store.put_connection(conn("ghost", "slack"), at=T0)
            await store.delete_connection("acme", "slack", at=T0)
            await store.set_toolset("acme", "ffffffffffff", {"access": "read"}, at=T0)
            await store.revoke_api_key("acme", "ffffffffffff", at=T0)
            await store.set_toolset("acme", None, {"access": "read"}, at=T0)
            await store.set_toolset("ghost", None, {"access": "read"}, at=T0)  # no change
            payloads = []
            async for notice in listener.notifies(timeout=2.0, stop_after=8):
                payloads.append(notice.payload)
        finally:
            await listener.close()
    assert payloads == [
        "tenant:acme",
        "connections:acme",
        "keys:acme",
        "connections:acme",
        "keys:acme",
        "keys:acme",
        "tenant:acme",
    ]
