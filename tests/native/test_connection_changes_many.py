"""connection_change events of a start with 2,000 file tenants, on SQLite and PostgreSQL.

The snapshots are read and written in chunks (one read per chunk, one transaction per
chunk for its events and snapshots); what is recorded must be exactly what recording
tenant by tenant recorded: one event per connection added, removed or changed, and
one snapshot per tenant, none of either on a start with an unchanged file.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fastn_gen.gateway.connection_changes import (
    CHUNK,
    SNAPSHOT_KEY,
    record_connection_changes,
    snapshot,
)
from fastn_gen.gateway.digest import ArgsDigest
from fastn_gen.gateway.recording import EventRecorder
from fastn_gen.gateway.tenancy import TenantRegistry
from fastn_gen.store.base import Store
from fastn_gen.store.postgres import PostgresStore
from fastn_gen.store.records import Event, EventQuery
from fastn_gen.store.sqlite import SQLiteStore
from tests.store.postgres_server import POSTGRES_URL, drop_schema, ensure_postgres

pytestmark = pytest.mark.anyio

TENANTS = 2000


def tenants_file(changed: frozenset[int] = frozenset()) -> str:
    """Even tenants on Slack, odd ones on Slack and Shopify; ``changed`` tenants have a
    new Slack credential reference and no Shopify connection."""
    lines = ["version: 1", "tenants:"]
    for i in range(TENANTS):
        lines.append(f"  - id: t{i:05d}")
        lines.append("    connections:")
        token = f"secret:slack_{i}" if i in changed else f"${{T{i}_SLACK_TOKEN}}"
        lines.append(f"      - {{connector: slack, credentials: {{token: '{token}'}}}}")
        if i % 2 and i not in changed:
            lines.append(
                "      - {connector: shopify, credentials: {api_key: 'secret:shop'}, "
                f"variables: {{shop: s{i}}}}}"
            )
    return "\n".join(lines) + "\n"


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        async with SQLiteStore(tmp_path / "fastn.db") as s:
            yield s
        return
    ensure_postgres()
    schema = f"conn_changes_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        async with PostgresStore(POSTGRES_URL, schema=schema) as s:
            yield s
    finally:
        drop_schema(schema)


async def connection_events(store: Store, tenant: str) -> list[Event]:
    page = await store.list_events(tenant, EventQuery(type="connection_change", limit=100))
    return list(page.events)


def details(events: list[Event]) -> list[dict[str, object]]:
    # Events recorded within the same microsecond have no order: compare sorted.
    return sorted((dict(e.detail) for e in events), key=lambda d: (d["change"], d["connection"]))


async def test_a_start_with_2000_tenants_records_each_change_once(store: Store) -> None:
    assert TENANTS > 3 * CHUNK  # several chunks, and a last one that is not full
    recorder = EventRecorder(store, ArgsDigest(b"k" * 32))
    seen: list[Event] = []
    recorder.observers.append(seen.append)
    ids = [f"t{i:05d}" for i in range(TENANTS)]

    first = TenantRegistry.from_text(tenants_file(), environ={})
    assert await record_connection_changes(store, recorder, first.tenants) == TENANTS * 3 // 2
    await recorder.flush()
    assert len(seen) == TENANTS * 3 // 2  # the metrics see every event, as before
    for i, tenant_id in enumerate(ids):
        expected = [{"change": "added", "connection": "slack", "connector": "slack"}]
        if i % 2:
            expected.insert(0, {"change": "added", "connection": "shopify", "connector": "shopify"})
        assert details(await connection_events(store, tenant_id)) == expected, tenant_id
    blobs = await store.get_secret_blobs(SNAPSHOT_KEY, ids)
    assert set(blobs) == set(ids)
    for tenant in first.tenants:
        assert json.loads(blobs[tenant.id]) == snapshot(tenant)

    # The same file again: nothing recorded, no snapshot rewritten.
    again = TenantRegistry.from_text(tenants_file(), environ={})
    assert await record_connection_changes(store, recorder, again.tenants) == 0
    assert len(seen) == TENANTS * 3 // 2
    assert await store.get_secret_blobs(SNAPSHOT_KEY, ids) == blobs

    # A few tenants changed, at both ends of a chunk: only theirs are recorded.
    changed = frozenset({0, CHUNK - 1, CHUNK, TENANTS - 1})
    edited = TenantRegistry.from_text(tenants_file(changed), environ={})
    assert await record_connection_changes(store, recorder, edited.tenants) == 6
    for i in changed:
        expected = [
            {"change": "added", "connection": "slack", "connector": "slack"},
            {
                "change": "changed",
                "connection": "slack",
                "connector": "slack",
                "fields": ["credentials"],
            },
        ]
        if i % 2:
            shopify = {"connection": "shopify", "connector": "shopify"}
            expected = [{"change": "added", **shopify}, *expected, {"change": "removed", **shopify}]
        assert details(await connection_events(store, ids[i])) == expected, ids[i]
    untouched = await connection_events(store, ids[1])
    assert len(untouched) == 2
    after = await store.get_secret_blobs(SNAPSHOT_KEY, ids)
    assert {t for t in ids if after[t] != blobs[t]} == {ids[i] for i in changed}
    for tenant in edited.tenants:
        assert json.loads(after[tenant.id]) == snapshot(tenant)


async def test_sqlite_writes_one_transaction_per_chunk(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "fastn.db") as store:
        recorder = EventRecorder(store, ArgsDigest(b"k" * 32))
        registry = TenantRegistry.from_text(tenants_file(), environ={})
        before = store._runner.transactions
        await record_connection_changes(store, recorder, registry.tenants)
        assert store._runner.transactions - before == -(-TENANTS // CHUNK)
        before = store._runner.transactions
        await record_connection_changes(store, recorder, registry.tenants)
        assert store._runner.transactions == before  # nothing changed: nothing written
