"""Toolsets and search mode over a real gateway, the official client and loopback upstreams.

Tenants (the generated directory has slack_list_channels [conversations],
slack_send_message [chat] and shopify_list_orders [orders]):

- ``seeker``: Slack only, ``mode: search``; its key ``seeker-ro`` narrows to ``access: read``;
- ``globex``: Slack and Shopify, tags ``chat`` and ``orders``; key ``globex-shop`` narrows
  to the Shopify connector;
- ``reader``: Slack, ``access: read`` and the flow tools excluded by a glob.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from fastn_gen.gateway.tenancy import hash_api_key
from tests.gateway.fixtures.gateway_process import GatewayProcess
from tests.native.deployment import Upstreams, call_ok, connect, prepare_generated, text_of

pytestmark = pytest.mark.anyio

ERAS = ("legacy", "2026-07-28")
KEYS = ("seeker", "seeker-ro", "globex", "globex-shop", "reader")
SLACK = '      - connector: slack\n        credentials: {token: "${%s_SLACK_TOKEN}"}\n'
SHOPIFY = (
    '      - connector: shopify\n        credentials: {api_key: "${%s_SHOPIFY_TOKEN}"}\n'
    "        variables: {shop: acme-store}\n"
)


class Gateway:
    def __init__(self, root: Path) -> None:
        self.upstreams = Upstreams.start()
        self.keys = {name: f"{name}-{secrets.token_urlsafe(24)}" for name in KEYS}
        config = root / "tenants.yaml"
        config.write_text(self._tenants(), encoding="utf-8")
        env = dict(self.upstreams.tokens)
        env["SEEKER_SLACK_TOKEN"] = env["ACME_SLACK_TOKEN"]
        env["GLOBEX_SHOPIFY_TOKEN"] = env["ACME_SHOPIFY_TOKEN"]
        env["READER_SLACK_TOKEN"] = env["OPS_SLACK_TOKEN"]
        env["FASTN_DATA_DIR"] = str(root / "data")
        generated = prepare_generated(root, self.upstreams)
        self.process = GatewayProcess(config, generated, root / "gateway.log", env=env)
        try:
            self.process.start()
        except BaseException:
            self.upstreams.stop()
            raise

    def _key(self, name: str, toolset: str = "") -> str:
        extra = f", toolset: {toolset}" if toolset else ""
        return f'      - {{id: {name}, hash: "{hash_api_key(self.keys[name])}"{extra}}}\n'

    def _tenants(self) -> str:
        return (
            "version: 1\ntenants:\n"
            "  - id: seeker\n    toolset: {mode: search}\n    api_keys:\n"
            + self._key("seeker")
            + self._key("seeker-ro", "{access: read}")
            + "    connections:\n"
            + SLACK % "SEEKER"
            + "  - id: globex\n    toolset: {tags: [chat, orders]}\n    api_keys:\n"
            + self._key("globex")
            + self._key("globex-shop", "{connectors: [shopify]}")
            + "    connections:\n"
            + SLACK % "GLOBEX"
            + SHOPIFY % "GLOBEX"
            + '  - id: reader\n    toolset: {access: read, exclude: ["fastn_*flow*"]}\n'
            + "    api_keys:\n"
            + self._key("reader")
            + "    connections:\n"
            + SLACK % "READER"
        )

    def stop(self) -> None:
        self.process.stop()
        self.upstreams.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = Gateway(tmp_path_factory.mktemp("toolsets"))
    try:
        yield gw
    finally:
        gw.stop()


async def _names(client: Client) -> list[str]:
    return [tool.name for tool in (await client.list_tools()).tools]


async def _search(client: Client, query: str, limit: int = 10) -> list[dict[str, Any]]:
    found = await call_ok(client, "fastn_search_tools", {"query": query, "limit": limit})
    tools: list[dict[str, Any]] = found["tools"]
    return tools


async def _unknown(client: Client, name: str, arguments: dict[str, Any]) -> MCPError:
    with pytest.raises(MCPError) as info:
        await client.call_tool(name, arguments)
    return info.value


@pytest.mark.parametrize("era", ERAS)
async def test_search_mode_lists_meta_tools_and_finds_then_calls_the_tool(
    gateway: Gateway, era: str
) -> None:
    slack = gateway.upstreams.slack
    async with connect(gateway.process.url, gateway.keys["seeker"], era) as seeker:
        listed = (await seeker.list_tools()).tools
        by_name = {tool.name: tool for tool in listed}
        found = await _search(seeker, "post a message to a channel")
        slack.clear()
        text = f"hello from search mode {era}"
        result = await seeker.call_tool(
            "fastn_call_tool",
            {"name": "slack_send_message", "arguments": {"channel": "C001", "text": text}},
        )
        history = await call_ok(seeker, "fastn_get_event_history", {"tool": "slack_send_message"})
        usage = await call_ok(seeker, "fastn_get_usage_summary")
    names = [tool.name for tool in listed]
    assert "fastn_search_tools" in names and "fastn_call_tool" in names
    assert not any(name.startswith("slack_") for name in names)
    assert "fastn_list_integrations" in names  # the native tools stay listed
    search_hints = by_name["fastn_search_tools"].annotations
    call_hints = by_name["fastn_call_tool"].annotations
    assert search_hints is not None and search_hints.read_only_hint is True
    assert call_hints is not None and call_hints.read_only_hint is False

    assert found[0]["name"] == "slack_send_message"
    assert found[0]["connector"] == "slack" and found[0]["read_only"] is False
    assert "channel" in found[0]["input_schema"]["properties"]

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None and result.structured_content["ok"] is True
    (sent,) = slack.requests
    assert sent.path == "/api/chat.postMessage"
    assert sent.header("authorization") == "Bearer " + gateway.upstreams.tokens["ACME_SLACK_TOKEN"]
    assert any(e["status"] == "success" and e["connector"] == "slack" for e in history["events"])
    assert {e["tool"] for e in history["events"]} == {"slack_send_message"}
    calls = {tool["tool"]: tool["calls"] for tool in usage["tools"]}
    assert calls.get("slack_send_message", 0) >= 1
    assert "fastn_call_tool" not in calls


async def test_bad_arguments_through_call_tool_get_the_direct_calls_error(
    gateway: Gateway,
) -> None:
    async with connect(gateway.process.url, gateway.keys["seeker"]) as seeker:
        via_meta = await seeker.call_tool(
            "fastn_call_tool", {"name": "slack_send_message", "arguments": {"text": "no channel"}}
        )
        direct = await seeker.call_tool("slack_send_message", {"text": "no channel"})
        bad_meta = await seeker.call_tool("fastn_call_tool", {"arguments": {}})
    assert via_meta.is_error and direct.is_error
    assert text_of(via_meta) == text_of(direct)
    assert text_of(direct).startswith("Invalid arguments for slack_send_message: channel:")
    assert bad_meta.is_error
    assert text_of(bad_meta).startswith("Invalid arguments for fastn_call_tool: name:")


@pytest.mark.parametrize("era", ERAS)
async def test_tools_outside_the_toolset_are_unknown_directly_and_through_call_tool(
    gateway: Gateway, era: str
) -> None:
    slack = gateway.upstreams.slack
    slack.clear()
    args = {"channel": "C001", "text": "must not be sent"}
    async with connect(gateway.process.url, gateway.keys["seeker-ro"], era) as narrowed:
        direct = await _unknown(narrowed, "slack_send_message", args)
        via_meta = await _unknown(
            narrowed, "fastn_call_tool", {"name": "slack_send_message", "arguments": args}
        )
        other_tenant = await _unknown(
            narrowed, "fastn_call_tool", {"name": "shopify_list_orders", "arguments": {}}
        )
        nested = await _unknown(
            narrowed, "fastn_call_tool", {"name": "fastn_call_tool", "arguments": {}}
        )
        found = await _search(narrowed, "post a message to a channel")
        orders = await _search(narrowed, "list the shop's orders")
    assert direct.code == via_meta.code == other_tenant.code == types.INVALID_PARAMS
    assert direct.message == via_meta.message == "Unknown tool: slack_send_message"
    assert other_tenant.message == "Unknown tool: shopify_list_orders"
    assert nested.message == "Unknown tool: fastn_call_tool"
    assert slack.requests == []
    names = {tool["name"] for tool in found + orders}
    assert "slack_send_message" not in names  # hidden by the key's toolset
    assert "shopify_list_orders" not in names  # another tenant's connector
    assert "slack_list_channels" in names
    assert all(tool["read_only"] for tool in found + orders)


async def test_meta_tools_exist_only_in_search_mode(gateway: Gateway) -> None:
    async with connect(gateway.process.url, gateway.keys["globex"]) as globex:
        error = await _unknown(globex, "fastn_search_tools", {"query": "orders"})
    assert error.message == "Unknown tool: fastn_search_tools"


@pytest.mark.parametrize("era", ERAS)
async def test_tools_list_follows_tags_connectors_access_and_key_narrowing(
    gateway: Gateway, era: str
) -> None:
    url = gateway.process.url
    async with connect(url, gateway.keys["globex"], era) as globex:
        tagged = await _names(globex)
        hidden = await _unknown(globex, "slack_list_channels", {})
    async with connect(url, gateway.keys["globex-shop"], era) as shop:
        shop_only = await _names(shop)
    async with connect(url, gateway.keys["reader"], era) as reader:
        read_only = await _names(reader)
        refused = await _unknown(reader, "fastn_create_flow", {})
    dynamic = [name for name in tagged if not name.startswith("fastn_")]
    assert dynamic == ["shopify_list_orders", "slack_send_message"]
    assert "fastn_delete_flow" in tagged  # tags and connectors do not filter native tools
    assert hidden.message == "Unknown tool: slack_list_channels"
    assert [n for n in shop_only if not n.startswith("fastn_")] == ["shopify_list_orders"]
    assert [n for n in read_only if not n.startswith("fastn_")] == ["slack_list_channels"]
    assert "fastn_get_event_history" in read_only
    assert not any("flow" in name for name in read_only)
    assert refused.message == "Unknown tool: fastn_create_flow"


async def test_flow_steps_respect_the_toolset(gateway: Gateway) -> None:
    flow = {
        "name": "digest",
        "trigger": {"type": "manual"},
        "steps": [
            {"id": "channels", "tool": "slack_list_channels", "arguments": {"limit": 5}},
            {"id": "orders", "tool": "shopify_list_orders", "arguments": {"status": "open"}},
        ],
    }
    async with connect(gateway.process.url, gateway.keys["globex"]) as globex:
        refused = await globex.call_tool("fastn_create_flow", flow)
        created = await call_ok(globex, "fastn_create_flow", flow | {"steps": flow["steps"][1:]})
    assert refused.is_error
    assert "steps[0] (channels).tool: unknown tool 'slack_list_channels'" in text_of(refused)
    assert created["tools"] == ["shopify_list_orders"]
