"""Fifty interleaved tool calls of two tenants on one connector, in flight at once.

The gateway runs as a subprocess serving the Slack connector built from
``connectors.d/slack.yaml``; tenants ``acme`` and ``globex`` each connect it with their
own bot token. The Slack look-alike keeps one workspace per token (its own team,
channel names and messages), so a call sent with the wrong credential, or an answer
handed to the wrong caller, shows in the results as well as on the wire.

``test_server_http.py`` checks one tool for two tenants by the request headers; this
test mixes reading and writing tools, several MCP sessions per tenant in both protocol
eras, and checks every byte of every upstream request and every result.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from fastn_gen.codegen.build import build
from fastn_gen.gateway.apikeys import hash_api_key
from tests.gateway.fixtures.gateway_process import REPO_ROOT, SLACK_BASE, GatewayProcess
from tests.upstreams import RecordedRequest, Reply, SlackUpstream

TENANTS = ("acme", "globex")
CALLS = 50
SESSIONS_PER_TENANT = 2  # one per protocol era
ERAS = ("legacy", "2026-07-28")
CHANNEL = "C001"  # the same channel ID exists in both workspaces


class WorkspaceSlack(SlackUpstream):
    """Slack with one workspace per token; holds each answer so calls overlap."""

    def __init__(self, teams: dict[str, str]) -> None:
        super().__init__()
        self.teams = teams  # token -> team name
        self.history: dict[str, list[dict[str, Any]]] = {team: [] for team in teams.values()}
        self.delay_s = 0.05
        self.max_in_flight = 0
        self._in_flight = 0
        self._count = threading.Lock()

    def handle(self, request: RecordedRequest) -> Reply | None:
        with self._count:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            time.sleep(self.delay_s)
            return self._answer(request)
        finally:
            with self._count:
                self._in_flight -= 1

    def _answer(self, request: RecordedRequest) -> Reply:
        auth = request.header("authorization") or ""
        team = self.teams.get(auth.removeprefix("Bearer "))
        if team is None:
            return Reply.json({"ok": False, "error": "invalid_auth"})
        args = request.params()
        method = request.path.removeprefix("/api/")
        with self._state:
            if method == "chat.postMessage":
                ts = f"1700000000.{next(self._ts):06d}"
                message = {"type": "message", "user": "U0BOT", "text": args["text"], "ts": ts}
                self.history[team].append(message)
                return Reply.json(
                    {"ok": True, "channel": args["channel"], "ts": ts, "message": message}
                )
            if method == "conversations.list":
                channel = {"id": CHANNEL, "name": f"{team}-general", "is_channel": True}
                return Reply.json(
                    {"ok": True, "channels": [channel], "response_metadata": {"next_cursor": ""}}
                )
            if method == "conversations.history":
                messages = list(reversed(self.history[team]))
                return Reply.json({"ok": True, "messages": messages, "has_more": False})
        return Reply.json({"ok": False, "error": "unknown_method"})


@dataclass(frozen=True)
class Call:
    index: int
    tenant: str
    tool: str
    arguments: dict[str, Any]

    @property
    def tag(self) -> str:
        """Carried by every request of this call (message text or pagination cursor)."""
        return f"{self.tenant}-{self.index}"


def plan_calls() -> list[Call]:
    """Tenants alternate; each tenant cycles through writing and reading tools."""
    calls = []
    for i in range(CALLS):
        tenant = TENANTS[i % 2]
        tag = f"{tenant}-{i}"
        kind = (i // 2) % 3
        if kind == 0:
            calls.append(Call(i, tenant, "slack_send_message", {"channel": CHANNEL, "text": tag}))
        elif kind == 1:
            calls.append(Call(i, tenant, "slack_list_channels", {"cursor": tag}))
        else:
            calls.append(
                Call(i, tenant, "slack_channel_history", {"channel": CHANNEL, "cursor": tag})
            )
    return calls


@dataclass
class Deployment:
    gateway: GatewayProcess
    slack: WorkspaceSlack
    keys: dict[str, str]  # tenant -> gateway API key
    tokens: dict[str, str]  # tenant -> Slack bot token


def _write_connector(connectors: Path, base_url: str) -> None:
    """The shipped Slack connector, pointed at the loopback look-alike."""
    text = (REPO_ROOT / "connectors.d" / "slack.yaml").read_text(encoding="utf-8")
    line = f"base_url: {SLACK_BASE}\n"
    assert line in text  # else test traffic could go to the real service
    # Loopback is a private address, which only a self-hosted connector may reach.
    text = text.replace(line, f"base_url: {base_url}\nself_hosted: true\n")
    connectors.mkdir()
    (connectors / "slack.yaml").write_text(text, encoding="utf-8")


def _write_tenants(path: Path, keys: dict[str, str]) -> None:
    entries = "".join(
        f"""  - id: {tenant}
    api_keys: [{{id: {tenant}-key, hash: "{hash_api_key(keys[tenant])}"}}]
    connections:
      - connector: slack
        credentials: {{token: "${{{tenant.upper()}_SLACK_TOKEN}}"}}
"""
        for tenant in TENANTS
    )
    path.write_text(f"version: 1\ntenants:\n{entries}", encoding="utf-8")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("isolation")
    tokens = {t: f"xoxb-{t}-{secrets.token_hex(12)}" for t in TENANTS}
    keys = {t: f"{t}-{secrets.token_urlsafe(32)}" for t in TENANTS}
    slack = WorkspaceSlack({token: tenant for tenant, token in tokens.items()})
    slack.start()
    _write_connector(root / "connectors.d", slack.url)
    report = build(root / "connectors.d", root / "generated")
    assert not report.issues, report.issues
    _write_tenants(root / "tenants.yaml", keys)
    env = {f"{t.upper()}_SLACK_TOKEN": tokens[t] for t in TENANTS}
    gateway = GatewayProcess(root / "tenants.yaml", root / "generated", root / "gw.log", env=env)
    try:
        gateway.start()
        yield Deployment(gateway, slack, keys, tokens)
    finally:
        gateway.stop()
        slack.stop()


@asynccontextmanager
async def sessions(dep: Deployment) -> AsyncIterator[dict[str, list[Client]]]:
    """Two MCP sessions per tenant, one per protocol era, all open at once."""
    async with AsyncExitStack() as stack:
        opened: dict[str, list[Client]] = {t: [] for t in TENANTS}
        for tenant in TENANTS:
            for era in ERAS[:SESSIONS_PER_TENANT]:
                http = await stack.enter_async_context(
                    httpx2.AsyncClient(
                        headers={"Authorization": f"Bearer {dep.keys[tenant]}"}, timeout=60
                    )
                )
                client = Client(streamable_http_client(dep.gateway.url, http_client=http), mode=era)
                opened[tenant].append(await stack.enter_async_context(client))
        yield opened


async def _run(dep: Deployment, calls: list[Call]) -> list[types.CallToolResult]:
    async with sessions(dep) as clients:
        return await asyncio.gather(
            *(
                clients[c.tenant][(c.index // 2) % SESSIONS_PER_TENANT].call_tool(
                    c.tool, c.arguments
                )
                for c in calls
            )
        )


def _tag_of(request: RecordedRequest) -> str:
    params = request.params()
    return str(params.get("text") or params.get("cursor"))


def test_fifty_interleaved_calls_each_use_and_see_only_their_own_tenant(
    deployment: Deployment,
) -> None:
    calls = plan_calls()
    results = asyncio.run(_run(deployment, calls))

    # Every result belongs to its caller: its own message, its own workspace.
    for call, result in zip(calls, results, strict=True):
        assert not result.is_error, (call, result.content)
        data = result.structured_content
        assert data is not None, call
        if call.tool == "slack_send_message":
            assert data["message"]["text"] == call.tag
        elif call.tool == "slack_list_channels":
            assert [c["name"] for c in data["channels"]] == [f"{call.tenant}-general"]
        else:
            assert all(m["text"].startswith(f"{call.tenant}-") for m in data["messages"])

    # Every upstream request carries exactly its own tenant's credential, and nothing
    # of the other tenant's (nor any gateway key) anywhere in it.
    requests = deployment.slack.requests
    by_tag = {_tag_of(r): r for r in requests}
    assert sorted(by_tag) == sorted(c.tag for c in calls)
    assert len(requests) == CALLS
    for call in calls:
        request = by_tag[call.tag]
        other = next(t for t in TENANTS if t != call.tenant)
        assert request.header("authorization") == f"Bearer {deployment.tokens[call.tenant]}"
        assert [k for k, _ in request.headers].count("Authorization") == 1
        wire = repr(request.headers).encode() + request.raw_path.encode() + request.body
        for secret in (
            deployment.tokens[other],
            deployment.keys[other],
            deployment.keys[call.tenant],
        ):
            assert secret.encode() not in wire, call

    # Both workspaces got exactly their own tenant's messages.
    for tenant, token in deployment.tokens.items():
        history = deployment.slack.history[deployment.slack.teams[token]]
        sent = {c.tag for c in calls if c.tenant == tenant and c.tool == "slack_send_message"}
        assert {m["text"] for m in history} == sent
    assert deployment.slack.max_in_flight > 4  # the calls really overlapped upstream
