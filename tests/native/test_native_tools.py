"""The six native tools through the real gateway over HTTP, with the official client.

The client checks every successful result's ``structuredContent`` against the tool's
``outputSchema``, so each call here also checks that the schemas tell the truth.
"""

from __future__ import annotations

import json

import pytest

from fastn_gen.native.registry import NATIVE_TOOLS
from tests.native.deployment import Deployment, call_error, call_ok, connect, text_of

pytestmark = pytest.mark.anyio

NATIVE = [tool.name for tool in NATIVE_TOOLS]
ERAS = ["legacy", "2026-07-28"]


@pytest.mark.parametrize("mode", ERAS)
async def test_native_tools_come_first_for_every_tenant(deployment: Deployment, mode: str) -> None:
    for tenant, dynamic in (
        ("acme", ["shopify_list_orders", "slack_list_channels", "slack_send_message"]),
        ("globex", ["slack_list_channels", "slack_send_message"]),
    ):
        async with connect(deployment.gateway.url, deployment.keys[tenant], mode) as client:
            tools = (await client.list_tools()).tools
        assert [t.name for t in tools] == NATIVE + dynamic
        for tool in tools[: len(NATIVE)]:
            assert tool.output_schema is not None and tool.output_schema["type"] == "object"
            assert "tenant_id" in tool.input_schema["properties"]
            assert tool.annotations is not None


async def test_list_integrations_shows_each_tenants_own(deployment: Deployment) -> None:
    async with connect(deployment.gateway.url, deployment.keys["acme"]) as acme:
        mine = await call_ok(acme, "fastn_list_integrations")
    async with connect(deployment.gateway.url, deployment.keys["globex"]) as globex:
        theirs = await call_ok(globex, "fastn_list_integrations", {"tenant_id": "globex"})
    assert mine["tenant_id"] == "acme"
    assert [i["connector"] for i in mine["integrations"]] == ["shopify", "slack"]
    assert theirs["tenant_id"] == "globex"
    assert [i["connector"] for i in theirs["integrations"]] == ["slack"]
    slack = theirs["integrations"][0]
    assert slack["health_check"] == "slack_list_channels" and slack["tools"] == 2
    assert sum(theirs["health_counts"].values()) == 1


async def test_integration_status_runs_the_health_check_on_demand(deployment: Deployment) -> None:
    async with connect(deployment.gateway.url, deployment.keys["acme"]) as acme:
        detail = await call_ok(
            acme, "fastn_get_integration_status", {"connector": "slack", "run_health_check": True}
        )
        shopify = await call_ok(acme, "fastn_get_integration_status", {"connector": "shopify"})
    check = detail["health_check_result"]
    assert check["tool"] == "slack_list_channels"
    assert check["ok"] is True and check["upstream_status"] == 200
    assert detail["health"] == "healthy" and detail["last_success_at"] is not None
    assert detail["consecutive_failures"] == 0 and detail["calls_ok"] >= 1
    assert detail["connection_details"] == [
        {"name": "slack", "variables": {}, "credentials": {"token": "env"}}
    ]
    assert shopify["connection_details"][0]["variables"] == {"shop": "acme-store"}
    assert shopify["health_check_result"] is None
    # No credential value anywhere in the answer.
    for token in deployment.upstreams.tokens.values():
        assert token not in json.dumps(detail) and token not in json.dumps(shopify)


async def test_a_connector_not_connected_fails_like_one_that_does_not_exist(
    deployment: Deployment,
) -> None:
    async with connect(deployment.gateway.url, deployment.keys["globex"]) as globex:
        hidden = await call_error(globex, "fastn_get_integration_status", {"connector": "shopify"})
        missing = await call_error(globex, "fastn_get_integration_status", {"connector": "nosuch"})
    assert text_of(hidden) == "No integration 'shopify' is connected for this tenant"
    assert text_of(missing).replace("nosuch", "shopify") == text_of(hidden)


async def test_events_record_successes_upstream_errors_and_timeouts(deployment: Deployment) -> None:
    async with connect(deployment.gateway.url, deployment.keys["flaky"]) as flaky:
        await call_ok(flaky, "slack_send_message", {"channel": "C001", "text": "fine"})
        failed = await call_error(flaky, "slack_send_message", {"channel": "C500", "text": "x"})
        slow = await call_error(flaky, "slack_send_message", {"channel": "CSLOW", "text": "y"})
        history = await call_ok(flaky, "fastn_get_event_history", {"tool": "slack_send_message"})
        status = await call_ok(flaky, "fastn_get_integration_status", {"connector": "slack"})
    assert "HTTP 500" in text_of(failed)
    assert "timed out" in text_of(slow)

    timeout, error, success = history["events"]
    assert [e["status"] for e in history["events"]] == ["failure", "failure", "success"]
    assert {e["type"] for e in history["events"]} == {"tool_call"}
    assert {e["connector"] for e in history["events"]} == {"slack"}
    assert success["upstream_status"] == 200 and success["error"] is None
    assert error["upstream_status"] == 500 and "HTTP 500" in error["error"]
    assert timeout["upstream_status"] is None and "timed out" in timeout["error"]
    assert timeout["detail"] == {"error_kind": "timeout", "connection": "slack"}
    assert timeout["latency_ms"] >= 900
    # The arguments are only a digest; the message texts are nowhere.
    digests = {e["args_digest"] for e in history["events"]}
    assert len(digests) == 3 and all(d.startswith("hmac-sha256:") for d in digests)
    assert '"fine"' not in json.dumps(history) and "C500" not in json.dumps(history)

    assert status["health"] == "degraded" and status["consecutive_failures"] == 2
    assert (status["calls_ok"], status["calls_failed"]) == (1, 2)
    assert "timed out" in status["last_error"]
    assert [e["id"] for e in status["recent_errors"]] == [timeout["id"], error["id"]]


async def test_event_history_filters_and_pages(deployment: Deployment) -> None:
    async with connect(deployment.gateway.url, deployment.keys["globex"]) as globex:
        for limit in range(1, 6):
            await call_ok(globex, "slack_list_channels", {"limit": limit})
        pages, cursor = [], None
        while True:
            args = {"tool": "slack_list_channels", "limit": 2}
            page = await call_ok(
                globex, "fastn_get_event_history", args | ({"cursor": cursor} if cursor else {})
            )
            pages.append(page["events"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        failures = await call_ok(
            globex, "fastn_get_event_history", {"tool": "slack_list_channels", "status": "failure"}
        )
        future = await call_ok(globex, "fastn_get_event_history", {"since": "2999-01-01T00:00:00Z"})
        natives = await call_ok(
            globex,
            "fastn_get_event_history",
            {"tool": "fastn_get_event_history", "type": "tool_call"},
        )
        bad = await call_error(globex, "fastn_get_event_history", {"cursor": "not-a-cursor"})
    assert [len(p) for p in pages] == [2, 2, 1]
    ids = [e["id"] for p in pages for e in p]
    assert len(set(ids)) == 5 and ids == sorted(ids, reverse=True)
    assert failures["events"] == [] and future["events"] == []
    # Native calls are recorded too, without a connector.
    assert len(natives["events"]) >= 3 and {e["connector"] for e in natives["events"]} == {None}
    assert "Invalid cursor" in text_of(bad)


async def test_usage_summary_per_connector_and_tool(deployment: Deployment) -> None:
    async with connect(deployment.gateway.url, deployment.keys["acme"]) as acme:
        before = await call_ok(acme, "fastn_get_usage_summary")
        await call_ok(acme, "shopify_list_orders", {"status": "any"})
        await call_ok(acme, "shopify_list_orders", {"status": "open"})
        after = await call_ok(acme, "fastn_get_usage_summary")
    assert after["tenant_id"] == "acme" and after["plan"] == "pro"
    assert after["calls"] == before["calls"] + 2
    monthly = next(q for q in after["quotas"] if q["limit"] == "tool_calls_per_month")
    assert (monthly["scope"], monthly["limit_value"], monthly["used"]) == (
        "tenant",
        1000,
        after["calls"],
    )
    assert monthly["remaining"] == 1000 - after["calls"]
    assert monthly["resets_at"] == after["resets_at"] and after["resets_at"].endswith("T00:00:00Z")
    rate = next(q for q in after["quotas"] if q["limit"] == "requests_per_minute")
    assert rate["limit_value"] == 600 and rate["used"] >= 1

    def calls(doc: dict[str, object], key: str, name: str) -> int:
        rows = doc[key]
        assert isinstance(rows, list)
        return next((r["calls"] for r in rows if r[key[:-1]] == name), 0)

    assert calls(after, "connectors", "shopify") == calls(before, "connectors", "shopify") + 2
    assert (
        calls(after, "tools", "shopify_list_orders")
        == calls(before, "tools", "shopify_list_orders") + 2
    )
    tool_rows = {r["tool"]: r for r in after["tools"]}
    assert tool_rows["shopify_list_orders"]["connector"] == "shopify"
    assert tool_rows["fastn_get_usage_summary"]["connector"] is None


async def test_create_flow_stores_versions_and_reports_problems(deployment: Deployment) -> None:
    flow = {
        "name": "channel-digest",
        "description": "Post a digest to every channel",
        "trigger": {"type": "schedule", "cron": "0 9 * * MON-FRI", "timezone": "Europe/Paris"},
        "steps": [
            {"id": "channels", "tool": "slack_list_channels", "arguments": {"limit": 5}},
            {
                "id": "post",
                "tool": "slack_send_message",
                "for_each": "{{ steps.channels.result.channels }}",
                "arguments": {"channel": "{{ item.id }}", "text": "Daily digest"},
                "retry": {"max_attempts": 2},
            },
            {"id": "orders", "tool": "shopify_list_orders", "arguments": {"status": "open"}},
        ],
    }
    async with connect(deployment.gateway.url, deployment.keys["acme"]) as acme:
        first = await call_ok(acme, "fastn_create_flow", flow)
        second = await call_ok(acme, "fastn_create_flow", flow | {"description": "v2"})
        broken = await call_error(
            acme,
            "fastn_create_flow",
            flow
            | {"steps": [{"id": "post", "tool": "slack_send_message", "arguments": {"text": 1}}]},
        )
    async with connect(deployment.gateway.url, deployment.keys["globex"]) as globex:
        foreign = await call_error(globex, "fastn_create_flow", flow)
    assert (first["name"], first["version"], second["version"]) == ("channel-digest", 1, 2)
    assert first["tools"] == ["slack_list_channels", "slack_send_message", "shopify_list_orders"]
    assert first["trigger"] == "schedule" and first["steps"] == 3 and first["enabled"] is True
    assert text_of(broken) == (
        "Invalid flow 'channel-digest': steps[0] (post).arguments.channel: Field required; "
        "steps[0] (post).arguments.text: Input should be a valid string"
    )
    assert broken.structured_content is not None
    assert broken.structured_content["problems"][0] == {
        "where": "steps[0] (post).arguments.channel",
        "step": "post",
        "message": "Field required",
    }
    # globex has no Shopify: the same flow is refused for it.
    assert "steps[2] (orders).tool: unknown tool 'shopify_list_orders' for this tenant" in text_of(
        foreign
    )


async def test_search_entities_says_it_is_not_available(deployment: Deployment) -> None:
    for tenant, connectors in (("acme", "shopify, slack"), ("globex", "slack")):
        async with connect(deployment.gateway.url, deployment.keys[tenant]) as client:
            result = await call_error(
                client, "fastn_search_entities", {"entity_type": "Order", "query": "1001"}
            )
            invalid = await call_error(
                client, "fastn_search_entities", {"entity_type": "Spaceship", "query": "x"}
            )
        assert text_of(result).startswith(
            f"Entity search is not available for this tenant's connectors ({connectors})"
        )
        assert result.structured_content is not None
        assert result.structured_content["error"] == "entity_search_unavailable"
        assert "entity_type" in text_of(invalid)


async def test_a_tenant_id_other_than_the_authenticated_one_is_refused(
    deployment: Deployment,
) -> None:
    async with connect(deployment.gateway.url, deployment.keys["acme"]) as acme:
        for name, args in (
            ("fastn_get_usage_summary", {}),
            ("fastn_get_event_history", {"limit": 1}),
            ("fastn_get_integration_status", {"connector": "slack"}),
        ):
            refused = await call_error(acme, name, args | {"tenant_id": "globex"})
            assert "tenant_id does not match the tenant of the API key" in text_of(refused)
            assert "globex" not in text_of(refused)
        own = await call_ok(acme, "fastn_get_usage_summary", {"tenant_id": "acme"})
        failures = await call_ok(acme, "fastn_get_event_history", {"type": "auth_failure"})
    assert own["tenant_id"] == "acme"
    refused_tools = [e["tool"] for e in failures["events"] if e["tool"] is not None]
    assert refused_tools[:3] == [
        "fastn_get_integration_status",
        "fastn_get_event_history",
        "fastn_get_usage_summary",
    ]
    async with connect(deployment.gateway.url, deployment.keys["globex"]) as globex:
        theirs = await call_ok(globex, "fastn_get_event_history", {"type": "auth_failure"})
    assert theirs["events"] == []


async def test_connections_of_the_first_start_are_recorded_as_added(
    deployment: Deployment,
) -> None:
    async with connect(deployment.gateway.url, deployment.keys["acme"]) as acme:
        history = await call_ok(acme, "fastn_get_event_history", {"type": "connection_change"})
    added = sorted((e["detail"]["change"], e["connector"]) for e in history["events"])
    assert added == [("added", "shopify"), ("added", "slack")]
