"""Upstream faults become tool errors with events; retries only where safe; the circuit
breaker isolates one tenant's broken connector; the gateway keeps serving throughout.

Each fault is called by tenant ``alpha`` and followed by a successful call, so alpha's
breaker never opens here (``beta`` and ``gamma`` test the breaker itself).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client

from tests.security.deployment import (
    BREAKER_COOLDOWN_S,
    BREAKER_FAILURES,
    CONNECT_TIMEOUT_S,
    UPSTREAM_TIMEOUT_S,
    SecurityDeployment,
    connect,
    text_of,
)

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024


async def fault(client: Client, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
    result = await client.call_tool(tool, arguments)
    healthy = await client.call_tool("faults_ok", {"key": "streak-breaker"})
    assert not healthy.is_error, text_of(healthy)
    return result


async def test_read_timeout_is_a_tool_error(security: SecurityDeployment) -> None:
    async with connect(security.gateway.url, security.creds.keys["alpha"]) as client:
        started = time.monotonic()
        result = await fault(client, "faults_slow_post", {"ms": 4000})
    assert result.is_error
    assert f"timed out after {UPSTREAM_TIMEOUT_S:g} s waiting for faults" in text_of(result)
    assert time.monotonic() - started < 4


async def test_connect_timeout_is_a_tool_error(security: SecurityDeployment) -> None:
    assert security.blackhole.hangs()
    async with connect(security.gateway.url, security.creds.keys["alpha"]) as client:
        result = await client.call_tool("blackhole_get_post", {"key": "x"})
    assert result.is_error
    assert f"timed out after {CONNECT_TIMEOUT_S:g} s connecting to blackhole" in text_of(result)


async def test_reset_and_closed_connections(security: SecurityDeployment) -> None:
    async with connect(security.gateway.url, security.creds.keys["alpha"]) as client:
        reset = await fault(client, "faults_reset", {"key": "reset-get"})
        closed = await fault(client, "faults_close_post", {"key": "close-post"})
    assert reset.is_error and "(after 3 attempts)" in text_of(reset)
    assert security.faults.count("reset-get") == 3  # GET: retried
    assert closed.is_error and "faults (close_post)" in text_of(closed)
    assert security.faults.count("close-post") == 1  # POST: never repeated


async def test_5xx_is_retried_for_idempotent_operations_only(
    security: SecurityDeployment,
) -> None:
    async with connect(security.gateway.url, security.creds.keys["alpha"]) as client:
        recovered = await client.call_tool(
            "faults_flaky", {"key": "flaky-get", "failures": 2, "code": 503}
        )
        once = await fault(
            client, "faults_flaky_post", {"key": "flaky-post", "failures": 2, "code": 503}
        )
        html = await fault(client, "faults_html", {"code": 502})
    assert not recovered.is_error and recovered.structured_content == {
        "ok": True, "key": "flaky-get", "n": 3,
    }  # fmt: skip
    assert security.faults.count("flaky-get") == 3
    assert once.is_error and "HTTP 503" in text_of(once)
    assert security.faults.count("flaky-post") == 1
    # A non-JSON error page: its text, shortened, in the error.
    assert html.is_error and "HTTP 502" in text_of(html) and "Bad Gateway" in text_of(html)


async def test_429_retry_after(security: SecurityDeployment) -> None:
    before = len(security.faults.requests)
    async with connect(security.gateway.url, security.creds.keys["alpha"]) as client:
        short = await fault(client, "faults_status", {"code": 429, "retry_after": 0})
        mid = len(security.faults.requests)
        long = await fault(client, "faults_status", {"code": 429, "retry_after": 120})
        end = len(security.faults.requests)
    # Each `fault` also makes one healthy call.
    assert short.is_error and mid - before == 3 + 1
    assert "(after 3 attempts)" in text_of(short)
    assert long.is_error and end - mid == 1 + 1  # too long to wait: reported at once
    assert "retry after 120 s" in text_of(long)


async def test_slow_streaming_hits_the_overall_deadline(security: SecurityDeployment) -> None:
    async with connect(security.gateway.url, security.creds.keys["alpha"]) as client:
        started = time.monotonic()
        # Each byte arrives well within the read timeout; the whole never does in time.
        result = await fault(client, "faults_drip", {"ms": 300, "count": 30})
    elapsed = time.monotonic() - started
    assert result.is_error and "no complete answer within" in text_of(result)
    assert elapsed < 8


@pytest.mark.parametrize("tool", ["faults_huge", "faults_stream"])
async def test_huge_responses_are_capped(security: SecurityDeployment, tool: str) -> None:
    async with connect(security.gateway.url, security.creds.keys["alpha"]) as client:
        result = await fault(client, tool, {"size": 11 * MIB})
        fine = await client.call_tool(tool, {"size": 1000})
    assert result.is_error and f"larger than {10 * MIB} bytes" in text_of(result)
    assert not fine.is_error and len(text_of(fine)) == 1000


async def test_every_fault_leaves_an_event(security: SecurityDeployment) -> None:
    async with connect(security.gateway.url, security.creds.keys["alpha"]) as client:
        await fault(client, "faults_status_post", {"code": 500})
        history = await client.call_tool(
            "fastn_get_event_history", {"connector": "faults", "status": "failure", "limit": 50}
        )
    assert not history.is_error, text_of(history)
    events = history.structured_content["events"]  # type: ignore[index]
    assert any(e["tool"] == "faults_status_post" and e["upstream_status"] == 500 for e in events)
    assert all(e["error"] for e in events)


async def test_breaker_isolates_one_tenants_broken_connector(
    security: SecurityDeployment,
) -> None:
    gateway, keys = security.gateway, security.creds.keys
    async with (
        connect(gateway.url, keys["beta"]) as beta,
        connect(gateway.url, keys["gamma"]) as gamma,
    ):
        for _ in range(BREAKER_FAILURES):
            assert (await beta.call_tool("faults_status_post", {"code": 500})).is_error
        sent = len(security.faults.requests)
        started = time.monotonic()
        paused = await asyncio.gather(
            *(beta.call_tool("faults_slow_post", {"ms": 3000}) for _ in range(5))
        )
        assert time.monotonic() - started < 1  # refused at once, no upstream timeouts
        assert len(security.faults.requests) == sent
        for result in paused:
            assert result.is_error and "circuit open" in text_of(result)
        # Another tenant on the same connector and upstream is not affected.
        assert not (await gamma.call_tool("faults_ok", {"key": "gamma-during"})).is_error
        history = await beta.call_tool("fastn_get_event_history", {"limit": 5})
        assert "circuit open" in json.dumps(history.structured_content)
        await asyncio.sleep(BREAKER_COOLDOWN_S + 0.2)
        probe = await beta.call_tool("faults_ok", {"key": "beta-probe"})
        assert not probe.is_error, text_of(probe)  # the probe succeeded: closed again
        assert not (await beta.call_tool("faults_ok", {"key": "beta-after"})).is_error


async def test_gateway_keeps_serving_after_faults(security: SecurityDeployment) -> None:
    async with httpx.AsyncClient() as http:
        health = await http.get(f"{security.gateway.base}/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert security.gateway.proc is not None and security.gateway.proc.poll() is None
