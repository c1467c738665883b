"""GatewayMetrics counts recorded events; the /metrics endpoint decides who may read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from fastn_gen.admin.keys import AdminKeys, generate_admin_key
from fastn_gen.gateway.apikeys import hash_api_key
from fastn_gen.observability.endpoint import MetricsEndpoint, is_loopback
from fastn_gen.observability.metrics import GatewayMetrics, series
from fastn_gen.store.records import Event

pytestmark = pytest.mark.anyio

AT = datetime(2026, 11, 5, 10, 0, tzinfo=UTC)


def event(tenant: str = "acme", **fields: Any) -> Event:
    base: dict[str, Any] = {
        "id": "e1",
        "tenant_id": tenant,
        "at": AT,
        "type": "tool_call",
        "status": "success",
        "connector": "slack",
        "tool": "slack_send_message",
        "latency_ms": 120.0,
    }
    return Event(**(base | fields))


def sample(metrics: GatewayMetrics, name: str, **labels: str) -> float:
    text = metrics.render()[0].decode()
    found = [v for got, v in series(text, name) if all(got.get(k) == w for k, w in labels.items())]
    return sum(found)


def test_tool_calls_latency_and_upstream_errors_by_label() -> None:
    metrics = GatewayMetrics(process_metrics=False)
    metrics.observe(event())
    metrics.observe(event(status="failure", latency_ms=30000.0, detail={"error_kind": "timeout"}))
    metrics.observe(
        event(status="failure", latency_ms=0.0, detail={"error_kind": "invalid_arguments"})
    )
    metrics.observe(event(connector=None, tool="fastn_get_usage_summary", latency_ms=2.0))

    calls = "fastn_tool_calls_total"
    assert sample(metrics, calls, tool="slack_send_message", status="success") == 1
    assert sample(metrics, calls, tool="slack_send_message", status="failure") == 2
    assert sample(metrics, calls, connector="native", tool="fastn_get_usage_summary") == 1
    assert sample(metrics, "fastn_upstream_errors_total", connector="slack", kind="timeout") == 1
    assert sample(metrics, "fastn_upstream_errors_total", kind="invalid_arguments") == 0
    # Refused arguments sent nothing and native tools call no upstream: not timed.
    assert sample(metrics, "fastn_tool_call_duration_seconds_count", connector="slack") == 2
    assert sample(metrics, "fastn_tool_call_duration_seconds_count", connector="native") == 0
    # 30 s lands in the 30 s bucket, not in the 10 s one.
    buckets = "fastn_tool_call_duration_seconds_bucket"
    assert sample(metrics, buckets, connector="slack", le="10.0") == 1
    assert sample(metrics, buckets, connector="slack", le="30.0") == 2


def test_quota_refusals_and_other_events() -> None:
    metrics = GatewayMetrics(process_metrics=False)
    refusal = {"limit": "requests_per_minute", "scope": "connector", "target": "slack"}
    metrics.observe(event(type="quota_refusal", status="failure", latency_ms=None, detail=refusal))
    metrics.observe(event(type="auth_failure", status="failure", connector=None, tool=None))
    assert (
        sample(
            metrics, "fastn_quota_refusals_total", limit="requests_per_minute", scope="connector"
        )
        == 1
    )
    assert sample(metrics, "fastn_events_total", type="auth_failure", status="failure") == 1
    assert sample(metrics, "fastn_tool_calls_total") == 0


def test_active_tenants_are_those_with_a_call_in_the_window() -> None:
    now = [1000.0]
    metrics = GatewayMetrics(lambda: 7, active_window_s=300, clock=lambda: now[0])
    metrics.observe(event("acme"))
    now[0] += 200
    metrics.observe(event("globex"))
    metrics.observe(event("initech", type="auth_failure", status="failure"))  # not a call
    assert sample(metrics, "fastn_tenants_active") == 2
    now[0] += 150  # acme's call is 350 s old
    assert sample(metrics, "fastn_tenants_active") == 1
    assert sample(metrics, "fastn_tenants_configured") == 7


def test_process_metrics_are_exposed() -> None:
    metrics = GatewayMetrics()
    metrics.observe(event())
    text = metrics.render()[0].decode()
    assert "process_resident_memory_bytes" in text
    assert "_created" not in text


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("10.0.0.5", False),
     ("203.0.113.9", False), ("testclient", False), (None, False)],
)  # fmt: skip
def test_loopback_addresses(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def _client(endpoint: MetricsEndpoint, peer: str) -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/metrics", endpoint.__call__, methods=["GET"])])
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


async def test_remote_clients_need_the_admin_key() -> None:
    admin_key, line = generate_admin_key()
    kid = line.split('"')[1]
    keys = AdminKeys.from_hashes([(kid, line.split('"')[3])])
    endpoint = MetricsEndpoint(GatewayMetrics(process_metrics=False), "loopback", keys)
    async with _client(endpoint, "203.0.113.9") as remote:
        assert (await remote.get("/metrics")).status_code == 401
        wrong = await remote.get("/metrics", headers={"Authorization": "Bearer fgk_x"})
        assert wrong.status_code == 401
        ok = await remote.get("/metrics", headers={"Authorization": f"Bearer {admin_key}"})
        assert ok.status_code == 200 and "fastn_tool_calls_total" in ok.text
    async with _client(endpoint, "127.0.0.1") as local:
        assert (await local.get("/metrics")).status_code == 200


async def test_admin_mode_needs_the_key_even_on_loopback() -> None:
    plain_key = "operator-" + "k" * 40
    keys = AdminKeys.from_hashes([(None, hash_api_key(plain_key))])
    endpoint = MetricsEndpoint(GatewayMetrics(process_metrics=False), "admin", keys)
    async with _client(endpoint, "127.0.0.1") as local:
        assert (await local.get("/metrics")).status_code == 401
        ok = await local.get("/metrics", headers={"Authorization": f"Bearer {plain_key}"})
        assert ok.status_code == 200


async def test_without_admin_keys_remote_clients_are_refused() -> None:
    endpoint = MetricsEndpoint(GatewayMetrics(process_metrics=False), "loopback", AdminKeys([]))
    async with _client(endpoint, "10.1.2.3") as remote:
        response = await remote.get("/metrics", headers={"Authorization": "Bearer anything"})
        assert response.status_code == 401
