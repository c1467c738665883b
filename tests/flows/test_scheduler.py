"""The scheduler under a controlled clock: due times, time zones, leases, one firing each.

Two gateways here are two ``Services`` on one store, as two processes would be (the
cross-process suite, test_scheduler_processes.py, runs real gateway processes).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from fastn_gen.flows.scheduler import LEASE_NAME
from tests.flows.harness import QUICK, Gateway, gateway, spec
from tests.flows.world import World

pytestmark = pytest.mark.anyio

# Stored flows get created_at from the gateway clock; due times after it can fire.
T0 = datetime(2026, 11, 30, 7, 59, 30, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def every_quarter(name: str = "quarterly", **trigger: str) -> dict[str, object]:
    return spec(
        name,
        {
            "id": "post",
            "tool": "slack_send_message",
            "arguments": {"channel": "C001", "text": "{{ trigger.local_time }}"},
        },
        trigger={"type": "schedule", "cron": "*/15 * * * *", **trigger},
    )


async def settle(*gateways: Gateway) -> None:
    """Wait for the runs these gateways started to end."""
    for gw in gateways:
        for run_id in list(gw.runtime._active):
            await gw.runtime.wait(run_id, 30)


@asynccontextmanager
async def two_gateways(world: World, store_url: str, clock: Clock) -> AsyncIterator[list[Gateway]]:
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(gateway(world, store_url, clock=clock)) for _ in "ab"
        ]


async def test_a_due_time_fires_once_across_gateways(world: World, store_url: str) -> None:
    clock = Clock(T0)
    async with two_gateways(world, store_url, clock) as (a, b):
        await a.create("acme", every_quarter(timezone="Europe/Paris"))
        clock.now = datetime(2026, 11, 30, 8, 0, 5, tzinfo=UTC)
        # Both gateways tick at the same moment, several times: one holds the lease.
        fired = await asyncio.gather(*(gw.runtime.scheduler.tick() for gw in (a, b, a, b)))
        await settle(a, b)
        assert sum(fired) == 1
        assert [gw.runtime.scheduler.leader for gw in (a, b)].count(True) == 1
        runs = await a.services.store.list_flow_runs("acme", "quarterly")
        assert [(r.trigger_key, r.status) for r in runs] == [
            ("schedule:2026-11-30T08:00:00Z", "succeeded")
        ]
        assert runs[0].trigger["local_time"] == "2026-11-30T09:00:00+01:00"
        assert world.slack.posted("C001") == ["2026-11-30T09:00:00+01:00"]

        # The leader stops ticking (a stuck process); after its lease the other takes over.
        leader, other = (a, b) if a.runtime.scheduler.leader else (b, a)
        clock.now = datetime(2026, 11, 30, 8, 14, 59, 500000, tzinfo=UTC)
        assert await leader.runtime.scheduler.tick() == 0  # renews its lease; nothing due
        clock.now += timedelta(seconds=1)
        assert await other.runtime.scheduler.tick() == 0  # 08:15 is due, but the lease is held
        clock.now += timedelta(seconds=QUICK.lease_s)
        assert await other.runtime.scheduler.tick() == 1
        await settle(other)
        # The old leader wakes up late: it has lost the lease, and the due time is taken.
        assert await leader.runtime.scheduler.tick() == 0
        keys = [r.trigger_key for r in await a.services.store.list_flow_runs("acme")]
        assert keys == ["schedule:2026-11-30T08:15:00Z", "schedule:2026-11-30T08:00:00Z"]


async def test_a_late_scheduler_still_fires_each_due_time_once(world: World) -> None:
    clock = Clock(T0)
    options = replace(QUICK, misfire_s=3600)
    async with gateway(world, clock=clock, options=options) as gw:
        await gw.create("acme", every_quarter())
        # Nothing ticked for 40 minutes (within the misfire window): three due times.
        clock.now = datetime(2026, 11, 30, 8, 40, tzinfo=UTC)
        assert await gw.runtime.scheduler.tick() == 3
        assert await gw.runtime.scheduler.tick() == 0
        await settle(gw)
        # Hours later, only due times within the misfire window (an hour) are fired.
        clock.now = datetime(2026, 11, 30, 14, 7, tzinfo=UTC)
        assert await gw.runtime.scheduler.tick() == 4
        await settle(gw)
        runs = await gw.services.store.list_flow_runs("acme")
        assert sorted(r.trigger["due_at"][11:16] for r in runs) == [
            "08:00",
            "08:15",
            "08:30",
            "13:15",
            "13:30",
            "13:45",
            "14:00",
        ]


async def test_schedules_follow_their_time_zone(world: World) -> None:
    clock = Clock(datetime(2026, 11, 30, 0, 0, tzinfo=UTC))
    morning = spec(
        "morning",
        {"id": "a", "tool": "slack_list_channels"},
        trigger={"type": "schedule", "cron": "0 9 * * MON-FRI", "timezone": "America/New_York"},
    )
    async with gateway(world, clock=clock) as gw:
        await gw.create("acme", morning)
        clock.now = datetime(2026, 11, 30, 9, 0, 30, tzinfo=UTC)  # 04:00 in New York
        assert await gw.runtime.scheduler.tick() == 0
        clock.now = datetime(2026, 11, 30, 14, 0, 30, tzinfo=UTC)  # 09:00 EST, a Monday
        assert await gw.runtime.scheduler.tick() == 1
        await settle(gw)
        flows = await gw.services.store.list_flows("acme")
        from fastn_gen.native.flow_views import next_run_at

        assert next_run_at(flows[0], clock.now) == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


async def test_disabled_and_deleted_flows_do_not_fire(world: World) -> None:
    clock = Clock(T0)
    async with gateway(world, clock=clock) as gw:
        await gw.create("acme", every_quarter())
        await gw.services.store.set_flow_enabled("acme", "quarterly", False)
        clock.now = datetime(2026, 11, 30, 8, 0, 5, tzinfo=UTC)
        assert await gw.runtime.scheduler.tick() == 0
        await gw.services.store.set_flow_enabled("acme", "quarterly", True)
        gw.runtime.flows_changed()
        assert await gw.runtime.scheduler.tick() == 1  # the missed 08:00, once enabled
        await settle(gw)
        await gw.services.store.delete_flow("acme", "quarterly")
        clock.now = datetime(2026, 11, 30, 8, 15, 5, tzinfo=UTC)
        assert await gw.runtime.scheduler.tick() == 0
        assert world.slack.posted("C001") == ["2026-11-30T08:00:00+00:00"]


async def test_stopping_releases_the_scheduler_lease(world: World) -> None:
    clock = Clock(T0)
    async with gateway(world, clock=clock) as first:
        await first.runtime.scheduler.tick()
        assert first.runtime.scheduler.leader
    async with gateway(world, clock=clock) as second:
        # No wait for the old lease to expire: it was given back on shutdown.
        await second.runtime.scheduler.tick()
        assert second.runtime.scheduler.leader
        assert await second.services.store.acquire_lease(
            LEASE_NAME, second.runtime.owner, now=clock.now, until=clock.now
        )


async def test_a_flow_changed_since_the_schedules_were_read_fires_its_new_version(
    world: World,
) -> None:
    clock = Clock(T0)
    rarely = replace(QUICK, refresh_s=3600)  # the scheduler keeps what it read
    async with gateway(world, clock=clock, options=rarely) as gw:
        await gw.create("acme", every_quarter())
        clock.now = datetime(2026, 11, 30, 8, 0, 5, tzinfo=UTC)
        assert await gw.runtime.scheduler.tick() == 1
        await settle(gw)
        # A new version saved elsewhere (another process): this scheduler has not seen it.
        newer = every_quarter()
        newer["description"] = "v2"
        await gw.services.store.save_flow("acme", "quarterly", newer, at=clock.now)
        clock.now = datetime(2026, 11, 30, 8, 15, 5, tzinfo=UTC)
        assert await gw.runtime.scheduler.tick() == 0  # stale: re-reads the schedules
        assert await gw.runtime.scheduler.tick() == 1  # and fires 08:15 with version 2
        await settle(gw)
        runs = await gw.services.store.list_flow_runs("acme")
        assert [(r.trigger["due_at"], r.flow_version) for r in runs] == [
            ("2026-11-30T08:15:00Z", 2),
            ("2026-11-30T08:00:00Z", 1),
        ]
