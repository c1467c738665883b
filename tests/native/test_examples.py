"""The three examples in examples/ run against a test gateway, as a user would run them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.native.deployment import Deployment, call_error, call_ok, connect
from tests.upstreams import EchoUpstream, Reply

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(dep: Deployment, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / script),
            "--url",
            dep.gateway.url,
            "--key",
            dep.keys["ops"],
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def webhook() -> Iterator[EchoUpstream]:
    server = EchoUpstream()
    server.on("/hooks/ops", Reply.json({"ok": True}))
    server.start()
    yield server
    server.stop()


def test_the_in_product_assistant_picks_and_calls_a_tenant_tool(deployment: Deployment) -> None:
    done = run_example(
        deployment,
        "in_product_assistant.py",
        "--ask",
        "list my slack channels",
        "--args",
        '{"limit": 2}',
    )
    assert done.returncode == 0, done.stderr
    assert "This tenant's assistant can use 3 tools:" in done.stdout
    assert "  shopify: shopify_list_orders" in done.stdout
    assert "the assistant picks slack_list_channels" in done.stdout
    assert '"name": "general"' in done.stdout

    refused = run_example(deployment, "in_product_assistant.py", "--tool", "slack_send_message")
    assert refused.returncode == 1
    assert "slack_send_message needs other arguments (required: channel, text)" in refused.stdout


def test_the_support_agent_reports_integrations_search_and_failures(deployment: Deployment) -> None:
    done = run_example(deployment, "support_agent.py", "--query", "#1001", "--entity-type", "Order")
    assert done.returncode == 0, done.stderr
    assert "Integrations of tenant ops:" in done.stdout
    assert "  shopify " in done.stdout and "  slack " in done.stdout
    assert "not available: Entity search is not available" in done.stdout
    assert "Last 10 failed events:" in done.stdout


@pytest.mark.anyio
async def test_the_ops_monitor_notifies_a_webhook(
    deployment: Deployment, webhook: EchoUpstream
) -> None:
    async with connect(deployment.gateway.url, deployment.keys["ops"]) as ops:
        await call_error(ops, "slack_send_message", {"channel": "C500", "text": "boom"})
        await call_ok(ops, "shopify_list_orders", {"status": "any"})  # Shopify's 1 a month

    done = run_example(
        deployment,
        "ops_monitor.py",
        "--health-checks",
        "--warn-at",
        "0.9",
        "--webhook",
        f"{webhook.url}/hooks/ops",
    )
    assert done.returncode == 1, done.stderr
    assert "Ops check for tenant ops:" in done.stdout
    (posted,) = webhook.requests
    report = json.loads(posted.body)
    assert report["tenant_id"] == "ops" and report["ok"] is False
    kinds = {alert["kind"] for alert in report["alerts"]}
    assert kinds == {"failures", "quota"}  # the health check passed: Slack is healthy again
    failures = next(a for a in report["alerts"] if a.get("tool") == "slack_send_message")
    assert failures["kind"] == "failures" and "HTTP 500" in failures["message"]
    shopify = next(a for a in report["alerts"] if a.get("target") == "shopify")
    assert (shopify["used"], shopify["limit_value"]) == (1, 1)
    assert report["text"].startswith("fastn-gen ops check for ops: ")
