"""Flows through a served gateway with the official MCP client: create, run, manage.

One gateway process for the module; each test uses its own flow names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fastn_gen.native.registry import NATIVE_TOOLS
from tests.flows.processes import call_error, call_ok, connect, gateway_process, text_of
from tests.flows.world import World
from tests.gateway.fixtures.gateway_process import GatewayProcess

pytestmark = pytest.mark.anyio

FLOW_TOOLS = [
    "fastn_run_flow",
    "fastn_list_flows",
    "fastn_get_flow",
    "fastn_set_flow_enabled",
    "fastn_delete_flow",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, GatewayProcess]]:
    world = World.create(Path(tmp_path_factory.mktemp("flows-mcp")))
    process = gateway_process(world, "gateway")
    try:
        process.start()
        yield world, process
    finally:
        process.stop()
        world.stop()


ORDERS_DIGEST: dict[str, Any] = {
    "name": "orders-digest",
    "description": "Post the open orders to a channel",
    "trigger": {"type": "manual"},
    "steps": [
        {"id": "orders", "tool": "shopify_list_orders", "arguments": {"status": "any"}},
        {
            "id": "paid",
            "tool": "slack_send_message",
            "for_each": "steps.orders.result.orders[?financial_status=='paid']",
            "arguments": {
                "channel": "{{ trigger.input.channel }}",
                "text": "Paid: {{ item.name }} ({{ item.total_price }} {{ item.currency }})",
            },
        },
        {
            "id": "summary",
            "tool": "slack_send_message",
            "arguments": {
                "channel": "{{ trigger.input.channel }}",
                "text": "{{ length(steps.paid.result) }} of "
                "{{ length(steps.orders.result.orders) }} orders paid",
            },
        },
    ],
}


async def test_the_flow_tools_are_listed_for_every_tenant(
    served: tuple[World, GatewayProcess],
) -> None:
    world, process = served
    async with connect(process.url, world.keys["globex"]) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
    assert names[: len(NATIVE_TOOLS)] == [tool.name for tool in NATIVE_TOOLS]
    assert set(FLOW_TOOLS) <= set(names)


async def test_create_and_run_a_flow_calling_slack_and_shopify(
    served: tuple[World, GatewayProcess],
) -> None:
    world, process = served
    async with connect(process.url, world.keys["acme"]) as client:
        created = await call_ok(client, "fastn_create_flow", ORDERS_DIGEST)
        assert (created["version"], created["tools"]) == (
            1,
            ["shopify_list_orders", "slack_send_message"],
        )
        run = await call_ok(
            client, "fastn_run_flow", {"name": "orders-digest", "input": {"channel": "C002"}}
        )
        assert (run["status"], run["error"], run["trigger_type"]) == ("succeeded", None, "manual")
        assert [(s["step"], s["item_index"], s["status"]) for s in run["steps"]] == [
            ("orders", None, "succeeded"),
            ("paid", None, "succeeded"),
            ("paid", 0, "succeeded"),
            ("summary", None, "succeeded"),
        ]
        assert world.slack.posted("C002") == ["Paid: #1001 (199.00 USD)", "1 of 2 orders paid"]
        tokens = {r.header("x-shopify-access-token") for r in world.shopify.requests}
        assert tokens == {world.tokens["ACME_SHOPIFY_TOKEN"]}

        history = await call_ok(client, "fastn_get_event_history", {"type": "flow_run"})
        mine = [e for e in history["events"] if e["detail"].get("run_id") == run["run_id"]]
        assert [(e["detail"]["phase"], e["tool"], e["status"]) for e in mine] == [
            ("run", None, "success"),
            ("step", "slack_send_message", "success"),
            ("step", "slack_send_message", "success"),
            ("step", "shopify_list_orders", "success"),
        ]
        calls = await call_ok(
            client, "fastn_get_event_history", {"tool": "shopify_list_orders", "type": "tool_call"}
        )
        assert calls["events"][0]["detail"]["flow_run"] == run["run_id"]

        detail = await call_ok(
            client, "fastn_get_flow", {"name": "orders-digest", "run_id": run["run_id"]}
        )
        assert detail["recent_runs"][0]["run_id"] == run["run_id"]
        assert detail["run"]["steps"][0]["output"]["orders"][0]["name"] == "#1001"
        assert detail["spec"]["steps"][0]["id"] == "orders"


async def test_an_invalid_flow_is_refused_naming_step_and_field(
    served: tuple[World, GatewayProcess],
) -> None:
    world, process = served
    broken = {
        "name": "broken",
        "trigger": {"type": "event", "event": "tool_call.failed", "tool": "slack_nope"},
        "steps": [
            {"id": "list", "tool": "slack_list_channels", "arguments": {"limit": 0}},
            {
                "id": "post",
                "tool": "slack_send_message",
                "arguments": {"text": "{{ steps.list.result.channels[0 }}"},
            },
            {"id": "again", "tool": "fastn_run_flow", "arguments": {"name": "broken"}},
        ],
    }
    async with connect(process.url, world.keys["acme"]) as client:
        refused = await call_error(client, "fastn_create_flow", broken)
    problems = refused.structured_content["problems"]  # type: ignore[index]
    assert [(p["where"], p["step"]) for p in problems] == [
        ("trigger.tool", None),
        ("steps[0] (list).arguments.limit", "list"),
        ("steps[1] (post).arguments.channel", "post"),
        ("steps[1] (post).arguments", "post"),
        ("steps[2] (again).tool", "again"),
    ]
    text = text_of(refused)
    assert "steps[0] (list).arguments.limit: Input should be greater than or equal to 1" in text
    assert (
        "steps[1] (post).arguments: expression {{ steps.list.result.channels[0 }} is not valid"
        in text
    )
    assert "steps[2] (again).tool: a flow cannot call fastn_run_flow" in text


async def test_manage_flows_and_tenants_never_see_each_others(
    served: tuple[World, GatewayProcess],
) -> None:
    world, process = served
    flow = {
        "name": "acme-private",
        "trigger": {"type": "schedule", "cron": "0 6 * * *", "timezone": "Asia/Tokyo"},
        "steps": [{"id": "list", "tool": "slack_list_channels"}],
    }
    async with connect(process.url, world.keys["acme"]) as acme:
        await call_ok(acme, "fastn_create_flow", flow)
        listed = await call_ok(acme, "fastn_list_flows")
        mine = next(f for f in listed["flows"] if f["name"] == "acme-private")
        assert mine["enabled"] and mine["next_run_at"].endswith("21:00:00Z")
        async with connect(process.url, world.keys["globex"]) as globex:
            theirs = await call_ok(globex, "fastn_list_flows")
            assert all(f["name"] != "acme-private" for f in theirs["flows"])
            for tool, arguments in [
                ("fastn_get_flow", {"name": "acme-private"}),
                ("fastn_run_flow", {"name": "acme-private"}),
                ("fastn_set_flow_enabled", {"name": "acme-private", "enabled": False}),
                ("fastn_delete_flow", {"name": "acme-private"}),
            ]:
                refused = await call_error(globex, tool, arguments)
                assert "'acme-private'" in text_of(refused)
            # A tenant_id naming another tenant is refused outright.
            await call_error(globex, "fastn_list_flows", {"tenant_id": "acme"})
            history = await call_ok(globex, "fastn_get_event_history", {"type": "flow_run"})
            assert all(e["detail"].get("flow") != "orders-digest" for e in history["events"])
            # globex has no Shopify: a flow using it is refused for globex.
            refused = await call_error(globex, "fastn_create_flow", ORDERS_DIGEST)
            assert "unknown tool 'shopify_list_orders' for this tenant" in text_of(refused)

        disabled = await call_ok(
            acme, "fastn_set_flow_enabled", {"name": "acme-private", "enabled": False}
        )
        assert disabled["enabled"] is False
        refused = await call_error(acme, "fastn_run_flow", {"name": "acme-private"})
        assert "disabled" in text_of(refused)
        got = await call_ok(acme, "fastn_get_flow", {"name": "acme-private"})
        assert (got["enabled"], got["next_run_at"]) == (False, None)
        deleted = await call_ok(acme, "fastn_delete_flow", {"name": "acme-private"})
        assert deleted["deleted"] is True
        await call_error(acme, "fastn_get_flow", {"name": "acme-private"})


async def test_a_run_can_be_left_running_and_read_later(
    served: tuple[World, GatewayProcess],
) -> None:
    world, process = served
    flow = {
        "name": "background",
        "trigger": {"type": "manual"},
        "steps": [{"id": "list", "tool": "slack_list_channels"}],
    }
    async with connect(process.url, world.keys["acme"]) as client:
        await call_ok(client, "fastn_create_flow", flow)
        world.slack.close_gate("conversations.list")
        try:
            started = await call_ok(client, "fastn_run_flow", {"name": "background", "wait_s": 0})
            assert started["status"] == "running"
            assert world.slack.wait_arrival("conversations.list")
        finally:
            world.slack.open_gate("conversations.list")
        for _ in range(100):
            got = await call_ok(
                client, "fastn_get_flow", {"name": "background", "run_id": started["run_id"]}
            )
            if got["run"]["status"] != "running":
                break
        assert got["run"]["status"] == "succeeded"
