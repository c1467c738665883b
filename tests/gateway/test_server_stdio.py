"""One tenant served over stdio by a real subprocess, driven by the official client."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from fastn_gen.native.registry import NATIVE_TOOLS
from tests.gateway.fixtures.gateway_process import gateway_env, generated_dir, stdio_command
from tests.gateway.fixtures.tenants_setup import (
    ACME_SHOP,
    UpstreamTokens,
    upstream_tokens,
    write_tenants,
)
from tests.upstreams import ShopifyUpstream, SlackUpstream

pytestmark = pytest.mark.anyio

ERAS = ["2025-11-25", "2026-07-28"]


@dataclass
class Setup:
    slack: SlackUpstream
    shopify: ShopifyUpstream
    tokens: UpstreamTokens
    config: Path
    generated: Path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("stdio")
    tokens = upstream_tokens()
    slack, shopify = SlackUpstream(), ShopifyUpstream()
    slack.start()
    shopify.start()
    slack.allow_token(tokens.acme_slack, tokens.beta_slack)
    shopify.allow_token(tokens.acme_shopify, ACME_SHOP)
    generated = generated_dir(
        root / "generated", slack_base=slack.url, shopify_base=shopify.shop_url_template
    )
    config = root / "tenants.yaml"
    write_tenants(config)
    try:
        yield Setup(slack, shopify, tokens, config, generated)
    finally:
        slack.stop()
        shopify.stop()


@pytest.fixture
def env(setup: Setup) -> Setup:
    setup.slack.clear()
    setup.shopify.clear()
    return setup


@asynccontextmanager
async def serve(setup: Setup, tenant: str, era: str) -> AsyncIterator[Client]:
    command, args = stdio_command(setup.config, setup.generated, tenant)
    params = StdioServerParameters(command=command, args=args, env=gateway_env(setup.tokens.env()))
    mode = "legacy" if era == "2025-11-25" else era
    async with Client(params, mode=mode, read_timeout_seconds=30) as client:
        assert client.session.protocol_version == era
        yield client


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


@pytest.mark.parametrize("era", ERAS)
async def test_stdio_serves_the_chosen_tenant_only(env: Setup, era: str) -> None:
    async with serve(env, "beta", era) as beta:
        listed = await beta.list_tools()
        native = [tool.name for tool in NATIVE_TOOLS]
        assert [t.name for t in listed.tools] == [
            *native,
            "slack_list_channels",
            "slack_send_message",
        ]
        sent = await beta.call_tool("slack_send_message", {"channel": "C001", "text": "hello"})
        with pytest.raises(MCPError) as hidden:
            await beta.call_tool("shopify_list_orders", {})
        with pytest.raises(MCPError) as unknown:
            await beta.call_tool("shopify_list_orderz", {})
        invalid = await beta.call_tool("slack_send_message", {"channel": "C001"})

    assert not sent.is_error and sent.structured_content is not None
    assert sent.structured_content["message"]["text"] == "hello"
    (request,) = env.slack.requests
    assert request.header("authorization") == f"Bearer {env.tokens.beta_slack}"
    assert hidden.value.code == unknown.value.code == types.INVALID_PARAMS
    assert hidden.value.message == "Unknown tool: shopify_list_orders"
    assert unknown.value.message == "Unknown tool: shopify_list_orderz"
    assert invalid.is_error
    assert text_of(invalid) == "Invalid arguments for slack_send_message: text: Field required"
    assert env.shopify.requests == []


@pytest.mark.parametrize("era", ERAS)
async def test_stdio_calls_use_the_tenants_connections(env: Setup, era: str) -> None:
    async with serve(env, "acme", era) as acme:
        orders = await acme.call_tool("shopify_list_orders", {"status": "open", "limit": 1})
    assert not orders.is_error and orders.structured_content is not None
    assert [o["name"] for o in orders.structured_content["orders"]] == ["#1001"]
    (request,) = env.shopify.requests
    assert request.path == f"/{ACME_SHOP}/admin/api/2024-10/orders.json"
    assert request.header("x-shopify-access-token") == env.tokens.acme_shopify


def test_stdio_refuses_an_unknown_tenant(setup: Setup) -> None:
    command, args = stdio_command(setup.config, setup.generated, "nobody")
    done = subprocess.run(
        [command, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=gateway_env(setup.tokens.env()),
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert b"tenant 'nobody' is not configured" in done.stderr
    assert done.stdout == b""
