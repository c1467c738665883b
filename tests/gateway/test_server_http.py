"""The gateway as a real subprocess, driven over streamable HTTP by the official client.

Every behaviour is checked for both protocol eras the SDK serves: the 2025-11-25
initialize handshake (stateless mode) and sessionless 2026-07-28.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from fastn_gen.native.registry import NATIVE_TOOLS
from tests.gateway.fixtures.gateway_process import GatewayProcess, generated_dir
from tests.gateway.fixtures.tenants_setup import (
    ACME_SHOP,
    BROKEN_SHOP,
    TenantKeys,
    UpstreamTokens,
    upstream_tokens,
    write_tenants,
)
from tests.upstreams import RecordedRequest, Reply, ShopifyUpstream, SlackUpstream

pytestmark = pytest.mark.anyio

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
ERAS = [LEGACY, MODERN]
# Native tools come first for every tenant, then the tenant's connector tools by name.
NATIVE = [tool.name for tool in NATIVE_TOOLS]
ACME_TOOLS = [*NATIVE, "shopify_list_orders", "slack_list_channels", "slack_send_message"]
SLACK_TOOLS = [*NATIVE, "slack_list_channels", "slack_send_message"]


class TimedSlack(SlackUpstream):
    """Slack that can hold each answer for a while, and counts requests in progress."""

    def __init__(self) -> None:
        super().__init__()
        self.delay_s = 0.0
        self.max_in_flight = 0
        self._in_flight = 0
        self._count = threading.Lock()

    def handle(self, request: RecordedRequest) -> Reply | None:
        with self._count:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            time.sleep(self.delay_s)
            return super().handle(request)
        finally:
            with self._count:
                self._in_flight -= 1


class DroppingShopify(ShopifyUpstream):
    """Shopify whose ``broken`` shop closes the connection without answering."""

    def handle(self, request: RecordedRequest) -> Reply | None:
        if request.path.startswith(f"/{BROKEN_SHOP}/"):
            return None
        return super().handle(request)


@dataclass
class Deployment:
    gateway: GatewayProcess
    slack: TimedSlack
    shopify: DroppingShopify
    keys: TenantKeys
    tokens: UpstreamTokens
    config: Path
    generated: Path

    def upstream_requests(self) -> list[RecordedRequest]:
        return self.slack.requests + self.shopify.requests


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("gateway")
    tokens = upstream_tokens()
    slack = TimedSlack()
    shopify = DroppingShopify()
    slack.start()
    shopify.start()
    slack.allow_token(tokens.acme_slack, tokens.beta_slack)
    shopify.allow_token(tokens.acme_shopify, ACME_SHOP)
    generated = generated_dir(
        root / "generated", slack_base=slack.url, shopify_base=shopify.shop_url_template
    )
    config = root / "tenants.yaml"
    keys = write_tenants(config)
    # Output schemas listed, so the client checks every call's structuredContent against
    # them (connector tools are listed without them by default).
    gateway = GatewayProcess(
        config, generated, root / "gateway.log", env=tokens.env(), extra=["--list-output-schemas"]
    )
    try:
        gateway.start()
        yield Deployment(gateway, slack, shopify, keys, tokens, config, generated)
    finally:
        gateway.stop()
        slack.stop()
        shopify.stop()


@pytest.fixture
def dep(deployment: Deployment) -> Deployment:
    deployment.slack.clear()
    deployment.shopify.clear()
    deployment.slack.delay_s = 0.0
    deployment.slack.max_in_flight = 0
    return deployment


@asynccontextmanager
async def connect(url: str, key: str | None, era: str) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        mode = "legacy" if era == LEGACY else era
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            assert client.session.protocol_version == era
            yield client


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


def leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


def every_header_value(requests: list[RecordedRequest]) -> list[str]:
    return [value for r in requests for _, value in r.headers]


@pytest.mark.parametrize("era", ERAS)
async def test_each_tenant_lists_only_its_connected_tools(dep: Deployment, era: str) -> None:
    async with connect(dep.gateway.url, dep.keys.acme, era) as acme:
        listed = await acme.list_tools()
        assert [t.name for t in listed.tools] == ACME_TOOLS
        send = next(t for t in listed.tools if t.name == "slack_send_message")
        assert send.title == "Send a message"
        assert send.input_schema["required"] == ["channel", "text"]
        assert send.annotations is not None and send.annotations.read_only_hint is False
        assert send.output_schema is not None
    async with connect(dep.gateway.url, dep.keys.beta, era) as beta:
        assert [t.name for t in (await beta.list_tools()).tools] == SLACK_TOOLS


@pytest.mark.parametrize("era", ERAS)
async def test_calls_reach_the_upstream_with_the_tenants_own_credentials(
    dep: Deployment, era: str
) -> None:
    async with connect(dep.gateway.url, dep.keys.acme, era) as acme:
        sent = await acme.call_tool("slack_send_message", {"channel": "C001", "text": "hi"})
        orders = await acme.call_tool("shopify_list_orders", {"status": "any", "limit": 5})
    async with connect(dep.gateway.url, dep.keys.beta, era) as beta:
        beta_sent = await beta.call_tool("slack_send_message", {"channel": "C002", "text": "yo"})

    assert not sent.is_error and sent.structured_content is not None
    assert sent.structured_content["channel"] == "C001"
    assert sent.structured_content["message"]["text"] == "hi"
    assert not orders.is_error and orders.structured_content is not None
    assert [o["name"] for o in orders.structured_content["orders"]] == ["#1001", "#1002"]
    assert not beta_sent.is_error

    acme_post, beta_post = dep.slack.requests
    (acme_orders,) = dep.shopify.requests
    assert acme_post.path == "/api/chat.postMessage"
    assert acme_post.header("authorization") == f"Bearer {dep.tokens.acme_slack}"
    assert acme_post.json() == {"channel": "C001", "text": "hi"}
    assert acme_orders.path == f"/{ACME_SHOP}/admin/api/2024-10/orders.json"
    assert acme_orders.query_dict() == {"status": "any", "limit": "5"}
    assert acme_orders.header("x-shopify-access-token") == dep.tokens.acme_shopify
    assert beta_post.header("authorization") == f"Bearer {dep.tokens.beta_slack}"
    assert beta_post.json() == {"channel": "C002", "text": "yo"}

    # The MCP request's Authorization (the gateway key) never travels upstream.
    assert "authorization" not in acme_orders.header_names()
    for value in every_header_value([acme_post, acme_orders, beta_post]):
        assert dep.keys.acme not in value and dep.keys.beta not in value


async def _call_error(client: Client, name: str) -> MCPError:
    with pytest.raises(MCPError) as info:
        await client.call_tool(name, {"limit": 1})
    return info.value


@pytest.mark.parametrize("era", ERAS)
async def test_a_tool_of_an_unconnected_connector_fails_exactly_like_an_unknown_tool(
    dep: Deployment, era: str
) -> None:
    async with connect(dep.gateway.url, dep.keys.beta, era) as beta:
        hidden = await _call_error(beta, "shopify_list_orders")
        unknown = await _call_error(beta, "shopify_list_orderz")
    assert hidden.code == unknown.code == types.INVALID_PARAMS
    assert hidden.message == "Unknown tool: shopify_list_orders"
    assert unknown.message == "Unknown tool: shopify_list_orderz"
    assert hidden.data == unknown.data is None
    assert dep.upstream_requests() == []


async def _raw_call(dep: Deployment, key: str, era: str, name: str) -> tuple[int, Any]:
    """One tools/call POST as a client of ``era`` would send it, without the SDK client."""
    headers = {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": era,
    }
    params: dict[str, Any] = {"name": name, "arguments": {}}
    if era == MODERN:
        headers |= {"Mcp-Method": "tools/call", "Mcp-Name": name}
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": era,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(dep.gateway.url, json=body, headers=headers)
    payload = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        payload = next(line[5:] for line in payload.splitlines() if line.startswith("data:"))
    return response.status_code, json.loads(payload)


@pytest.mark.parametrize("era", ERAS)
async def test_hidden_and_unknown_tools_are_indistinguishable_on_the_wire(
    dep: Deployment, era: str
) -> None:
    hidden = await _raw_call(dep, dep.keys.beta, era, "shopify_list_orders")
    unknown = await _raw_call(dep, dep.keys.beta, era, "shopify_list_orderz")
    assert hidden[0] == unknown[0]
    assert json.dumps(hidden[1]).replace("orders", "ORDER") == json.dumps(unknown[1]).replace(
        "orderz", "ORDER"
    )
    assert hidden[1]["error"]["code"] == types.INVALID_PARAMS


@pytest.mark.parametrize("era", ERAS)
async def test_invalid_arguments_name_the_field_and_never_reach_the_upstream(
    dep: Deployment, era: str
) -> None:
    async with connect(dep.gateway.url, dep.keys.acme, era) as acme:
        missing = await acme.call_tool("slack_send_message", {"text": "hi"})
        wrong = await acme.call_tool("shopify_list_orders", {"limit": 0, "colour": "red"})
    assert missing.is_error
    assert text_of(missing) == "Invalid arguments for slack_send_message: channel: Field required"
    assert wrong.is_error
    assert text_of(wrong) == (
        "Invalid arguments for shopify_list_orders: "
        "limit: Input should be greater than or equal to 1; "
        "colour: Extra inputs are not permitted"
    )
    assert dep.upstream_requests() == []


async def test_unknown_or_missing_key_is_refused_before_the_mcp_layer(dep: Deployment) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    accept = {"Accept": "application/json, text/event-stream"}
    async with httpx2.AsyncClient(timeout=30) as http:
        missing = await http.post(dep.gateway.url, json=body, headers=accept)
        unknown = await http.post(
            dep.gateway.url, json=body, headers=accept | {"Authorization": "Bearer nope"}
        )
        other_scheme = await http.post(
            dep.gateway.url, json=body, headers=accept | {"Authorization": f"Basic {dep.keys.beta}"}
        )
        # The SDK would answer 400 for a malformed body; auth comes first.
        garbage = await http.post(dep.gateway.url, content=b"{", headers=accept)
    for response in (missing, unknown, other_scheme, garbage):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith('Bearer realm="fastn-gen"')
        assert response.json()["error"] == "unauthorized"
    assert missing.headers["www-authenticate"] == 'Bearer realm="fastn-gen"'
    assert unknown.headers["www-authenticate"] == 'Bearer realm="fastn-gen", error="invalid_token"'

    # The official client gives up too (its error does not carry the status).
    for era in ERAS:
        with pytest.raises(BaseException) as info:
            async with connect(dep.gateway.url, "wrong-key", era) as client:
                await client.list_tools()
        assert any(isinstance(leaf, MCPError) for leaf in leaves(info.value))


@pytest.mark.parametrize("era", ERAS)
async def test_upstream_failures_become_tool_errors_and_the_gateway_keeps_serving(
    dep: Deployment, era: str
) -> None:
    async with connect(dep.gateway.url, dep.keys.gamma, era) as gamma:
        refused = await gamma.call_tool("slack_send_message", {"channel": "C001", "text": "x"})
        dropped = await gamma.call_tool("shopify_list_orders", {})
        assert refused.is_error and "invalid_auth" in text_of(refused)
        assert dropped.is_error and text_of(dropped).startswith("Upstream error")
        assert dep.tokens.gamma_slack not in text_of(refused)
    async with connect(dep.gateway.url, dep.keys.beta, era) as beta:
        ok = await beta.call_tool("slack_list_channels", {"limit": 10})
    assert not ok.is_error
    assert ok.structured_content is not None
    assert [c["name"] for c in ok.structured_content["channels"]] == ["general", "random"]


async def test_concurrent_calls_of_two_tenants_each_carry_their_own_credential(
    dep: Deployment,
) -> None:
    dep.slack.delay_s = 0.05
    results: dict[str, types.CallToolResult] = {}
    async with (
        connect(dep.gateway.url, dep.keys.acme, MODERN) as acme,
        connect(dep.gateway.url, dep.keys.beta, LEGACY) as beta,
    ):

        async def call(client: Client, text: str) -> None:
            results[text] = await client.call_tool(
                "slack_send_message", {"channel": "C001", "text": text}
            )

        async with anyio.create_task_group() as tg:
            for i in range(25):
                tg.start_soon(call, acme, f"acme-{i}")
                tg.start_soon(call, beta, f"beta-{i}")

    assert len(results) == 50
    for text, result in results.items():
        assert not result.is_error, text_of(result)
        assert result.structured_content is not None
        assert result.structured_content["message"]["text"] == text
    recorded = dep.slack.requests
    assert sorted(r.json()["text"] for r in recorded) == sorted(results)
    assert dep.slack.max_in_flight > 1
    expected = {"acme": dep.tokens.acme_slack, "beta": dep.tokens.beta_slack}
    for request in recorded:
        tenant = request.json()["text"].split("-")[0]
        assert request.header("authorization") == f"Bearer {expected[tenant]}"


async def test_tools_list_is_marked_private_for_caching(dep: Deployment) -> None:
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}
    headers = {
        "Authorization": f"Bearer {dep.keys.beta}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/list",
    }
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(dep.gateway.url, json=body, headers=headers)
    result = response.json()["result"]
    assert result["cacheScope"] == "private"
    assert result["ttlMs"] == 0
    assert [t["name"] for t in result["tools"]] == SLACK_TOOLS


async def test_modern_calls_do_not_rerun_the_tools_list_handler(dep: Deployment) -> None:
    def listings() -> int:
        return dep.gateway.log().count("tools/list for tenant acme:")

    async with connect(dep.gateway.url, dep.keys.acme, MODERN) as acme:
        await acme.list_tools()
        before = listings()
        for i in range(5):
            result = await acme.call_tool("slack_send_message", {"channel": "C001", "text": f"{i}"})
            assert not result.is_error
    assert before >= 1
    # Arguments are checked against the schema from the get_tool_input_schema hook,
    # not by running tools/list once per call.
    assert listings() == before


async def test_host_and_origin_are_validated(dep: Deployment) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {
        "Authorization": f"Bearer {dep.keys.beta}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": LEGACY,
    }
    async with httpx2.AsyncClient(timeout=30) as http:
        rebound = await http.post(
            dep.gateway.url, json=body, headers=headers | {"Host": "attacker.example:80"}
        )
        foreign = await http.post(
            dep.gateway.url, json=body, headers=headers | {"Origin": "https://attacker.example"}
        )
        same_origin = await http.post(
            dep.gateway.url, json=body, headers=headers | {"Origin": dep.gateway.base}
        )
        # Refused before authentication: no credential is needed to be turned away.
        anonymous_rebound = await http.post(
            dep.gateway.url, json=body, headers={"Host": "attacker.example"}
        )
    assert rebound.status_code == 421
    assert anonymous_rebound.status_code == 421
    assert foreign.status_code == 403
    assert same_origin.status_code == 200


async def test_healthz_needs_no_credentials(dep: Deployment) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.get(f"{dep.gateway.base}/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "tools": 3,
        "connectors": 2,
        "tenants": 3,
        # No reload yet (reload.py).
        "config": {"generation": 0, "reloads": {}, "last_reload": None},
    }


@pytest.mark.parametrize("era", ERAS)
async def test_anonymous_mode_serves_one_tenant_on_loopback(
    dep: Deployment, tmp_path: Path, era: str
) -> None:
    gateway = GatewayProcess(
        dep.config,
        dep.generated,
        tmp_path / "anonymous.log",
        env=dep.tokens.env(),
        extra=["--anonymous-tenant", "beta"],
    ).start()
    try:
        assert "ANONYMOUS MODE" in gateway.log()
        async with connect(gateway.url, None, era) as anonymous:
            assert [t.name for t in (await anonymous.list_tools()).tools] == SLACK_TOOLS
            sent = await anonymous.call_tool("slack_send_message", {"channel": "C001", "text": "a"})
        assert not sent.is_error
        (request,) = dep.slack.requests
        assert request.header("authorization") == f"Bearer {dep.tokens.beta_slack}"
        async with connect(gateway.url, dep.keys.acme, era) as acme:
            assert [t.name for t in (await acme.list_tools()).tools] == ACME_TOOLS
        async with httpx2.AsyncClient(timeout=30) as http:
            wrong = await http.post(
                gateway.url,
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={"Authorization": "Bearer wrong", "Accept": "application/json"},
            )
        assert wrong.status_code == 401
    finally:
        gateway.stop()


def test_anonymous_mode_is_refused_off_loopback(dep: Deployment, tmp_path: Path) -> None:
    gateway = GatewayProcess(
        dep.config,
        dep.generated,
        tmp_path / "refused.log",
        env=dep.tokens.env(),
        extra=["--host", "0.0.0.0", "--anonymous-tenant", "beta"],
    )
    assert gateway.run_to_exit() == 2
    assert "anonymous mode" in gateway.log() and "refused on 0.0.0.0" in gateway.log()


async def test_responses_are_not_held_back_by_delayed_acks(dep: Deployment) -> None:
    # A listening socket made without IPPROTO_TCP leaves Nagle on for every accepted
    # connection: each response then waits ~40 ms for the client's delayed ACK.
    timings = []
    async with httpx2.AsyncClient(timeout=30) as http:
        await http.get(f"{dep.gateway.base}/healthz")
        for _ in range(21):
            started = time.perf_counter()
            await http.get(f"{dep.gateway.base}/healthz")
            timings.append(time.perf_counter() - started)
    assert sorted(timings)[10] < 0.025
