"""A run interrupted by a gateway stop is resumed, or failed saying why, never lost."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.flows.processes import call_ok, connect, gateway_process, kill
from tests.flows.world import World

pytestmark = pytest.mark.anyio


async def finished_run(client: Client, flow: str, run_id: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = await call_ok(client, "fastn_get_flow", {"name": flow, "run_id": run_id})
        if got["run"]["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return got["run"]
        await asyncio.sleep(0.1)


RESUMABLE = {
    "name": "resumable",
    "trigger": {"type": "manual"},
    "steps": [
        {
            "id": "before",
            "tool": "slack_send_message",
            "arguments": {"channel": "C001", "text": "before"},
        },
        {"id": "wait", "tool": "slack_list_channels"},
        {
            "id": "after",
            "tool": "slack_send_message",
            "arguments": {
                "channel": "C002",
                "text": "found {{ length(steps.wait.result.channels) }}, "
                "before was {{ steps.before.status }}",
            },
        },
    ],
}


# PostgreSQL's claim and lease statements are covered by the store contract suite; the
# PostgreSQL run of this end-to-end test is in the slow suite.
@pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.slow)], indirect=True
)
async def test_a_run_stopped_by_a_restart_resumes_where_it_was(
    world: World, store_url: str
) -> None:
    first = gateway_process(world, "first", store=store_url)
    first.start()
    try:
        async with connect(first.url, world.keys["acme"]) as client:
            await call_ok(client, "fastn_create_flow", RESUMABLE)
            world.slack.close_gate("conversations.list")
            run = await call_ok(client, "fastn_run_flow", {"name": "resumable", "wait_s": 0})
            assert await asyncio.to_thread(world.slack.wait_arrival, "conversations.list")
    finally:
        first.stop()  # SIGINT while step "wait" waits for Slack
        world.slack.open_gate("conversations.list")

    second = gateway_process(world, "second", store=store_url)
    second.start()
    try:
        async with connect(second.url, world.keys["acme"]) as client:
            done = await finished_run(client, "resumable", run["run_id"])
            history = await call_ok(client, "fastn_get_event_history", {"type": "flow_run"})
    finally:
        second.stop()
    assert (done["status"], done["resumed"], done["error"]) == ("succeeded", 1, None)
    # "before" ran once, before the stop; "wait" ran again; "after" saw both results.
    assert world.slack.posted("C001") == ["before"]
    assert world.slack.posted("C002") == ["found 2, before was succeeded"]
    assert [(s["step"], s["status"]) for s in done["steps"]] == [
        ("before", "succeeded"),
        ("wait", "failed"),
        ("wait", "succeeded"),
        ("after", "succeeded"),
    ]
    assert done["steps"][1]["error"] == "interrupted: the gateway stopped during this step"
    phases = [
        e["detail"]["phase"]
        for e in history["events"]
        if e["detail"].get("run_id") == run["run_id"] and e["detail"]["phase"] != "step"
    ]
    assert phases == ["run", "resumed", "interrupted"]  # newest first


async def test_a_run_whose_process_died_in_a_non_idempotent_step_is_failed(
    world: World, tmp_path: Path
) -> None:
    store = str(tmp_path / "shared.db")
    flow = {
        "name": "post-once",
        "trigger": {"type": "manual"},
        "steps": [
            {
                "id": "post",
                "tool": "slack_send_message",
                "arguments": {"channel": "C001", "text": "once"},
            }
        ],
    }
    first = gateway_process(world, "first", store=store)
    first.start()
    try:
        async with connect(first.url, world.keys["acme"]) as client:
            await call_ok(client, "fastn_create_flow", flow)
            world.slack.close_gate("chat.postMessage")
            run = await call_ok(client, "fastn_run_flow", {"name": "post-once", "wait_s": 0})
            assert await asyncio.to_thread(world.slack.wait_arrival, "chat.postMessage")
        kill(first)  # no goodbye: the run stays "running" until its lease runs out
    finally:
        world.slack.open_gate("chat.postMessage")  # Slack got the request: it posts
        first.stop()

    second = gateway_process(world, "second", store=store)
    second.start()
    try:
        async with connect(second.url, world.keys["acme"]) as client:
            done = await finished_run(client, "post-once", run["run_id"])
    finally:
        second.stop()
    assert done["status"] == "failed"
    assert done["error"] == (
        "interrupted during step post: slack_send_message may already have run and is not "
        "idempotent, so it is not run again"
    )
    assert world.slack.posted("C001") == ["once"]
