"""A bounded soak: concurrent clients mixing healthy calls with injected upstream faults.

Clients of tenants ``soak0``..``soak3`` (both protocol eras) run for ``SOAK_S`` seconds
(30 in the default run, 300 with ``-m slow``). Healthy operations must all succeed;
calls to the faulty upstream must fail the way the fault says (or be refused by the
open circuit). Afterwards: no unexplained failure, and the gateway's resident memory
grew by less than 10% from the end of the warm-up to the end of the run.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from mcp import Client

from tests.security.deployment import SOAK_TENANTS, SecurityDeployment, connect, text_of

pytestmark = pytest.mark.anyio

CLIENTS = 8
MIB = 1024 * 1024
# (tool, arguments, what its error must say); None: it must succeed.
HEALTHY = [
    ("stable_ok", {"key": "soak"}, None),
    ("faults_ok", {"key": "soak"}, None),
    ("faults_echo", {"segment": "soak", "q": "x"}, None),
    ("fastn_get_usage_summary", {}, None),
    ("fastn_list_integrations", {}, None),
]
FAULTY = [
    ("faults_status_post", {"code": 500}, "HTTP 500"),
    ("faults_status", {"code": 503}, "HTTP 503"),
    ("faults_reset", {"key": "soak"}, "faults (reset)"),
    ("faults_html", {"code": 502}, "Bad Gateway"),
    ("faults_huge", {"size": 11 * MIB}, "larger than"),
    ("faults_slow_post", {"ms": 3000}, "timed out"),
    ("faults_flaky", {"key": "soak", "failures": 0, "code": 503}, None),
]


@dataclass
class Tally:
    ops: Counter[str] = field(default_factory=Counter)
    unexplained: list[str] = field(default_factory=list)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def worker(client: Client, rng: random.Random, deadline: float, tally: Tally) -> None:
    while time.monotonic() < deadline:
        roll = rng.random()
        if roll < 0.15:
            tools = await client.list_tools()
            tally.ops["tools/list"] += 1
            if len(tools.tools) < 6:
                tally.unexplained.append("tools/list came back short")
            continue
        name, arguments, expected = rng.choice(HEALTHY if roll < 0.75 else FAULTY)
        try:
            result = await client.call_tool(name, arguments)
        except Exception as exc:  # any protocol-level failure is unexplained
            tally.unexplained.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        tally.ops[name] += 1
        text = text_of(result)
        if expected is None and result.is_error and "circuit open" not in text:
            tally.unexplained.append(f"{name} failed: {text[:200]}")
        elif expected is not None and not result.is_error:
            tally.unexplained.append(f"{name} should have failed")
        elif expected is not None and expected not in text and "circuit open" not in text:
            tally.unexplained.append(f"{name} failed unexpectedly: {text[:200]}")
        if result.is_error and "circuit open" in text:
            tally.ops["refused by open circuit"] += 1
            # Only the faulty connector's own calls may be paused.
            if name.startswith(("stable_", "fastn_")):
                tally.unexplained.append(f"{name} refused by a circuit it does not use")


async def soak(security: SecurityDeployment, seconds: float) -> None:
    assert security.gateway.proc is not None
    pid = security.gateway.proc.pid
    tally = Tally()
    warmup = max(5.0, seconds * 0.2)
    async with AsyncExitStack() as stack:
        sessions = []
        for i in range(CLIENTS):
            tenant = SOAK_TENANTS[i % len(SOAK_TENANTS)]
            mode = "legacy" if i % 2 else "2026-07-28"
            key = security.creds.keys[tenant]
            sessions.append(
                await stack.enter_async_context(connect(security.gateway.url, key, mode))
            )
        started = time.monotonic()
        pairs = list(zip(sessions, [random.Random(i) for i in range(CLIENTS)], strict=True))
        await asyncio.gather(*(worker(s, r, started + warmup, tally) for s, r in pairs))
        rss_start = rss_kib(pid)
        await asyncio.gather(*(worker(s, r, started + seconds, tally) for s, r in pairs))
        rss_end = rss_kib(pid)
        elapsed = time.monotonic() - started
    total = sum(v for k, v in tally.ops.items() if k != "refused by open circuit")
    growth = (rss_end - rss_start) / rss_start
    print(
        f"\nsoak: {total} operations in {elapsed:.0f} s by {CLIENTS} clients "
        f"({total / elapsed:.0f}/s); RSS {rss_start / 1024:.1f} -> {rss_end / 1024:.1f} MiB "
        f"({growth:+.1%}); {dict(tally.ops)}"
    )
    assert tally.unexplained == []
    assert security.leaked(security.gateway.log()) == []
    assert total > CLIENTS * 10
    assert growth < 0.10
    assert security.gateway.proc.poll() is None


async def test_soak_short(security: SecurityDeployment) -> None:
    await soak(security, 30)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_soak_long(security: SecurityDeployment) -> None:
    await soak(security, 300)
