"""The flow-run part of the store contract (migration 2), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from fastn_gen.store.records import FlowRun, FlowStepRecord
from tests.store.conftest import Backend
from tests.store.helpers import T0

pytestmark = pytest.mark.anyio
LEASE = timedelta(seconds=30)


def run(
    run_id: str, key: str, *, tenant: str = "acme", flow: str = "sync", **fields: Any
) -> FlowRun:
    values: dict[str, Any] = {
        "flow_version": 1,
        "trigger_type": "schedule",
        "trigger": {"due_at": "2026-11-29T09:00:00Z"},
        "status": "running",
        "started_at": T0,
        "owner": "proc-a",
        "lease_expires_at": T0 + LEASE,
    }
    values.update(fields)
    return FlowRun(tenant_id=tenant, id=run_id, flow_name=flow, trigger_key=key, **values)


async def test_a_trigger_key_creates_one_run_even_from_several_stores(backend: Backend) -> None:
    stores = [backend.make() for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        attempts = [
            s.create_flow_run(run(f"R{n}{i}", "schedule:09:00", owner=f"proc-{n}"))
            for n, s in enumerate(stores)
            for i in range(4)
        ]
        created = await asyncio.gather(*attempts)
        assert sum(created) == 1
        runs = await stores[0].list_flow_runs("acme", "sync")
        assert len(runs) == 1 and runs[0].trigger_key == "schedule:09:00"
        # The same key for another flow, or another tenant's flow, is another run.
        assert await stores[0].create_flow_run(run("X1", "schedule:09:00", flow="other"))
        assert await stores[0].create_flow_run(run("X2", "schedule:09:00", tenant="globex"))
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_runs_round_trip_and_list_newest_first(backend: Backend) -> None:
    async with backend.make() as store:
        first = run("R1", "manual:R1", trigger={"input": {"channel": "C001"}, "n": [1, 2]})
        second = run("R2", "manual:R2", started_at=T0 + timedelta(seconds=5))
        other = run("R3", "manual:R3", flow="other", started_at=T0 + timedelta(seconds=9))
        for item in (first, second, other):
            assert await store.create_flow_run(item)
        assert await store.get_flow_run("acme", "R1") == first
        assert await store.get_flow_run("globex", "R1") is None
        assert [r.id for r in await store.list_flow_runs("acme")] == ["R3", "R2", "R1"]
        assert [r.id for r in await store.list_flow_runs("acme", "sync")] == ["R2", "R1"]
        assert [r.id for r in await store.list_flow_runs("acme", limit=1)] == ["R3"]
        assert await store.list_flow_runs("globex") == []
        with pytest.raises(ValueError):
            await store.list_flow_runs("acme", limit=0)
        with pytest.raises(ValueError):
            await store.create_flow_run(replace(first, id="R9", trigger_key="k", owner=None))


async def test_only_the_owner_finishes_a_running_run(backend: Backend) -> None:
    async with backend.make() as store:
        await store.create_flow_run(run("R1", "k1"))
        end = T0 + timedelta(seconds=3)
        assert not await store.finish_flow_run("acme", "R1", "proc-b", status="failed", at=end)
        assert await store.finish_flow_run(
            "acme", "R1", "proc-a", status="failed", at=end, error="step post failed"
        )
        done = await store.get_flow_run("acme", "R1")
        assert done is not None
        assert (done.status, done.finished_at, done.error) == ("failed", end, "step post failed")
        # Final: neither finished again nor taken over.
        assert not await store.finish_flow_run("acme", "R1", "proc-a", status="succeeded", at=end)
        assert await store.claim_stale_runs("acme", "proc-b", now=end + LEASE, until=end) == []
        assert await store.list_flow_runs("acme", status="failed") == [done]


async def test_stale_runs_are_taken_over_once(backend: Backend) -> None:
    stores = [backend.make() for _ in range(2)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        store = stores[0]
        await store.create_flow_run(run("R1", "k1"))
        await store.create_flow_run(run("R2", "k2", started_at=T0 + timedelta(seconds=1)))
        await store.create_flow_run(run("R3", "k3", tenant="globex"))
        # Leases still valid: nothing to take over; renewing moves the expiry.
        assert await store.claim_stale_runs("acme", "proc-b", now=T0, until=T0 + LEASE) == []
        later = T0 + LEASE * 2
        assert await store.renew_run_lease("acme", "R2", "proc-a", until=later + LEASE)
        assert not await store.renew_run_lease("acme", "R2", "proc-b", until=later + LEASE)
        claims = await asyncio.gather(
            *(
                s.claim_stale_runs("acme", f"proc-{n}", now=later, until=later + LEASE)
                for n, s in enumerate(stores, start=2)
            )
        )
        claimed = [r for batch in claims for r in batch]
        assert [r.id for r in claimed] == ["R1"]  # R2's lease was renewed; R3 is globex's
        taken = claimed[0]
        assert (taken.status, taken.resumed, taken.lease_expires_at) == (
            "running",
            1,
            later + LEASE,
        )
        assert taken.owner in ("proc-2", "proc-3")
        # The old owner lost it: it can neither renew nor finish the run.
        assert not await store.renew_run_lease("acme", "R1", "proc-a", until=later)
        assert not await store.finish_flow_run("acme", "R1", "proc-a", status="failed", at=later)
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_an_interrupted_run_can_be_taken_over_at_once(backend: Backend) -> None:
    async with backend.make() as store:
        await store.create_flow_run(run("R1", "k1"))
        stop = T0 + timedelta(seconds=2)
        assert await store.finish_flow_run("acme", "R1", "proc-a", status="interrupted", at=stop)
        paused = await store.get_flow_run("acme", "R1")
        assert paused is not None
        assert (paused.status, paused.finished_at, paused.lease_expires_at) == (
            "interrupted",
            None,
            stop,
        )
        claimed = await store.claim_stale_runs("acme", "proc-b", now=stop, until=stop + LEASE)
        assert [(r.id, r.owner, r.status) for r in claimed] == [("R1", "proc-b", "running")]


async def test_steps_are_upserted_by_seq_and_listed_in_order(backend: Backend) -> None:
    async with backend.make() as store:
        started = FlowStepRecord(
            tenant_id="acme",
            run_id="R1",
            seq=0,
            step_id="channels",
            tool="slack_list_channels",
            status="running",
            started_at=T0,
        )
        await store.record_flow_step(started)
        done = replace(
            started,
            status="succeeded",
            attempts=2,
            finished_at=T0 + timedelta(milliseconds=40),
            latency_ms=12.5,
            output={"channels": [{"id": "C001"}], "ok": True},
            detail={"upstream_status": 200},
        )
        item = replace(
            done,
            seq=1,
            step_id="post",
            tool="slack_send_message",
            item_index=0,
            status="failed",
            output=None,
            output_truncated=True,
            error="channel_not_found",
            branch_of="channels",
        )
        await store.record_flow_step(item)
        await store.record_flow_step(done)
        assert await store.list_flow_steps("acme", "R1") == [done, item]
        assert await store.list_flow_steps("globex", "R1") == []
        with pytest.raises(ValueError):
            await store.record_flow_step(replace(done, seq=-1))


async def test_deleting_a_flow_deletes_its_runs_and_steps(backend: Backend) -> None:
    async with backend.make() as store:
        await store.save_flow("acme", "sync", {"steps": []}, at=T0)
        await store.create_flow_run(run("R1", "k1"))
        await store.create_flow_run(run("R2", "k1", flow="keep"))
        step = FlowStepRecord("acme", "R1", 0, "a", "slack_list_channels", "succeeded", T0)
        await store.record_flow_step(step)
        assert await store.delete_flow("acme", "sync")
        assert await store.get_flow_run("acme", "R1") is None
        assert await store.list_flow_steps("acme", "R1") == []
        assert await store.get_flow_run("acme", "R2") is not None


async def test_a_lease_has_one_holder_until_it_expires(backend: Backend) -> None:
    stores = [backend.make() for _ in range(2)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        a, b = stores
        until = T0 + LEASE
        wins = await asyncio.gather(
            a.acquire_lease("scheduler", "proc-a", now=T0, until=until),
            b.acquire_lease("scheduler", "proc-b", now=T0, until=until),
        )
        assert sorted(wins) == [False, True]
        holder, other = ("proc-a", "proc-b") if wins[0] else ("proc-b", "proc-a")
        # The holder renews; the other waits for expiry, then takes it over.
        assert await a.acquire_lease("scheduler", holder, now=T0, until=until + LEASE)
        assert not await b.acquire_lease("scheduler", other, now=until, until=until + LEASE)
        later = until + LEASE
        assert await b.acquire_lease("scheduler", other, now=later, until=later + LEASE)
        assert not await a.acquire_lease("scheduler", holder, now=later, until=later + LEASE)
        # Released, it is free at once; a release by a non-holder does nothing.
        assert not await a.release_lease("scheduler", holder)
        assert await b.release_lease("scheduler", other)
        assert await a.acquire_lease("scheduler", holder, now=later, until=later + LEASE)
        # Other names are other leases.
        assert await b.acquire_lease("another", other, now=later, until=later + LEASE)
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_record_outcome_reports_each_health_change_once(backend: Backend) -> None:
    stores = [backend.make() for _ in range(2)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        first = await stores[0].record_outcome("acme", "slack", ok=True, at=T0)
        assert (first.before, first.after, first.changed) == ("unknown", "healthy", True)
        failures = await asyncio.gather(
            *(
                stores[n % 2].record_outcome("acme", "slack", ok=False, at=T0, error="HTTP 500")
                for n in range(6)
            )
        )
        changes = [(c.before, c.after) for c in failures if c.changed]
        # Six failures from two stores: healthy -> degraded once, degraded -> failing once.
        assert sorted(changes) == [("degraded", "failing"), ("healthy", "degraded")]
        assert sorted(c.consecutive_failures for c in failures) == [1, 2, 3, 4, 5, 6]
        expired = await stores[1].record_outcome(
            "acme", "slack", ok=False, at=T0, credentials_expired=True
        )
        assert (expired.before, expired.after) == ("failing", "credentials_expired")
        back = await stores[0].record_outcome("acme", "slack", ok=True, at=T0)
        assert (back.before, back.after, back.consecutive_failures) == (
            "credentials_expired",
            "healthy",
            0,
        )
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_the_scheduler_reads_every_tenants_enabled_scheduled_flows(backend: Backend) -> None:
    schedule = {"type": "schedule", "cron": "*/5 * * * *", "timezone": "UTC"}
    async with backend.make() as store:
        await store.save_flow("globex", "nightly", {"trigger": schedule, "steps": []}, at=T0)
        await store.save_flow("acme", "hourly", {"trigger": {"type": "manual"}}, at=T0)
        later = T0 + timedelta(seconds=1)
        await store.save_flow("acme", "hourly", {"trigger": schedule, "v": 2}, at=later)
        await store.save_flow("acme", "off", {"trigger": schedule}, at=T0)
        await store.set_flow_enabled("acme", "off", False)
        await store.save_flow("acme", "events", {"trigger": {"type": "event"}}, at=T0)
        found = await store.list_scheduled_flows()
        assert [(f.tenant_id, f.name, f.version) for f in found] == [
            ("acme", "hourly", 2),
            ("globex", "nightly", 1),
        ]
        assert found[0].spec == {"trigger": schedule, "v": 2} and found[0].created_at == later


async def test_tenants_with_stale_runs(backend: Backend) -> None:
    async with backend.make() as store:
        await store.create_flow_run(run("R1", "k1", tenant="globex"))
        await store.create_flow_run(run("R2", "k2", lease_expires_at=T0 + LEASE * 3))
        await store.create_flow_run(run("R3", "k3", tenant="initech"))
        await store.finish_flow_run("initech", "R3", "proc-a", status="succeeded", at=T0)
        assert await store.tenants_with_stale_runs(T0) == []
        assert await store.tenants_with_stale_runs(T0 + LEASE) == ["globex"]
        assert await store.tenants_with_stale_runs(T0 + LEASE * 3) == ["acme", "globex"]


async def test_an_owner_does_not_take_over_a_run_it_is_still_running(backend: Backend) -> None:
    async with backend.make() as store:
        await store.create_flow_run(run("R1", "k1"))
        late = T0 + LEASE * 2  # proc-a's renewal is late, but proc-a is still at work
        assert await store.claim_stale_runs("acme", "proc-a", now=late, until=late + LEASE) == []
        claimed = await store.claim_stale_runs("acme", "proc-b", now=late, until=late + LEASE)
        assert [(r.id, r.owner) for r in claimed] == [("R1", "proc-b")]
