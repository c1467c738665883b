"""connection_change events from the tenants file between two starts, on a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fastn_gen.gateway.connection_changes import record_connection_changes
from fastn_gen.gateway.digest import ArgsDigest
from fastn_gen.gateway.recording import EventRecorder
from fastn_gen.gateway.tenancy import TenantRegistry
from fastn_gen.store.records import EventQuery
from fastn_gen.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio

BEFORE = """\
version: 1
tenants:
  - id: acme
    connections:
      - connector: slack
        credentials: {token: "${ACME_SLACK_TOKEN}"}
      - connector: shopify
        credentials: {api_key: "${ACME_SHOPIFY_TOKEN}"}
        variables: {shop: acme}
"""
AFTER = """\
version: 1
tenants:
  - id: acme
    connections:
      - connector: slack
        credentials: {token: "secret:token"}
      - connector: github
        credentials: {token: "a-plaintext-credential"}
        allow_plaintext: true
"""


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "fastn.db")
    await s.open()
    yield s
    await s.close()


async def changes_of(store: SQLiteStore) -> list[dict[str, object]]:
    page = await store.list_events("acme", EventQuery(type="connection_change"))
    # Events recorded within the same microsecond have no order: compare sorted.
    return sorted(
        (dict(e.detail) for e in page.events), key=lambda d: (d["change"], d["connection"])
    )


async def test_connections_added_changed_and_removed_are_recorded(store: SQLiteStore) -> None:
    recorder = EventRecorder(store, ArgsDigest(b"k" * 32))
    first = TenantRegistry.from_text(BEFORE, environ={})
    assert await record_connection_changes(store, recorder, first.tenants) == 2
    # A start with the same file records nothing.
    assert await record_connection_changes(store, recorder, first.tenants) == 0
    second = TenantRegistry.from_text(AFTER, environ={})
    assert await record_connection_changes(store, recorder, second.tenants) == 3
    await recorder.flush()
    assert await changes_of(store) == [
        {"change": "added", "connection": "github", "connector": "github"},
        {"change": "added", "connection": "shopify", "connector": "shopify"},
        {"change": "added", "connection": "slack", "connector": "slack"},
        {
            "change": "changed",
            "connection": "slack",
            "connector": "slack",
            "fields": ["credentials"],
        },
        {"change": "removed", "connection": "shopify", "connector": "shopify"},
    ]
    blob = await store.get_secret_blob("acme", "connections.snapshot")
    assert blob is not None and b"a-plaintext-credential" not in blob
    assert b"secret:token" in blob and b"a plaintext value" in blob
