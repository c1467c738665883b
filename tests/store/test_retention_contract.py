"""Retention (``prune_older_than``, migration 5) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fastn_gen.gateway.quotas import minute_period, month_period
from fastn_gen.store.base import Store
from fastn_gen.store.ids import new_event_id
from fastn_gen.store.records import CounterLimit, Event, FlowStepRecord
from fastn_gen.store.retention import PruneCounts
from fastn_gen.store.sqlite import SQLiteStore
from tests.store.conftest import Backend
from tests.store.helpers import all_events, event
from tests.store.test_flow_runs_contract import run

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 11, 30, 12, 30, 15, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=30)  # 2026-10-31T12:30:15


async def _seed_usage(store: Store, tenant: str, periods: list[str]) -> None:
    for period in periods:
        assert await store.consume(tenant, [CounterLimit("calls", period, None)]) is None


async def _periods(store: Store, tenant: str) -> list[str]:
    return sorted({row.period for row in await store.usage(tenant)})


async def test_old_rows_go_and_recent_ones_stay(backend: Backend) -> None:
    async with backend.make() as store:
        for tenant in ("acme", "globex"):
            await store.record_event(event(tenant, 0, at=CUTOFF - timedelta(days=1)))
            await store.record_event(event(tenant, 0, at=CUTOFF - timedelta(microseconds=1)))
            await store.record_event(event(tenant, 0, at=CUTOFF))  # not before: stays
            await store.record_event(event(tenant, 0, at=NOW))
        await _seed_usage(
            store,
            "acme",
            [
                "2026-09",  # ended before the cutoff
                "2026-10",  # the cutoff's month: not over by then, stays
                "2026-11",  # the current month
                "2026-10-31T12:29",  # ended at 12:30, before 12:30:15
                "2026-10-31T12:30",  # the cutoff's minute: stays
                minute_period(NOW),
                "weekly-2020-01",  # a shape retention does not know: never touched
            ],
        )
        assert await store.create_flow_run(run("OLD", "k1", started_at=CUTOFF - timedelta(2)))
        assert await store.finish_flow_run(
            "acme", "OLD", "proc-a", status="succeeded", at=CUTOFF - timedelta(days=1)
        )
        for seq in range(3):
            step = FlowStepRecord("acme", "OLD", seq, f"s{seq}", "t", "succeeded", CUTOFF)
            await store.record_flow_step(step)
        # Running for months, and interrupted long ago: either may still be resumed.
        assert await store.create_flow_run(run("LONG", "k2", started_at=CUTOFF - timedelta(60)))
        await store.record_flow_step(FlowStepRecord("acme", "LONG", 0, "s", "t", "running", NOW))
        assert await store.create_flow_run(run("INT", "k3", started_at=CUTOFF - timedelta(60)))
        assert await store.finish_flow_run(
            "acme", "INT", "proc-a", status="interrupted", at=CUTOFF - timedelta(days=50)
        )
        assert await store.create_flow_run(run("NEW", "k4", started_at=CUTOFF))
        assert await store.finish_flow_run("acme", "NEW", "proc-a", status="failed", at=NOW)

        expected = PruneCounts(events=4, usage=2, flow_runs=1, flow_steps=3)
        assert await store.prune_older_than(CUTOFF, dry_run=True) == expected
        assert await store.prune_older_than(CUTOFF) == expected
        assert await store.prune_older_than(CUTOFF) == PruneCounts()  # nothing left

        for tenant in ("acme", "globex"):
            assert sorted(e.at for e in await all_events(store, tenant)) == [CUTOFF, NOW]
        assert await _periods(store, "acme") == sorted(
            ["2026-10", "2026-11", "2026-10-31T12:30", minute_period(NOW), "weekly-2020-01"]
        )
        assert await store.get_flow_run("acme", "OLD") is None
        assert await store.list_flow_steps("acme", "OLD") == []
        assert {r.id for r in await store.list_flow_runs("acme")} == {"LONG", "INT", "NEW"}
        assert len(await store.list_flow_steps("acme", "LONG")) == 1


async def test_dry_run_deletes_nothing(backend: Backend) -> None:
    async with backend.make() as store:
        for n in range(7):
            await store.record_event(event("acme", n, at=CUTOFF - timedelta(days=1, seconds=n)))
        await _seed_usage(store, "acme", ["2026-01", "2026-01-05T10:00"])
        counts = await store.prune_older_than(CUTOFF, dry_run=True)
        assert counts == PruneCounts(events=7, usage=2)
        assert len(await all_events(store, "acme")) == 7
        assert await _periods(store, "acme") == ["2026-01", "2026-01-05T10:00"]


async def test_batches_cover_a_backlog_larger_than_one_batch(backend: Backend) -> None:
    old = CUTOFF - timedelta(days=3)
    async with backend.make() as store:
        events = [
            Event(
                id=new_event_id(old + timedelta(milliseconds=n)),
                tenant_id=f"t{n % 3}",
                at=old + timedelta(milliseconds=n),
                type="tool_call",
                status="success",
            )
            for n in range(2_345)
        ]
        await store.put_secret_blobs([], events=events)  # one transaction for the seed
        minutes = [minute_period(old + timedelta(minutes=n)) for n in range(250)]
        await _seed_usage(store, "acme", minutes)
        for n in range(25):
            assert await store.create_flow_run(run(f"R{n}", f"k{n}", started_at=old))
            assert await store.finish_flow_run("acme", f"R{n}", "proc-a", status="failed", at=old)
        await store.record_event(event("t0", 0, at=NOW))

        began = store._runner.transactions if isinstance(store, SQLiteStore) else 0
        counts = await store.prune_older_than(CUTOFF, batch_size=100)
        assert counts == PruneCounts(events=2_345, usage=250, flow_runs=25)
        if isinstance(store, SQLiteStore):
            # 24 + 3 + 1 batches, each a transaction of its own.
            assert store._runner.transactions - began >= 28
        assert [e.at for e in await all_events(store, "t0")] == [NOW]
        assert await _periods(store, "acme") == []
        with pytest.raises(ValueError):
            await store.prune_older_than(CUTOFF, batch_size=0)


async def test_quota_windows_are_unaffected(backend: Backend) -> None:
    """Even a cutoff of now leaves the current month and minute: a limit still holds."""
    now = datetime.now(UTC)
    month, minute = month_period(now), minute_period(now)
    limits = [CounterLimit("calls", month, 3), CounterLimit("rpm", minute, 1000)]
    async with backend.make() as store:
        for _ in range(3):
            assert await store.consume("acme", limits) is None
        await _seed_usage(store, "acme", ["2020-01", "2020-01-01T00:00"])
        counts = await store.prune_older_than(now)
        # The current minute may have turned meanwhile: only the old two are certain.
        assert counts.usage >= 2
        assert {(r.key, r.period, r.used) for r in await store.usage("acme", [month])} == {
            ("calls", month, 3)
        }
        refusal = await store.consume("acme", limits)
        assert refusal is not None and refusal.key == "calls" and refusal.used == 3


async def test_one_replica_prunes_at_a_time(backend: Backend) -> None:
    """The gateway's pruner takes the ``retention`` lease; while another holds it, it waits."""
    from fastn_gen.gateway.retention import LEASE, LEASE_NAME, Pruner, RetentionPolicy

    async with backend.make() as first, backend.make() as second:
        await first.record_event(event("acme", 0, at=CUTOFF - timedelta(days=1)))
        a = Pruner(first, RetentionPolicy(days=30), lambda: NOW)
        b = Pruner(second, RetentionPolicy(days=30), lambda: NOW)
        assert await second.acquire_lease(LEASE_NAME, b.owner, now=NOW, until=NOW + LEASE)
        assert await a.prune_once() is None  # b is pruning: a deletes nothing
        assert len(await all_events(first, "acme")) == 1
        assert await second.release_lease(LEASE_NAME, b.owner)
        assert await a.prune_once() == PruneCounts(events=1)
        assert a.passes == 1 and a.deleted["events"] == 1
        # a released the lease when its pass ended: b may take the next one.
        assert await b.prune_once() == PruneCounts()
