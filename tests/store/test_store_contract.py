"""The store contract, run against SQLite (temp file) and PostgreSQL (own schema).

Every test gets a fresh database; ``backend.make()`` opens another instance on the same
data, which is how restarts and several replicas are exercised.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from fastn_gen.store.errors import InvalidCursor, SchemaTooNew, StoreError
from fastn_gen.store.factory import open_store
from fastn_gen.store.migrations import MIGRATIONS, Migration
from fastn_gen.store.records import CounterLimit, CounterRefusal, EventPage, EventQuery, UsageRow
from tests.store.conftest import Backend
from tests.store.consume_worker import consume_in_waves
from tests.store.helpers import T0, all_events, event, fill_tenant

pytestmark = pytest.mark.anyio
WORKER = Path(__file__).with_name("consume_worker.py")


# -- migrations ----------------------------------------------------------------------------
async def test_migrations_are_recorded_and_idempotent(backend: Backend) -> None:
    expected = [m.version for m in MIGRATIONS]
    async with backend.make() as store:
        assert await store.schema_versions() == expected
        await store.record_event(event("acme", 1))
    for _ in range(2):  # reopening applies nothing twice and keeps the data
        async with backend.make() as store:
            assert await store.schema_versions() == expected
            assert len((await store.list_events("acme", EventQuery())).events) == 1


async def test_concurrent_first_opens_migrate_once(backend: Backend) -> None:
    stores = [backend.make() for _ in range(4)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        for store in stores:
            assert await store.schema_versions() == [m.version for m in MIGRATIONS]
    finally:
        await asyncio.gather(*(store.close() for store in stores))


async def test_new_migration_applies_once_and_old_code_refuses_newer_schema(
    backend: Backend,
) -> None:
    async with backend.make() as store:
        await store.save_flow("acme", "sync", {"steps": []}, at=T0)
    added = Migration(
        len(MIGRATIONS) + 1,
        "flow notes",
        ("ALTER TABLE flows ADD COLUMN note TEXT",),
        ("ALTER TABLE flows ADD COLUMN note TEXT",),
    )
    upgraded = (*MIGRATIONS, added)
    for _ in range(2):  # a second open must not re-run the ALTER (it would fail)
        async with backend.make(migrations=upgraded) as store:
            assert await store.schema_versions() == [m.version for m in upgraded]
            assert (await store.get_flow("acme", "sync")) is not None
    with pytest.raises(SchemaTooNew):
        await backend.make().open()


async def test_a_closed_store_refuses_work(backend: Backend) -> None:
    store = backend.make()
    with pytest.raises(StoreError):
        await store.list_flows("acme")
    await store.open()
    await store.close()
    with pytest.raises(StoreError):
        await store.record_event(event("acme", 1))


# -- events --------------------------------------------------------------------------------
async def test_event_round_trip_and_idempotent_insert(backend: Backend) -> None:
    full = event(
        "acme",
        1,
        latency_ms=12.5,
        upstream_status=502,
        error="upstream said no",
        args_digest="sha256:ab12",
        detail={"attempts": 2, "nested": {"ok": False}, "tags": ["a", "b"]},
        status="failure",
    )
    bare = event("acme", 2, type="auth_failure", connector=None, tool=None)
    async with backend.make() as store:
        for item in (full, bare, full):
            await store.record_event(item)
        page = await store.list_events("acme", EventQuery())
    assert page.events == (bare, full)
    assert page.next_cursor is None


async def test_event_filters(backend: Backend) -> None:
    async with backend.make() as store:
        await store.record_event(event("acme", 0, connector="slack", tool="slack_post"))
        await store.record_event(event("acme", 10, connector="slack", tool="slack_list"))
        await store.record_event(event("acme", 20, status="failure", connector="shop", tool="shop"))
        await store.record_event(event("acme", 30, type="quota_refusal", tool="slack_list"))

        async def seconds(**filters: object) -> list[int]:
            page = await store.list_events("acme", EventQuery(**filters))  # type: ignore[arg-type]
            return [int((e.at - T0).total_seconds()) for e in page.events]

        assert await seconds() == [30, 20, 10, 0]
        assert await seconds(since=T0 + timedelta(seconds=10)) == [30, 20, 10]  # inclusive
        assert await seconds(until=T0 + timedelta(seconds=20)) == [10, 0]  # exclusive
        assert await seconds(status="failure") == [20]
        assert await seconds(type="quota_refusal") == [30]
        assert await seconds(connector="slack") == [30, 10, 0]
        assert await seconds(tool="slack_post") == [0]
        assert await seconds(connector="slack", since=T0 + timedelta(seconds=5)) == [30, 10]
        assert await seconds(connector="github") == []


async def test_pagination_is_stable_while_events_arrive(backend: Backend) -> None:
    async with backend.make() as store:
        # Groups of three share a timestamp, so the id must break ties.
        originals = [event("acme", n // 3) for n in range(95)]
        for item in originals:
            await store.record_event(item)
        seen, cursor, pages = [], None, 0
        while True:
            page = await store.list_events("acme", EventQuery(limit=10, cursor=cursor))
            seen.extend(page.events)
            pages += 1
            # Newer events arrive between page reads; they belong before page one.
            await store.record_event(event("acme", 1000 + pages))
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    expected = sorted(originals, key=lambda e: (e.at, e.id), reverse=True)
    assert [e.id for e in seen] == [e.id for e in expected]  # no duplicates, no gaps
    assert pages == 10


async def test_pagination_with_a_filter_and_bad_input(backend: Backend) -> None:
    async with backend.make() as store:
        for n in range(30):
            status = "failure" if n % 3 == 0 else "success"
            await store.record_event(event("acme", n, status=status))
        failures, cursor = [], None
        while True:
            query = EventQuery(status="failure", limit=4, cursor=cursor)
            page = await store.list_events("acme", query)
            failures.extend(page.events)
            if (cursor := page.next_cursor) is None:
                break
        assert [int((e.at - T0).total_seconds()) for e in failures] == list(range(27, -1, -3))
        for bad in ("garbage!", "WzEsMl0", ""):
            with pytest.raises(InvalidCursor):
                await store.list_events("acme", EventQuery(cursor=bad))
        with pytest.raises(ValueError):
            await store.list_events("acme", EventQuery(limit=0))


async def test_prune_events(backend: Backend) -> None:
    async with backend.make() as store:
        for tenant in ("acme", "globex"):
            for n in range(10):
                await store.record_event(event(tenant, n))
        cut = T0 + timedelta(seconds=4)
        assert await store.prune_events(cut, tenant_id="acme") == 4
        assert len(await all_events(store, "globex")) == 10
        assert await store.prune_events(cut) == 4
        assert [e.at for e in await all_events(store, "globex")][-1] == cut


# -- tenant isolation ----------------------------------------------------------------------
async def test_every_read_is_scoped_to_the_tenant(backend: Backend) -> None:
    async with backend.make() as store:
        await fill_tenant(store, "acme", marker="A")
        await fill_tenant(store, "globex", marker="G")

        events = await all_events(store, "acme")
        assert len(events) == 5 and {e.tenant_id for e in events} == {"acme"}
        assert {e.detail["marker"] for e in events} == {"A"}
        globex_page = await store.list_events("globex", EventQuery(limit=2))
        # A cursor from another tenant's page still only yields this tenant's rows.
        mixed = await store.list_events("acme", EventQuery(cursor=globex_page.next_cursor))
        assert mixed.events and {e.tenant_id for e in mixed.events} == {"acme"}

        assert await store.usage("acme") == [UsageRow("calls", "2026-11", 1)]
        statuses = await store.integration_status("acme")
        assert [(s.tenant_id, s.last_error) for s in statuses] == [("acme", "A-error")]
        assert [(f.tenant_id, f.name, f.spec) for f in await store.list_flows("acme")] == [
            ("acme", "acme-only-flow", {"marker": "A"}),
            ("acme", "sync", {"marker": "A"}),
        ]
        assert (await store.get_flow("acme", "sync")).spec == {"marker": "A"}  # type: ignore[union-attr]
        assert await store.get_secret_blob("acme", "oauth:slack") == b"A-blob"
        assert await store.get_secret_blob("acme", "only-globex") is None

        # Writes through one tenant leave the other's rows alone.
        assert await store.set_flow_enabled("acme", "sync", False)
        assert await store.delete_secret_blob("acme", "oauth:slack")
        assert await store.delete_flow("acme", "sync")
        assert not await store.delete_flow("acme", "globex-only-flow")
        assert not await store.set_flow_enabled("acme", "globex-only-flow", False)
        assert await store.list_flow_versions("acme", "globex-only-flow") == []
        assert await store.consume("acme", [CounterLimit("calls", "2026-11", 1)]) is not None
        assert (await store.get_flow("globex", "sync")).enabled  # type: ignore[union-attr]
        assert await store.get_secret_blob("globex", "oauth:slack") == b"G-blob"
        assert await store.usage("globex") == [UsageRow("calls", "2026-11", 1)]
        assert len(await all_events(store, "globex")) == 5
        assert await store.list_events("nobody", EventQuery()) == EventPage((), None)
        assert await store.integration_status("nobody") == []
        assert await store.list_flows("nobody") == []


# -- usage ---------------------------------------------------------------------------------
async def test_consume_is_all_or_nothing(backend: Backend) -> None:
    month, slack = CounterLimit("calls", "2026-11", 10), CounterLimit("calls:slack", "2026-11", 3)
    async with backend.make() as store:
        results = [await store.consume("acme", [month, slack]) for _ in range(5)]
        assert results[:3] == [None, None, None]
        assert results[3] == results[4] == CounterRefusal("calls:slack", "2026-11", 3, 3)
        assert await store.usage("acme") == [
            UsageRow("calls", "2026-11", 3),
            UsageRow("calls:slack", "2026-11", 3),
        ]
        # The first offending counter in the caller's order is the one reported.
        refusal = await store.consume("acme", [month, slack], amount=8)
        assert refusal == CounterRefusal("calls", "2026-11", 10, 3)
        # A refused fresh counter leaves no row behind.
        tight = CounterLimit("calls:shopify", "2026-11", 1)
        assert await store.consume("acme", [tight], amount=2) is not None
        assert len(await store.usage("acme")) == 2
        # Unlimited counters count; the same counter named twice counts once.
        free = CounterLimit("rpm", "2026-11-29T10:00", None)
        assert await store.consume("acme", [free, free, month], amount=7) is None
        assert await store.usage("acme", periods=["2026-11-29T10:00"]) == [
            UsageRow("rpm", "2026-11-29T10:00", 7)
        ]
        assert await store.usage("acme", periods=[]) == []
        assert await store.consume("acme", []) is None
        with pytest.raises(ValueError):
            await store.consume("acme", [month], amount=-1)


async def test_concurrent_consumes_never_over_admit(backend: Backend) -> None:
    counters = [CounterLimit("calls", "p", 50), CounterLimit("calls:slack", "p", None)]
    async with backend.make() as store:
        results = await asyncio.gather(*(store.consume("acme", counters) for _ in range(200)))
        assert sum(r is None for r in results) == 50
        assert all(r == CounterRefusal("calls", "p", 50, 50) for r in results if r is not None)
        assert await store.usage("acme") == [
            UsageRow("calls", "p", 50),
            UsageRow("calls:slack", "p", 50),
        ]


async def test_two_instances_share_limits_without_over_admitting(backend: Backend) -> None:
    counters = [CounterLimit("calls", "p", 50), CounterLimit("calls:slack", "p", None)]
    async with backend.make() as first, backend.make() as second:
        results = await asyncio.gather(
            *(store.consume("acme", counters) for _ in range(100) for store in (first, second))
        )
        assert sum(r is None for r in results) == 50
        assert await second.usage("acme") == [
            UsageRow("calls", "p", 50),
            UsageRow("calls:slack", "p", 50),
        ]


async def test_two_processes_share_limits_without_over_admitting(backend: Backend) -> None:
    # 2 x 200 calls against a limit of 300: both processes admit while the other does.
    async with backend.make():
        pass  # migrate first, so both processes start on a ready schema
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        backend.url,
        "acme",
        "200",
        "300",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert worker.stdin is not None and worker.stdout is not None
    try:
        assert await asyncio.wait_for(worker.stdout.readline(), 30) == b"ready\n"
        async with await open_store(backend.url) as store:
            worker.stdin.write(b"go\n")
            await worker.stdin.drain()
            mine = await consume_in_waves(store, "acme", 200, 300)
            out, err = await asyncio.wait_for(worker.communicate(), 60)
            assert worker.returncode == 0, err.decode()
            assert mine + int(out.decode().strip()) == 300
            assert await store.usage("acme") == [UsageRow("calls", "p", 300)]
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()


# -- integration status --------------------------------------------------------------------
async def test_integration_health_transitions(backend: Backend) -> None:
    at = [T0 + timedelta(minutes=n) for n in range(10)]
    expiry = T0 + timedelta(hours=1)
    async with backend.make() as store:

        async def slack() -> tuple[str, int, int, int]:
            (status,) = await store.integration_status("acme", "slack")
            return status.health, status.consecutive_failures, status.calls_ok, status.calls_failed

        await store.set_token_expiry("acme", "slack", expiry)
        assert await slack() == ("unknown", 0, 0, 0)
        await store.record_outcome("acme", "slack", ok=True, at=at[0])
        assert await slack() == ("healthy", 0, 1, 0)
        await store.record_outcome("acme", "slack", ok=False, at=at[1], error="HTTP 502")
        assert await slack() == ("degraded", 1, 1, 1)
        await store.record_outcome("acme", "slack", ok=False, at=at[2], error="timeout")
        assert await slack() == ("degraded", 2, 1, 2)
        await store.record_outcome("acme", "slack", ok=False, at=at[3], error="HTTP 503")
        assert await slack() == ("failing", 3, 1, 3)
        # A late report of an older failure counts but does not replace the last error.
        await store.record_outcome("acme", "slack", ok=False, at=at[1], error="stale")
        (status,) = await store.integration_status("acme", "slack")
        assert (status.last_error, status.last_error_at) == ("HTTP 503", at[3])
        assert (status.last_success_at, status.token_expires_at) == (at[0], expiry)
        await store.record_outcome("acme", "slack", ok=True, at=at[4])
        assert await slack() == ("healthy", 0, 2, 4)

        await store.record_outcome(
            "acme", "slack", ok=False, at=at[5], error="invalid_auth", credentials_expired=True
        )
        assert await slack() == ("credentials_expired", 1, 2, 5)
        await store.record_outcome("acme", "slack", ok=False, at=at[6], error="HTTP 500")
        assert (await slack())[0] == "credentials_expired"  # until a success proves otherwise
        await store.record_outcome("acme", "slack", ok=True, at=at[7])
        assert await slack() == ("healthy", 0, 3, 6)
        await store.set_token_expiry("acme", "slack", None)
        await store.record_outcome("acme", "github", ok=False, at=at[8], error="HTTP 401")

        statuses = await store.integration_status("acme")
        assert [(s.connector, s.health) for s in statuses] == [
            ("github", "degraded"),
            ("slack", "healthy"),
        ]
        assert statuses[1].token_expires_at is None
        assert statuses[1].last_success_at == at[7]
        assert await store.integration_status("acme", "shopify") == []


# -- flows ---------------------------------------------------------------------------------
async def test_flows_are_versioned(backend: Backend) -> None:
    later = T0 + timedelta(days=1)
    async with backend.make() as store:
        first = await store.save_flow("acme", "sync", {"steps": [1]}, at=T0)
        second = await store.save_flow("acme", "sync", {"steps": [1, 2]}, at=later)
        await store.save_flow("acme", "alert", {"steps": []}, at=T0)
        assert (first.version, second.version, second.enabled) == (1, 2, True)
        assert await store.get_flow("acme", "sync") == second
        assert await store.get_flow("acme", "sync", 1) == first
        assert await store.get_flow("acme", "sync", 3) is None
        assert await store.get_flow("acme", "missing") is None
        assert [(f.name, f.version) for f in await store.list_flows("acme")] == [
            ("alert", 1),
            ("sync", 2),
        ]
        assert [f.version for f in await store.list_flow_versions("acme", "sync")] == [1, 2]

        assert await store.set_flow_enabled("acme", "sync", False)
        assert not await store.set_flow_enabled("acme", "missing", False)
        third = await store.save_flow("acme", "sync", {"steps": [3]}, at=later)
        assert (third.version, third.enabled) == (3, False)  # a new version stays disabled
        assert not (await store.get_flow("acme", "sync", 1)).enabled  # type: ignore[union-attr]

        assert await store.delete_flow("acme", "sync")
        assert not await store.delete_flow("acme", "sync")
        assert await store.get_flow("acme", "sync") is None
        assert await store.list_flow_versions("acme", "sync") == []
        again = await store.save_flow("acme", "sync", {"steps": []}, at=later)
        assert (again.version, again.enabled) == (1, True)


async def test_concurrent_flow_saves_get_distinct_versions(backend: Backend) -> None:
    async with backend.make() as first, backend.make() as second:
        saved = await asyncio.gather(
            *(
                store.save_flow("acme", "sync", {"n": n}, at=T0)
                for n in range(10)
                for store in (first, second)
            )
        )
    assert sorted(f.version for f in saved) == list(range(1, 21))


# -- secret blobs --------------------------------------------------------------------------
async def test_secret_blobs(backend: Backend) -> None:
    blob = bytes(range(256))
    async with backend.make() as store:
        assert await store.get_secret_blob("acme", "oauth:slack") is None
        await store.put_secret_blob("acme", "oauth:slack", blob)
        assert await store.get_secret_blob("acme", "oauth:slack") == blob
        await store.put_secret_blob("acme", "oauth:slack", b"\x00rotated")
        assert await store.get_secret_blob("acme", "oauth:slack") == b"\x00rotated"
        assert await store.delete_secret_blob("acme", "oauth:slack")
        assert not await store.delete_secret_blob("acme", "oauth:slack")
        assert await store.get_secret_blob("acme", "oauth:slack") is None


# -- restart -------------------------------------------------------------------------------
async def test_everything_survives_a_restart(backend: Backend) -> None:
    async with backend.make() as store:
        await fill_tenant(store, "acme", marker="A")
        before = (
            await all_events(store, "acme"),
            await store.usage("acme"),
            await store.integration_status("acme"),
            await store.list_flows("acme"),
            await store.get_secret_blob("acme", "oauth:slack"),
        )
    async with backend.make() as store:
        after = (
            await all_events(store, "acme"),
            await store.usage("acme"),
            await store.integration_status("acme"),
            await store.list_flows("acme"),
            await store.get_secret_blob("acme", "oauth:slack"),
        )
        assert after == before
        assert len(after[0]) == 5 and after[4] == b"A-blob"
        # Counters continue from where they were, not from zero.
        limit = [CounterLimit("calls", "2026-11", 2)]
        assert await store.consume("acme", limit) is None
        assert await store.consume("acme", limit) == CounterRefusal("calls", "2026-11", 2, 2)


async def test_times_come_back_in_utc(backend: Backend) -> None:
    local = datetime(2026, 11, 29, 12, 0, tzinfo=UTC).astimezone(
        timezone(timedelta(hours=5, minutes=30))
    )
    async with backend.make() as store:
        await store.record_event(event("acme", 0, at=local))
        (stored,) = (await store.list_events("acme", EventQuery())).events
        assert stored.at == local and stored.at.utcoffset() == timedelta(0)
        with pytest.raises(ValueError):
            await store.record_event(event("acme", 0, at=datetime(2026, 1, 1)))
