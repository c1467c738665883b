"""The load generator: one process driving one contender, phase by phase.

Reads a JSON job on stdin and prints a JSON result on stdout. For MCP contenders every
client is the official ``mcp`` client (``mcp.Client`` over ``streamable_http_client``)
with its own httpx2 connection; for the direct contender, httpx (what the gateway
itself uses upstream). The server's CPU time and memory are read from /proc around
each phase, so CPU per call is the server's own.

Phases: ``list`` (tools/list through the client, then the same request replayed raw:
the server's answer time without the client's parsing), then ``calls`` at each
concurrency for a fixed duration (every call started in the window is waited for).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from procstat import cpu_seconds, memory_mb

TIMEOUT_S = 300.0


class Probe:
    """Server CPU and memory around a phase (no server: direct calls)."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid) if self.pid else 0.0

    def memory(self) -> dict[str, float]:
        return memory_mb(self.pid) if self.pid else {}


async def _mcp_client(stack: AsyncExitStack, job: dict[str, Any], sent: list[Any]) -> Client:
    async def remember(request: httpx2.Request) -> None:
        sent.append(request)

    http = await stack.enter_async_context(
        httpx2.AsyncClient(
            headers=job.get("headers", {}),
            timeout=TIMEOUT_S,
            event_hooks={"request": [remember]},
        )
    )
    transport = streamable_http_client(job["url"], http_client=http)
    client = Client(transport, mode=job["mode"], cache=None)
    return await stack.enter_async_context(client)


async def _timed_loop(
    call: Callable[[], Awaitable[bool]], deadline: float, latencies: list[float]
) -> int:
    errors = 0
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        ok = await call()
        latencies.append((time.perf_counter() - t0) * 1000)
        errors += 0 if ok else 1
    return errors


async def _run_calls(
    workers: list[Callable[[], Awaitable[bool]]], seconds: float, probe: Probe
) -> dict[str, Any]:
    latencies: list[float] = []
    cpu0 = probe.cpu()
    own0 = time.process_time()
    start = time.perf_counter()
    errors = await asyncio.gather(*(_timed_loop(w, start + seconds, latencies) for w in workers))
    wall = time.perf_counter() - start
    cpu = probe.cpu() - cpu0
    own = time.process_time() - own0
    return {
        "concurrency": len(workers),
        "client_cpu_ms_per_call": own * 1000 / max(1, len(latencies)),
        "calls": len(latencies),
        "errors": sum(errors),
        "wall_s": wall,
        "throughput": len(latencies) / wall,
        "latencies_ms": latencies,
        "server_cpu_s": cpu,
        "server_cpu_ms_per_call": cpu * 1000 / max(1, len(latencies)),
        "memory": probe.memory(),
    }


def _mcp_call(client: Client, job: dict[str, Any]) -> Callable[[], Awaitable[bool]]:
    async def call() -> bool:
        try:
            result = await client.call_tool(job["tool"], job["arguments"])
        except Exception as exc:  # counted, and the first one is shown
            job.setdefault("_first_error", repr(exc)[:500])
            return False
        if result.is_error:
            job.setdefault("_first_error", str(result.content)[:500])
        return not result.is_error

    return call


async def _list_phase(
    client: Client, sent: list[httpx2.Request], job: dict[str, Any], probe: Probe
) -> dict[str, Any]:
    """Up to ``list_rounds`` listings each way, stopping early past ``list_budget_s``."""
    rounds, budget = job["list_rounds"], job.get("list_budget_s", 60.0)
    latencies: list[float] = []
    cpu0 = probe.cpu()
    tools = 0
    start = time.perf_counter()
    while len(latencies) < rounds and (not latencies or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        listed = await client.list_tools(cache_mode="bypass")
        latencies.append((time.perf_counter() - t0) * 1000)
        tools = len(listed.tools)
    cpu = probe.cpu() - cpu0
    # The same tools/list request, replayed without the client: answer time and size.
    request = next(r for r in reversed(sent) if b'"tools/list"' in r.content)
    raw: list[float] = []
    size = 0
    start = time.perf_counter()
    raw_cpu0 = probe.cpu()
    async with httpx2.AsyncClient(timeout=TIMEOUT_S) as http:
        while len(raw) < rounds and (not raw or time.perf_counter() - start < budget):
            t0 = time.perf_counter()
            response = await http.post(
                request.url, content=request.content, headers=request.headers
            )
            body = response.content
            raw.append((time.perf_counter() - t0) * 1000)
            size = len(body)
            assert response.status_code == 200 and b'"tools"' in body, body[:300]
    # The replays come after the client's lists, so every one finds the list cached:
    # the server's steady CPU per answer (/proc counts in 10 ms ticks: a mean, not a
    # per-request median).
    raw_cpu = probe.cpu() - raw_cpu0
    return {
        "tools": tools,
        "bytes": size,
        "client_latencies_ms": latencies,
        "raw_latencies_ms": raw,
        "server_cpu_ms_per_list": cpu * 1000 / len(latencies),
        "server_cpu_ms_per_replay": raw_cpu * 1000 / len(raw),
    }


def _too_long(previous: dict[str, Any], n: int, limit: float) -> dict[str, Any] | None:
    """A skip record when ``n`` concurrent callers would run far past ``limit`` seconds.

    A server that handles one call at a time needs about n x its CPU per call before the
    first round of n calls completes; that bound is what is reported instead.
    """
    per_call_s = max(
        previous["server_cpu_ms_per_call"] / 1000,
        min(previous["latencies_ms"]) / 1000 if previous["concurrency"] == 1 else 0.0,
    )
    estimate = per_call_s * n
    if estimate <= limit:
        return None
    return {
        "concurrency": n,
        "skipped": True,
        "estimated_round_s": estimate,
        "throughput_bound": 1 / per_call_s if per_call_s else None,
    }


async def run_mcp(job: dict[str, Any]) -> dict[str, Any]:
    probe = Probe(job.get("pid"))
    result: dict[str, Any] = {"memory_before": probe.memory()}
    async with AsyncExitStack() as stack:
        sent: list[httpx2.Request] = []
        first = await _mcp_client(stack, job, sent)
        result["protocol_version"] = first.protocol_version
        if job["list_rounds"]:
            result["list"] = await _list_phase(first, sent, job, probe)
        if not job["concurrency"]:
            result["memory_after"] = probe.memory()
            return result
        # The client would list the tools before its first call to learn the output
        # schema and re-validate every result against it (jsonschema, client CPU only,
        # which would make the load generator the limit). Each client is told of the
        # tool without an output schema instead, as a listing it already absorbed: no
        # listing per client, no re-validation. The arguments carry no x-mcp-header
        # annotations, so nothing on the wire changes.
        only = [types.Tool(name=job["tool"], input_schema={"type": "object"})]
        clients = [first]
        first.session._absorb_tool_listing(  # noqa: SLF001
            types.ListToolsResult(tools=list(only)), complete=True
        )
        for _ in range(max(job["concurrency"]) - 1):
            client = await _mcp_client(stack, job, [])
            client.session._absorb_tool_listing(  # noqa: SLF001
                types.ListToolsResult(tools=list(only)), complete=False
            )
            clients.append(client)
        for _ in range(job["warmup"]):
            await _mcp_call(first, job)()
        result["calls"] = []
        for n in job["concurrency"]:
            done = [c for c in result["calls"] if not c.get("skipped")]
            skip = _too_long(done[-1], n, job["max_phase_s"]) if done else None
            if skip is not None:
                result["calls"].append(skip)
                continue
            workers = [_mcp_call(c, job) for c in clients[:n]]
            result["calls"].append(await _run_calls(workers, job["seconds"], probe))
    result["memory_after"] = probe.memory()
    result["first_error"] = job.get("_first_error")
    return result


async def run_direct(job: dict[str, Any]) -> dict[str, Any]:
    probe = Probe(job.get("pid"))
    result: dict[str, Any] = {"calls": []}
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=job["url"], timeout=30))
            for _ in range(max(job["concurrency"]))
        ]

        def worker(client: httpx.AsyncClient) -> Callable[[], Awaitable[bool]]:
            async def call() -> bool:
                response = await client.get(
                    job["path"], headers={"Authorization": "Bearer sk_test_bench"}
                )
                response.json()
                return response.status_code == 200

            return call

        for client in clients[: job["warmup"]]:
            await worker(client)()
        for n in job["concurrency"]:
            workers = [worker(c) for c in clients[:n]]
            result["calls"].append(await _run_calls(workers, job["seconds"], probe))
    return result


def main() -> None:
    job = json.load(sys.stdin)
    runner = run_direct if job["kind"] == "direct" else run_mcp
    json.dump(asyncio.run(runner(job)), sys.stdout)


if __name__ == "__main__":
    main()
