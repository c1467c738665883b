"""/metrics, request ids, JSON logs and traces of a gateway serving real calls."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from fastn_gen.observability.metrics import series
from tests.observability.deployment import Deployment, deployment, mcp_client

pytestmark = pytest.mark.anyio

SPAN = re.compile(
    r'"name": "tools/call (?P<tool>[a-z_]+)",\s*'
    r'"context": \{\s*"trace_id": "0x(?P<trace>[0-9a-f]{32})"'
)


@pytest.fixture(scope="module")
def dep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("metrics")
    with deployment(root, extra=["--log-format", "json", "--otel-exporter", "console"]) as d:
        yield d


@pytest.fixture(scope="module")
def calls(dep: Deployment) -> dict[str, Any]:
    """One round of calls of every kind, made once for the module's tests."""
    import anyio

    made: dict[str, Any] = {}

    async def run() -> None:
        ids: dict[str, str] = {}
        async with mcp_client(dep.gateway.url, dep.acme_key, ids) as acme:
            made["sent"] = await acme.call_tool(
                "slack_send_message", {"channel": "C001", "text": "hi"}
            )
            made["send_id"] = ids["slack_send_message"]
            await acme.call_tool("shopify_list_orders", {"status": "any"})
            await acme.call_tool("slack_list_channels", {})
            made["refused"] = await acme.call_tool("slack_list_channels", {})
            made["invalid"] = await acme.call_tool("slack_send_message", {"text": "no channel"})
        async with mcp_client(dep.gateway.url, dep.globex_key) as globex:
            made["rejected"] = await globex.call_tool(
                "slack_send_message", {"channel": "C001", "text": "hi"}
            )

    anyio.run(run)
    return made


def scrape(dep: Deployment, headers: dict[str, str] | None = None) -> str:
    request = urllib.request.Request(f"{dep.gateway.base}/metrics", headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return str(response.read().decode())


def value(text: str, name: str, **labels: str) -> float:
    found = [v for got, v in series(text, name) if all(got.get(k) == w for k, w in labels.items())]
    assert len(found) == 1, f"{name} {labels}: {found}"
    return found[0]


def test_the_calls_themselves_behaved(calls: dict[str, Any]) -> None:
    assert not calls["sent"].is_error
    assert calls["refused"].is_error and "Quota exceeded" in calls["refused"].content[0].text
    assert calls["invalid"].is_error and "Invalid arguments" in calls["invalid"].content[0].text
    assert calls["rejected"].is_error and "invalid_auth" in calls["rejected"].content[0].text


def test_metrics_count_calls_by_connector_tool_and_status(
    dep: Deployment, calls: dict[str, Any]
) -> None:
    text = scrape(dep)
    calls_total = "fastn_tool_calls_total"
    assert value(text, calls_total, tool="slack_send_message", status="success") == 1
    # acme's invalid arguments and globex's refused token
    assert value(text, calls_total, tool="slack_send_message", status="failure") == 2
    assert value(text, calls_total, connector="shopify", tool="shopify_list_orders") == 1
    assert value(text, calls_total, tool="slack_list_channels", status="success") == 1
    assert value(text, "fastn_upstream_errors_total", connector="slack", kind="upstream_error") == 1
    refusals = "fastn_quota_refusals_total"
    assert value(text, refusals, limit="tool_calls_per_month", scope="tool") == 1
    # Calls that sent a request: acme's send and list, globex's send; not the invalid one.
    histogram = "fastn_tool_call_duration_seconds_count"
    assert value(text, histogram, connector="slack") == 3
    assert value(text, histogram, connector="shopify") == 1
    assert value(text, "fastn_tenants_active") == 2
    assert value(text, "fastn_tenants_configured") == 2
    assert value(text, "fastn_events_total", type="quota_refusal", status="failure") == 1


def test_metrics_carry_no_tenant_or_credential(dep: Deployment, calls: dict[str, Any]) -> None:
    text = scrape(dep)
    assert "acme" not in text and "globex" not in text
    assert dep.acme_key not in text and "xoxb-" not in text


def test_metrics_from_loopback_need_no_key_but_a_wrong_key_is_not_checked_there(
    dep: Deployment,
) -> None:
    # Loopback is enough by default; with a key, it is the same answer.
    assert "fastn_tool_calls_total" in scrape(dep, {"Authorization": "Bearer nonsense"})


def test_metrics_refuse_a_foreign_host_header(dep: Deployment) -> None:
    request = urllib.request.Request(f"{dep.gateway.base}/metrics", headers={"Host": "evil.test"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 421


def test_a_request_id_goes_upstream_and_into_every_log_line_of_the_request(
    dep: Deployment, calls: dict[str, Any]
) -> None:
    request_id = calls["send_id"]
    assert re.fullmatch(r"[0-9a-f]{16}", request_id)
    posts = [r for r in dep.slack.requests if r.path == "/api/chat.postMessage"]
    assert posts[0].header("x-request-id") == request_id
    ids = {r.header("x-request-id") for r in dep.slack.requests + dep.shopify.requests}
    assert len(ids) == len(dep.slack.requests + dep.shopify.requests), "one id per request"

    lines = [
        json.loads(line) for line in dep.gateway.log().splitlines() if line.startswith('{"ts"')
    ]
    assert lines, "the gateway logs JSON lines"
    assert all(
        {"ts", "level", "logger", "message", "request_id", "tenant"} <= set(x) for x in lines
    )
    mine = [line for line in lines if line["request_id"] == request_id]
    assert any(
        line["logger"] == "fastn_gen.gateway.calls" and "slack_send_message" in line["message"]
        for line in mine
    ), mine
    assert {line["tenant"] for line in mine} <= {"acme", None}
    assert any(line["tenant"] == "acme" for line in mine)


def test_traces_continue_into_the_upstream_request(dep: Deployment, calls: dict[str, Any]) -> None:
    post = next(r for r in dep.slack.requests if r.path == "/api/chat.postMessage")
    traceparent = post.header("traceparent")
    assert traceparent is not None
    trace_id = traceparent.split("-")[1]
    spans = {(m["tool"], m["trace"]) for m in SPAN.finditer(dep.gateway.log())}
    assert ("slack_send_message", trace_id) in spans


def test_log_file_holds_no_credentials(dep: Deployment, calls: dict[str, Any]) -> None:
    log = dep.gateway.log()
    assert dep.acme_key not in log and dep.admin_key not in log
    assert "xoxb-acme" not in log and "shpat_acme" not in log
