"""Event-triggered flows: a failed call, an integration that starts failing or recovers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.flows.harness import Gateway, gateway, spec
from tests.flows.processes import call_ok, connect, gateway_process
from tests.flows.world import World

pytestmark = pytest.mark.anyio


async def client_call(gw: Gateway, tenant_id: str, tool: str, arguments: dict[str, Any]) -> bool:
    """A call as an MCP client's ``tools/call`` makes it; True when it succeeded."""
    tenant = gw.tenant(tenant_id)
    entry = gw.services.catalog.visible(tool, tenant.connected_connectors())
    assert entry is not None
    connection = tenant.connection_for(entry.connector.name)
    assert connection is not None
    result, _ = await gw.services.calls.call(tenant, entry, connection, arguments)
    return not result.is_error


async def settle(gw: Gateway) -> None:
    """Every event recorded so far dispatched, and every run it started ended."""
    await gw.services.flush()
    await gw.runtime.triggers.drain()
    for run_id in list(gw.runtime._active):
        await gw.runtime.wait(run_id, 30)


def alert(name: str, trigger: dict[str, Any], text: str, channel: str = "C001") -> dict[str, Any]:
    return spec(
        name,
        {
            "id": "alert",
            "tool": "slack_send_message",
            "arguments": {"channel": channel, "text": text},
        },
        trigger={"type": "event", **trigger},
    )


FAIL = {"channel": "C500", "text": "x"}


async def test_a_flow_reacts_once_when_an_integration_becomes_failing(world: World) -> None:
    async with gateway(world) as gw:
        await gw.create(
            "acme",
            alert(
                "slack-failing",
                {"event": "integration.failing", "connector": "slack"},
                "{{ trigger.connector }} {{ trigger.previous_health }}->{{ trigger.health }} "
                "after {{ trigger.consecutive_failures }}",
            ),
        )
        await gw.create(
            "acme",
            alert(
                "recovered",
                {"event": "integration.recovered"},
                "{{ trigger.connector }} ok",
                "C002",
            ),
        )
        for _ in range(2):
            assert not await client_call(gw, "acme", "slack_send_message", FAIL)
        await settle(gw)
        assert await gw.services.store.list_flow_runs("acme") == []  # degraded, not failing
        assert not await client_call(gw, "acme", "slack_send_message", FAIL)
        await settle(gw)
        assert world.slack.posted("C001") == ["slack degraded->failing after 3"]
        # The alert's own successful post made Slack healthy again: a recovery.
        await settle(gw)
        assert world.slack.posted("C002") == ["slack ok"]
        runs = await gw.services.store.list_flow_runs("acme")
        assert sorted((r.flow_name, r.trigger["event"]) for r in runs) == [
            ("recovered", "integration.recovered"),
            ("slack-failing", "integration.failing"),
        ]
        # globex's failures are globex's: acme's flows do not see them.
        for _ in range(3):
            await client_call(gw, "globex", "slack_send_message", FAIL)
        await settle(gw)
        assert len(await gw.services.store.list_flow_runs("acme")) == 2


async def test_a_failed_call_triggers_matching_flows_but_never_their_own_failures(
    world: World,
) -> None:
    async with gateway(world) as gw:
        flow = alert(
            "on-post-failure",
            {"event": "tool_call.failed", "tool": "slack_send_message"},
            "{{ trigger.tool }} failed ({{ trigger.error_kind }}, {{ trigger.upstream_status }})",
            channel="C500",  # the alert itself fails, which must not trigger it again
        )
        await gw.create("acme", flow)
        assert not await client_call(gw, "acme", "shopify_list_orders", {"status": "nope"})
        await settle(gw)
        assert await gw.services.store.list_flow_runs("acme") == []  # another tool
        assert not await client_call(gw, "acme", "slack_send_message", FAIL)
        await settle(gw)
        await settle(gw)
        runs = await gw.services.store.list_flow_runs("acme")
        assert [(r.status, r.trigger["tool"]) for r in runs] == [("failed", "slack_send_message")]
        assert runs[0].trigger["error_kind"] == "http_status"
        assert runs[0].trigger["upstream_status"] == 500
        steps = await gw.steps(runs[0])
        assert steps[0].status == "failed"  # the flow's own failed call, not re-triggered


async def test_disabled_flows_and_busy_flows_start_nothing(world: World) -> None:
    async with gateway(world) as gw:
        await gw.create(
            "acme", alert("slow-alert", {"event": "tool_call.failed"}, "{{ trigger.tool }}")
        )
        await gw.services.store.set_flow_enabled("acme", "slow-alert", False)
        await client_call(gw, "acme", "slack_send_message", FAIL)
        await settle(gw)
        assert await gw.services.store.list_flow_runs("acme") == []

        await gw.services.store.set_flow_enabled("acme", "slow-alert", True)
        world.slack.close_gate("chat.postMessage")
        try:
            # The first failure starts a run, which waits at the gate; the next failures
            # arrive while it runs and start nothing more.
            await client_call(gw, "acme", "shopify_list_orders", {"status": "nope"})
            await gw.services.flush()
            await gw.runtime.triggers.drain()
            assert await asyncio.to_thread(world.slack.wait_arrival, "chat.postMessage")
            for _ in range(2):
                await client_call(gw, "acme", "shopify_list_orders", {"status": "nope"})
            await gw.services.flush()
            await gw.runtime.triggers.drain()
            assert gw.runtime.triggers.coalesced == 2
        finally:
            world.slack.open_gate("chat.postMessage")
        await settle(gw)
        assert world.slack.posted("C001") == ["shopify_list_orders"]


async def test_a_served_gateway_runs_a_flow_when_its_upstream_fails(world: World) -> None:
    process = gateway_process(world, "events")
    process.start()
    try:
        flow = alert(
            "slack-failing",
            {"event": "integration.failing", "connector": "slack"},
            "{{ trigger.connector }} is {{ trigger.health }}: {{ trigger.error }}",
        )
        async with connect(process.url, world.keys["acme"]) as client:
            await call_ok(client, "fastn_create_flow", flow)
            for _ in range(3):
                failed = await client.call_tool("slack_send_message", FAIL)
                assert failed.is_error
            deadline = time.monotonic() + 20
            while not world.slack.posted("C001") and time.monotonic() < deadline:
                time.sleep(0.05)
            posted = world.slack.posted("C001")
            assert len(posted) == 1 and posted[0].startswith("slack is failing: ")
            assert "500" in posted[0]
            listed = await call_ok(client, "fastn_get_flow", {"name": "slack-failing"})
            assert listed["recent_runs"][0]["trigger"]["event"] == "integration.failing"
    finally:
        process.stop()
