"""``connection_change`` events: what changed in a tenant's connections between loads.

Connections live in the tenants file, so they change when the file is edited and the
gateway restarted or reloaded (reload.py). At start-up and after each reload, each
tenant's connections are compared with the snapshot left in the store; every
connection added or removed, and every one whose connector, credential references or
variables changed, is recorded as an event, then the snapshot is replaced. The
snapshot holds references (``${ACME_SLACK_TOKEN}``, ``secret:api_key``), never
credential values; a plaintext credential is described as such and its value is not
kept.

Tenants are compared in chunks: one store read for a chunk's snapshots, and one
transaction for its events and new snapshots together, so a first start with many
tenants costs a few hundred store calls, and an event is never lost while its snapshot
is kept (or the reverse).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from fastn_gen.gateway.recording import EventRecorder
from fastn_gen.gateway.tenancy import Tenant
from fastn_gen.store.base import Store
from fastn_gen.store.records import Event

logger = logging.getLogger(__name__)

SNAPSHOT_KEY = "connections.snapshot"
# Tenants per snapshot read and per write transaction: a start with 100,000 tenants
# costs 200 store round trips rather than 200,000 calls, and holds one chunk's events
# in memory at a time.
CHUNK = 500


def snapshot(tenant: Tenant) -> dict[str, dict[str, Any]]:
    return {
        conn.name: {
            "connector": conn.connector,
            "credentials": {f: ref.describe() for f, ref in sorted(conn.credentials.items())},
            "variables": dict(sorted(conn.variables.items())),
        }
        for conn in sorted(tenant.connections.values(), key=lambda c: c.name)
    }


def changes(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """One entry per connection added, removed or changed (with the fields that changed)."""
    found: list[dict[str, Any]] = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None or new is None:
            current = new if new is not None else old
            assert current is not None
            change = "added" if old is None else "removed"
            found.append({"change": change, "connection": name, "connector": current["connector"]})
            continue
        fields = sorted(k for k in new.keys() | old.keys() if old.get(k) != new.get(k))
        found.append(
            {
                "change": "changed",
                "connection": name,
                "connector": new["connector"],
                "fields": fields,
            }
        )
    return found


async def record_connection_changes(
    store: Store, recorder: EventRecorder, tenants: Iterable[Tenant]
) -> int:
    """Record every tenant's connection changes since the last start; returns the count."""
    recorded = 0
    chunk: list[Tenant] = []
    for tenant in tenants:
        chunk.append(tenant)
        if len(chunk) == CHUNK:
            recorded += await _record_chunk(store, recorder, chunk)
            chunk = []
    if chunk:
        recorded += await _record_chunk(store, recorder, chunk)
    return recorded


async def _record_chunk(store: Store, recorder: EventRecorder, tenants: list[Tenant]) -> int:
    """One read of the chunk's snapshots; its events and new snapshots in one transaction."""
    stored = await store.get_secret_blobs(SNAPSHOT_KEY, [tenant.id for tenant in tenants])
    events: list[Event] = []
    blobs: list[tuple[str, str, bytes]] = []
    for tenant in tenants:
        current = snapshot(tenant)
        raw = stored.get(tenant.id)
        try:
            previous = json.loads(raw) if raw is not None else {}
        except ValueError:
            logger.warning("connection snapshot of tenant %s unreadable; replacing it", tenant.id)
            previous = {}
        found = changes(previous, current)
        for change in found:
            events.append(
                recorder.observed_event(
                    tenant.id,
                    "connection_change",
                    "success",
                    connector=change["connector"],
                    detail=change,
                )
            )
        if found or raw is None:
            blob = json.dumps(current, sort_keys=True, separators=(",", ":")).encode()
            blobs.append((tenant.id, SNAPSHOT_KEY, blob))
    if blobs or events:
        await store.put_secret_blobs(blobs, events=events)
    return len(events)
