"""Engine semantics on the gateway's own call path, against the loopback upstreams.

Each flow runs in a real ``Services`` (catalog, executor, quotas, recorder, store) as a
served gateway runs it; the upstreams are real HTTP servers that record every request.
"""

from __future__ import annotations

from typing import Any

import pytest

from fastn_gen.store.records import FlowStepRecord
from tests.flows.harness import gateway, spec
from tests.flows.world import World

pytestmark = pytest.mark.anyio


def by_step(steps: list[FlowStepRecord]) -> dict[str, FlowStepRecord]:
    """The step-level record of each step (the last one, if a step ran twice)."""
    return {s.step_id: s for s in steps if s.item_index is None}


def bearer(request: Any) -> str:
    return str(request.header("authorization"))


DIGEST = spec(
    "digest",
    {"id": "channels", "tool": "slack_list_channels", "arguments": {"limit": 10}},
    {"id": "orders", "tool": "shopify_list_orders", "arguments": {"status": "any"}},
    {
        "id": "post",
        "tool": "slack_send_message",
        "for_each": "steps.channels.result.channels[?is_channel]",
        "arguments": {
            "channel": "{{ item.id }}",
            "text": "{{ length(steps.orders.result.orders) }} orders for #{{ item.name }}; "
            "first {{ steps.orders.result.orders[0].name }} by {{ trigger.input.who }}",
        },
    },
)


async def test_outputs_pass_between_steps_with_the_tenants_credentials(
    world: World, store_url: str
) -> None:
    async with gateway(world, store_url) as gw:
        assert await gw.create("acme", DIGEST) == 1
        run = await gw.run("acme", "digest", {"who": "ops"})
        assert (run.status, run.error) == ("succeeded", None)
        assert world.slack.posted("C001") == ["2 orders for #general; first #1001 by ops"]
        assert world.slack.posted("C002") == ["2 orders for #random; first #1001 by ops"]
        # Every upstream request carried acme's own credential, never another's.
        slack_token = world.tokens["ACME_SLACK_TOKEN"]
        assert {bearer(r) for r in world.slack.requests} == {f"Bearer {slack_token}"}
        shop = world.shopify.requests
        assert [r.header("x-shopify-access-token") for r in shop] == [
            world.tokens["ACME_SHOPIFY_TOKEN"]
        ]
        assert shop[0].path.startswith("/acme-store/")

        steps = await gw.steps(run)
        assert [(s.step_id, s.item_index, s.status) for s in steps] == [
            ("channels", None, "succeeded"),
            ("orders", None, "succeeded"),
            ("post", None, "succeeded"),
            ("post", 0, "succeeded"),
            ("post", 1, "succeeded"),
        ]
        post = by_step(steps)["post"]
        assert [item["channel"] for item in post.output] == ["C001", "C002"]
        assert post.detail["elements"] == 2 and post.attempts == 2
        assert all(s.finished_at is not None and s.latency_ms is not None for s in steps)

        # The calls went through the gateway's recording: tool_call events tied to the run.
        calls = await gw.events("acme", type="tool_call")
        assert sorted(e.tool for e in calls) == [
            "shopify_list_orders",
            "slack_list_channels",
            "slack_send_message",
            "slack_send_message",
        ]
        assert {e.detail["flow_run"] for e in calls} == {run.id}
        flow_events = await gw.events("acme", type="flow_run")
        phases = sorted((e.detail["phase"], e.detail.get("step")) for e in flow_events)
        assert phases == [("run", None), ("step", "channels"), ("step", "orders"), ("step", "post")]


async def test_conditions_skip_steps_and_elements(world: World) -> None:
    flow = spec(
        "conditional",
        {"id": "channels", "tool": "slack_list_channels"},
        {
            "id": "never",
            "tool": "slack_send_message",
            "condition": "length(steps.channels.result.channels) > `5`",
            "arguments": {"channel": "C001", "text": "too many channels"},
        },
        {
            "id": "general_only",
            "tool": "slack_send_message",
            "for_each": "{{ steps.channels.result.channels }}",
            "condition": "item.name == 'general' && steps.never.status == 'skipped'",
            "arguments": {"channel": "{{ item.id }}", "text": "hello {{ item.name }}"},
        },
    )
    async with gateway(world) as gw:
        await gw.create("acme", flow)
        run = await gw.run("acme", "conditional")
        assert run.status == "succeeded"
        assert world.slack.posted("C001") == ["hello general"]
        assert world.slack.posted("C002") == []
        steps = await gw.steps(run)
        assert by_step(steps)["never"].status == "skipped"
        elements = [(s.item_index, s.status) for s in steps if s.item_index is not None]
        assert elements == [(0, "succeeded"), (1, "skipped")]
        output = by_step(steps)["general_only"].output
        assert len(output) == 2 and output[0]["channel"] == "C001" and output[1] is None


async def test_a_retry_waits_out_a_rate_limit_then_succeeds(world: World) -> None:
    flow = spec(
        "patient",
        {
            "id": "channels",
            "tool": "slack_list_channels",
            "retry": {"max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05},
        },
    )
    async with gateway(world) as gw:
        await gw.create("acme", flow)
        world.slack.rate_limit_remaining = 2  # two HTTP 429 answers, then normal service
        run = await gw.run("acme", "patient")
        assert run.status == "succeeded"
        record = by_step(await gw.steps(run))["channels"]
        assert record.attempts == 3 and record.output["ok"] is True
        assert len(world.slack.requests) == 3


async def test_retries_stop_at_max_attempts_and_skip_what_cannot_change(world: World) -> None:
    flow = spec(
        "stubborn",
        {
            "id": "broken",
            "tool": "slack_send_message",
            "arguments": {"channel": "C500", "text": "x"},
            "retry": {"max_attempts": 3, "backoff_s": 0},
            "on_failure": "continue",
        },
        {
            "id": "bad_args",  # the value fills a string field with a number at run time
            "tool": "slack_send_message",
            "arguments": {"channel": "{{ length('abc') }}", "text": "x"},
            "retry": {"max_attempts": 5, "backoff_s": 0},
            "on_failure": "continue",
        },
    )
    async with gateway(world) as gw:
        await gw.create("acme", flow)
        run = await gw.run("acme", "stubborn")
        assert run.status == "succeeded"  # both failures were allowed to continue
        steps = by_step(await gw.steps(run))
        assert (steps["broken"].status, steps["broken"].attempts) == ("failed", 3)
        assert steps["broken"].detail == {"error_kind": "http_status", "upstream_status": 500}
        assert "500" in (steps["broken"].error or "")
        assert (steps["bad_args"].status, steps["bad_args"].attempts) == ("failed", 1)
        assert steps["bad_args"].detail["error_kind"] == "invalid_arguments"
        assert "channel" in (steps["bad_args"].error or "")
        posted = [r for r in world.slack.requests if r.path.endswith("chat.postMessage")]
        assert len(posted) == 3  # the invalid call never left the gateway


async def test_stop_ends_the_run_and_continue_goes_on(world: World) -> None:
    def flow(policy: str) -> dict[str, Any]:
        return spec(
            f"on-failure-{policy}",
            {
                "id": "fails",
                "tool": "slack_send_message",
                "arguments": {"channel": "C500", "text": "x"},
                "on_failure": policy,
            },
            {
                "id": "after",
                "tool": "slack_send_message",
                "arguments": {"channel": "C001", "text": "after {{ steps.fails.status }}"},
            },
        )

    async with gateway(world) as gw:
        for policy in ("stop", "continue"):
            await gw.create("acme", flow(policy))
        stopped = await gw.run("acme", "on-failure-stop")
        assert stopped.status == "failed"
        assert stopped.error is not None and stopped.error.startswith("step fails failed: ")
        assert [s.step_id for s in await gw.steps(stopped)] == ["fails"]
        continued = await gw.run("acme", "on-failure-continue")
        assert continued.status == "succeeded"
        assert world.slack.posted("C001") == ["after failed"]


async def test_an_on_failure_branch_sees_the_error_then_stops_or_continues(world: World) -> None:
    def flow(then: str) -> dict[str, Any]:
        return spec(
            f"branch-{then}",
            {
                "id": "orders",
                "tool": "slack_send_message",
                "arguments": {"channel": "C500", "text": "x"},
                "on_failure": {
                    "steps": [
                        {
                            "id": f"alert_{then}",
                            "tool": "slack_send_message",
                            "arguments": {
                                "channel": "C001",
                                "text": "{{ steps.orders.status }}: {{ steps.orders.error }}",
                            },
                        }
                    ],
                    "then": then,
                },
            },
            {
                "id": f"next_{then}",
                "tool": "slack_send_message",
                "arguments": {"channel": "C002", "text": "went on"},
            },
        )

    async with gateway(world) as gw:
        await gw.create("acme", flow("stop"))
        await gw.create("acme", flow("continue"))
        stopped = await gw.run("acme", "branch-stop")
        assert stopped.status == "failed"
        steps = await gw.steps(stopped)
        assert [(s.step_id, s.branch_of, s.status) for s in steps] == [
            ("orders", None, "failed"),
            ("alert_stop", "orders", "succeeded"),
        ]
        alert = world.slack.posted("C001")
        assert len(alert) == 1 and alert[0].startswith("failed: ") and "500" in alert[0]
        assert world.slack.posted("C002") == []
        continued = await gw.run("acme", "branch-continue")
        assert continued.status == "succeeded"
        assert world.slack.posted("C002") == ["went on"]


async def test_for_each_stops_at_a_failed_element_unless_told_to_continue(world: World) -> None:
    def flow(policy: str) -> dict[str, Any]:
        return spec(
            f"each-{policy}",
            {
                "id": "post",
                "tool": "slack_send_message",
                "for_each": "trigger.input.channels",
                "arguments": {"channel": "{{ item }}", "text": policy},
                "on_failure": policy,
            },
        )

    async with gateway(world) as gw:
        for policy in ("stop", "continue"):
            await gw.create("acme", flow(policy))
        channels = {"channels": ["C001", "C500", "C002"]}
        stopped = await gw.run("acme", "each-stop", channels)
        assert stopped.status == "failed" and "element 1" in (stopped.error or "")
        assert world.slack.posted("C002") == []
        continued = await gw.run("acme", "each-continue", channels)
        assert continued.status == "succeeded"
        assert world.slack.posted("C002") == ["continue"]
        step = by_step(await gw.steps(continued))["post"]
        assert step.status == "failed" and step.output[1] is None
        assert step.detail["failed_elements"] == 1 and step.detail["succeeded_elements"] == 2


async def test_expression_failures_fail_the_step_with_the_reason(world: World) -> None:
    flow = spec(
        "bad-data",
        {
            "id": "each",
            "tool": "slack_send_message",
            "for_each": "trigger.input.channel",
            "arguments": {"channel": "{{ item }}", "text": "x"},
            "on_failure": "continue",
        },
        {
            "id": "typed",
            "tool": "slack_send_message",
            "arguments": {"channel": "C001", "text": "{{ length(trigger.input.count) }}"},
        },
    )
    async with gateway(world) as gw:
        await gw.create("acme", flow)
        run = await gw.run("acme", "bad-data", {"channel": "C001", "count": 3})
        assert run.status == "failed"
        steps = by_step(await gw.steps(run))
        assert steps["each"].error == "for_each gave str, not a list"
        assert steps["typed"].detail["error_kind"] == "expression"
        assert "length" in (steps["typed"].error or "")
        assert world.slack.requests == []


async def test_native_tools_and_the_previous_run_time_are_available(world: World) -> None:
    flow = spec(
        "self-check",
        {"id": "integrations", "tool": "fastn_list_integrations"},
        {
            "id": "failures",
            "tool": "fastn_get_event_history",
            "arguments": {"status": "failure", "since": "{{ flow.previous_run_at }}"},
        },
        {
            "id": "report",
            "tool": "slack_send_message",
            "arguments": {
                "channel": "C001",
                "text": "{{ join(',', steps.integrations.result.integrations[].connector) }} "
                "{{ length(steps.failures.result.events) }} {{ flow.previous_run_at != `null` }}",
            },
        },
    )
    async with gateway(world, schedule=False) as gw:
        await gw.create("acme", flow)
        first = await gw.run("acme", "self-check")
        second = await gw.run("acme", "self-check")
        assert (first.status, second.status) == ("succeeded", "succeeded")
        assert world.slack.posted("C001") == ["shopify,slack 0 false", "shopify,slack 0 true"]


async def test_quotas_apply_to_flow_calls_and_refusals_are_not_retried(world: World) -> None:
    flow = spec(
        "twice",
        {"id": "one", "tool": "shopify_list_orders", "arguments": {"status": "any"}},
        {
            "id": "two",
            "tool": "shopify_list_orders",
            "arguments": {"status": "any"},
            "retry": {"max_attempts": 4, "backoff_s": 0},
        },
    )
    async with gateway(world) as gw:
        await gw.create("metered", flow)
        run = await gw.run("metered", "twice")
        assert run.status == "failed"
        two = by_step(await gw.steps(run))["two"]
        assert (two.attempts, two.detail["error_kind"]) == (1, "quota_exceeded")
        assert len(world.shopify.requests) == 1
        refusals = await gw.events("metered", type="quota_refusal")
        assert [e.tool for e in refusals] == ["shopify_list_orders"]


async def test_a_flow_never_calls_a_tool_its_tenant_cannot_see(world: World) -> None:
    async with gateway(world) as gw:
        ctx = gw.context("globex")
        # Refused when saved...
        from fastn_gen.native.base import NativeToolError

        with pytest.raises(NativeToolError) as refused:
            await gw.create("globex", spec("orders", {"id": "o", "tool": "shopify_list_orders"}))
        assert "steps[0] (o).tool: unknown tool 'shopify_list_orders'" in refused.value.message
        # ...and at run time, for a flow stored while the tenant still had Shopify.
        stored = spec("orders", {"id": "o", "tool": "shopify_list_orders"})
        await gw.services.store.save_flow("globex", "orders", stored, at=ctx.now)
        run = await gw.run("globex", "orders")
        assert run.status == "failed"
        step = by_step(await gw.steps(run))["o"]
        assert (step.error, step.detail["error_kind"]) == (
            "Unknown tool: shopify_list_orders",
            "unknown_tool",
        )
        assert world.shopify.requests == []


async def test_disabled_and_unknown_flows_do_not_run(world: World) -> None:
    async with gateway(world) as gw:
        await gw.create("acme", spec("quiet", {"id": "a", "tool": "slack_list_channels"}))
        await gw.services.store.set_flow_enabled("acme", "quiet", False)
        from fastn_gen.flows.errors import FlowRunError

        with pytest.raises(FlowRunError, match="disabled"):
            await gw.run("acme", "quiet")
        # Another tenant's flow is as unknown as a flow that does not exist.
        with pytest.raises(FlowRunError, match="No flow named 'quiet'"):
            await gw.run("globex", "quiet")
        assert world.slack.requests == []


async def test_stored_trigger_input_is_redacted(world: World) -> None:
    flow = spec(
        "echo",
        {
            "id": "post",
            "tool": "slack_send_message",
            "arguments": {"channel": "C001", "text": "{{ trigger.input.note }}"},
        },
    )
    async with gateway(world) as gw:
        await gw.create("acme", flow)
        secret = "sk_live_" + "4" * 24
        run = await gw.run("acme", "echo", {"note": "hello", "api_key": secret})
        assert run.status == "succeeded"
        assert run.trigger["input"] == {"note": "hello", "api_key": "[REDACTED]"}
        assert world.slack.posted("C001") == ["hello"]


async def test_a_stored_flow_that_is_no_longer_valid_is_refused_with_the_reason(
    world: World,
) -> None:
    old = {
        "name": "old",
        "trigger": {"type": "event", "event": "shopify.order_created"},
        "steps": [{"id": "a", "tool": "slack_list_channels"}],
    }
    async with gateway(world) as gw:
        ctx = gw.context("acme")
        await gw.services.store.save_flow("acme", "old", old, at=ctx.now)
        from fastn_gen.flows.errors import FlowRunError

        with pytest.raises(FlowRunError, match=r"version 1 is not a valid flow any more \(trigger"):
            await gw.run("acme", "old")
        assert await gw.services.store.list_flow_runs("acme") == []
