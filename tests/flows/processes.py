"""Gateway subprocesses for the flows suites, served or with a controlled clock."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.flows.world import World
from tests.gateway.fixtures.gateway_process import GatewayProcess

# Short leases and ticks, so takeovers and firings happen within a test's patience.
FAST_FLOWS = {
    "FASTN_FLOWS_TICK_S": "0.1",
    "FASTN_FLOWS_REFRESH_S": "0.2",
    "FASTN_FLOWS_LEASE_S": "2",
    "FASTN_FLOWS_SHUTDOWN_GRACE_S": "0.5",
}


def gateway_process(
    world: World,
    name: str,
    *,
    store: str | None = None,
    clock_file: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> GatewayProcess:
    """A gateway on ``world`` (not started); with ``clock_file``, on a controlled clock."""
    environ = {**world.tokens, **FAST_FLOWS, **(env or {})}
    extra = ["--store", store] if store else []
    process = GatewayProcess(
        world.config, world.generated, world.root / f"{name}.log", env=environ, extra=extra
    )
    if clock_file is not None:
        process.args = [
            sys.executable,
            "-m",
            "tests.flows.clocked_gateway",
            str(clock_file),
            "--config",
            str(world.config),
            "--generated",
            str(world.generated),
            *extra,
        ]
    return process


def start_all(*processes: GatewayProcess) -> None:
    """Start the gateways side by side (each start waits for its /healthz)."""
    with ThreadPoolExecutor(len(processes)) as pool:
        failures = [f.exception() for f in [pool.submit(p.start) for p in processes]]
    problem = next((f for f in failures if f is not None), None)
    if problem is not None:
        for process in processes:
            process.stop()
        raise problem


def kill(process: GatewayProcess) -> None:
    """Stop without a goodbye (SIGKILL): nothing is marked, leases just run out."""
    assert process.proc is not None
    os.kill(process.proc.pid, signal.SIGKILL)
    process.proc.wait(timeout=10)


@asynccontextmanager
async def connect(url: str, key: str) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:  # type: ignore[arg-type]
            yield client


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def call_ok(client: Client, name: str, arguments: Mapping[str, Any] | None = None) -> Any:
    result = await client.call_tool(name, dict(arguments or {}))
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


async def call_error(
    client: Client, name: str, arguments: Mapping[str, Any] | None = None
) -> types.CallToolResult:
    result = await client.call_tool(name, dict(arguments or {}))
    assert result.is_error, result.structured_content
    return result
