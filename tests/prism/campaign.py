"""Call a deployment's tools through the official MCP client and tally Prism's verdicts."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.prism.arguments import NoArguments, every_argument, minimal_arguments
from tests.prism.deployment import Deployment, VendorSpec
from tests.prism.recorder import DEFECTS, OK, RecordingProxy

NOT_SENT = "not_sent"  # the gateway answered without calling the upstream
NO_ARGUMENTS = "no_arguments"  # no schema-valid arguments could be generated
# The MCP client refused a result against the tool's output schema: Prism's mock
# (often the vendor's own example) does not fit the document's response schema.
OUTPUT_MISMATCH = "output_mismatch"


@dataclass
class Tally:
    spec: str
    called: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    defects: list[str] = field(default_factory=list)  # one line per request defect
    others: list[str] = field(default_factory=list)  # not sent, no arguments
    mismatches: list[str] = field(default_factory=list)  # mock results vs output schemas

    def add(self, verdict: str, line: str) -> None:
        self.verdicts[verdict] += 1
        if verdict in DEFECTS:
            self.defects.append(line)
        elif verdict == OUTPUT_MISMATCH:
            self.mismatches.append(line)
        elif verdict in (NOT_SENT, NO_ARGUMENTS):
            self.others.append(line)

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.verdicts.items()))
        return f"{self.spec}: {self.called} tools called: {counts}"


def spread(names: list[str], count: int) -> list[str]:
    """A deterministic sample spread over the whole API, not its alphabetical start."""
    ordered = sorted(names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())
    return sorted(ordered[:count])


def choose(
    tools: list[types.Tool], prefix: str, reads: int | None, writes: int | None
) -> list[types.Tool]:
    """``reads`` of the read-only tools and ``writes`` of the others (None: all).

    Only the connector's own tools: the gateway's built-in ones never go upstream.
    """
    tools = [t for t in tools if t.name.startswith(prefix)]
    read_only = [t.name for t in tools if t.annotations and t.annotations.read_only_hint]
    others = [t.name for t in tools if t.name not in set(read_only)]
    picked = set(read_only if reads is None else spread(read_only, reads))
    picked |= set(others if writes is None else spread(others, writes))
    return [t for t in tools if t.name in picked]


def _text(result: types.CallToolResult) -> str:
    return " ".join(b.text for b in result.content if isinstance(b, types.TextContent))[:300]


async def _call_one(
    client: Client, proxy: RecordingProxy, tool: types.Tool, tally: Tally, every: bool
) -> None:
    make = every_argument if every else minimal_arguments
    try:
        arguments: dict[str, Any] = make(tool.input_schema)
    except NoArguments as exc:
        tally.add(NO_ARGUMENTS, f"{tool.name}: {exc}")
        return
    mark = proxy.mark()
    result: types.CallToolResult | None = None
    problem = ""
    try:
        result = await client.call_tool(tool.name, arguments)
    except RuntimeError as exc:  # the client's output-schema check
        problem = str(exc)[:300]
    exchanges = proxy.since(mark)
    tally.called += 1
    if not exchanges:
        reason = _text(result) if result is not None else problem
        tally.add(NOT_SENT, f"{tool.name} {arguments}: {reason}")
        return
    # Normally one exchange; should the gateway retry, a defect in any attempt counts.
    exchange = next((e for e in exchanges if e.verdict in DEFECTS), exchanges[-1])
    verdict = exchange.verdict
    if verdict == OK and problem:
        tally.add(OUTPUT_MISMATCH, f"{tool.name}: {problem}")
        return
    tally.add(verdict, f"{tool.name}: {exchange.describe()}")


async def run_campaign(
    dep: Deployment,
    spec: VendorSpec,
    reads: int | None,
    writes: int | None,
    *,
    every: bool = False,
) -> Tally:
    """Call the chosen tools of ``spec``'s connector one at a time (so each call's
    exchange with Prism is the one recorded while it ran). ``every``: fill optional
    arguments too, instead of the required ones only."""
    tally = Tally(spec.path + (" (every argument)" if every else ""))
    proxy = dep.upstreams[spec.name].proxy
    headers = {"Authorization": f"Bearer {dep.api_key}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(dep.gateway.url, http_client=http)) as client:
            listed = await client.list_tools()
            tools = list(listed.tools)
            while listed.next_cursor:
                listed = await client.list_tools(cursor=listed.next_cursor)
                tools.extend(listed.tools)
            for tool in choose(tools, spec.name + "_", reads, writes):
                await _call_one(client, proxy, tool, tally, every)
    return tally
