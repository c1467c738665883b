"""Scheduled flows in real gateway processes whose clock the test moves.

Two gateway processes share one store (a SQLite file, or a PostgreSQL schema): each
due time is fired once, and when the process holding the scheduler lease dies the other
takes over. One gateway runs the shipped monitoring flow under the same clock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from mcp import Client

from fastn_gen.flows.scheduler import LEASE_NAME
from tests.flows.clocked_gateway import set_offset
from tests.flows.processes import call_ok, connect, gateway_process, kill, start_all
from tests.flows.world import World
from tests.gateway.fixtures.gateway_process import REPO_ROOT
from tests.store.postgres_server import POSTGRES_URL

pytestmark = pytest.mark.anyio
OPS_MONITOR = REPO_ROOT / "examples" / "flows" / "ops-monitor.yaml"


def wait_for(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


async def finished_runs(client: Client, flow: str, count: int) -> list[dict[str, Any]]:
    """The flow's runs once there are ``count`` of them and none is still running."""
    deadline = time.monotonic() + 20
    while True:
        got = await call_ok(client, "fastn_get_flow", {"name": flow})
        runs: list[dict[str, Any]] = got["recent_runs"]
        if len(runs) >= count and all(r["status"] != "running" for r in runs):
            return runs
        assert time.monotonic() < deadline, f"gave up waiting for {count} runs of {flow}"
        await asyncio.sleep(0.05)


def move_clock_before(clock_file: Path, due: datetime, seconds: float = 1.0) -> None:
    """Set the gateways' clock to ``seconds`` before ``due`` (real time goes on)."""
    set_offset(clock_file, (due - datetime.now(UTC)).total_seconds() - seconds)


def next_boundary(minutes: int, after: datetime) -> datetime:
    base = after.replace(second=0, microsecond=0)
    return base + timedelta(minutes=minutes - base.minute % minutes)


def lease_holder(store_url: str) -> int:
    """The pid of the process holding the scheduler lease (from its owner id)."""
    query = "SELECT owner FROM flow_leases WHERE name = ?"
    if store_url.startswith("postgresql://"):
        schema = store_url.split("schema=")[1]
        with psycopg.connect(POSTGRES_URL) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            row = conn.execute(query.replace("?", "%s"), (LEASE_NAME,)).fetchone()
    else:
        with sqlite3.connect(store_url) as conn:
            row = conn.execute(query, (LEASE_NAME,)).fetchone()
    assert row is not None
    return int(str(row[0]).split(":")[1])


async def test_two_processes_fire_each_due_time_once(
    world: World, store_url: str, tmp_path: Path
) -> None:
    clock_file = tmp_path / "clock"
    a, b = (gateway_process(world, n, store=store_url, clock_file=clock_file) for n in "ab")
    started = [a, b]
    start_all(a, b)
    try:
        flow = {
            "name": "every-five",
            "trigger": {"type": "schedule", "cron": "*/5 * * * *", "timezone": "Europe/Paris"},
            "steps": [
                {
                    "id": "post",
                    "tool": "slack_send_message",
                    "arguments": {"channel": "C001", "text": "{{ trigger.due_at }}"},
                }
            ],
        }
        # Half a minute after a due time: nothing else falls due while the flow is saved.
        first = next_boundary(5, datetime.now(UTC) + timedelta(minutes=10))
        move_clock_before(clock_file, first - timedelta(minutes=5), seconds=-30)
        async with connect(a.url, world.keys["acme"]) as client:
            await call_ok(client, "fastn_create_flow", flow)
        move_clock_before(clock_file, first)
        async with connect(a.url, world.keys["acme"]) as client:
            # Finished, not just posted: a kill before the run is marked done is a test
            # of its own (test_restart.py).
            await finished_runs(client, "every-five", 1)

        # The lease holder dies without a goodbye; the other process takes over.
        holder = lease_holder(store_url)
        dead = next(p for p in started if p.proc is not None and p.proc.pid == holder)
        kill(dead)
        alive = b if dead is a else a
        second = first + timedelta(minutes=5)
        move_clock_before(clock_file, second)
        async with connect(alive.url, world.keys["acme"]) as client:
            runs = await finished_runs(client, "every-five", 2)
        stamp = "%Y-%m-%dT%H:%M:%SZ"
        assert world.slack.posted("C001") == [first.strftime(stamp), second.strftime(stamp)]
        assert [(r["trigger"]["due_at"], r["status"]) for r in runs] == [
            (second.strftime(stamp), "succeeded"),
            (first.strftime(stamp), "succeeded"),
        ]
        assert lease_holder(store_url) == alive.proc.pid  # type: ignore[union-attr]
    finally:
        for process in started:
            process.stop()


async def test_the_monitoring_flow_reports_on_schedule(world: World, tmp_path: Path) -> None:
    clock_file = tmp_path / "clock"
    gateway = gateway_process(world, "ops", clock_file=clock_file)
    gateway.start()
    try:
        monitor = yaml.safe_load(OPS_MONITOR.read_text(encoding="utf-8"))
        async with connect(gateway.url, world.keys["metered"]) as client:
            first = next_boundary(15, datetime.now(UTC) + timedelta(minutes=20))
            move_clock_before(clock_file, first - timedelta(minutes=15), seconds=-30)
            await call_ok(client, "fastn_create_flow", monitor)
            # Shopify refuses the tenant's credential; the one call also uses up the
            # tenant's monthly Shopify quota (1).
            world.revoke_shopify("metered")
            refused = await client.call_tool("shopify_list_orders", {"status": "any"})
            assert refused.is_error
            move_clock_before(clock_file, first)
            report = wait_for(lambda: world.slack.posted("C001"), "the ops report")[0]
            assert report.startswith(f"Ops check for metered at {first:%Y-%m-%dT%H:%M}:00Z.")
            assert "Unhealthy: shopify is credentials_expired." in report
            assert "Failed calls since the last check: 1 (shopify_list_orders)." in report
            assert "Limits reached: tool_calls_per_month connector shopify." in report

            # At the next check nothing new has failed, but Shopify is still refused and
            # its quota used up: the report says so, counting failures since the last run.
            second = first + timedelta(minutes=15)
            move_clock_before(clock_file, second)
            found = await finished_runs(client, "ops-monitor", 2)
            assert [r["status"] for r in found] == ["succeeded", "succeeded"]
            detail = await call_ok(
                client, "fastn_get_flow", {"name": "ops-monitor", "run_id": found[0]["run_id"]}
            )
        steps = {s["step"]: s for s in detail["run"]["steps"]}
        assert steps["notify"]["status"] == "succeeded"
        assert steps["failures"]["output"]["events"] == []
        later = world.slack.posted("C001")[1]
        assert "Unhealthy: shopify is credentials_expired." in later
        assert "Failed calls since the last check: 0 ()." in later
    finally:
        gateway.stop()
