"""The gateway serving what ``fastn-gen build`` generates from the repository's own
Slack and Shopify connector specs, end to end over streamable HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from fastn_gen.codegen.build import build
from fastn_gen.native.registry import NATIVE_TOOLS
from tests.gateway.fixtures.gateway_process import REPO_ROOT, GatewayProcess, retarget
from tests.gateway.fixtures.tenants_setup import (
    ACME_SHOP,
    TenantKeys,
    UpstreamTokens,
    upstream_tokens,
    write_tenants,
)
from tests.upstreams import ShopifyUpstream, SlackUpstream

pytestmark = pytest.mark.anyio

CONNECTORS = REPO_ROOT / "connectors.d"


@dataclass
class Running:
    gateway: GatewayProcess
    slack: SlackUpstream
    shopify: ShopifyUpstream
    keys: TenantKeys
    tokens: UpstreamTokens
    generated: Path


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("built")
    specs = root / "connectors.d"
    specs.mkdir()
    for name in ("slack.yaml", "shopify.yaml"):
        shutil.copy(CONNECTORS / name, specs / name)
    report = build(specs, root / "generated")
    assert not report.issues, report.issues
    tokens = upstream_tokens()
    slack, shopify = SlackUpstream(), ShopifyUpstream()
    slack.start()
    shopify.start()
    slack.allow_token(tokens.acme_slack, tokens.beta_slack)
    shopify.allow_token(tokens.acme_shopify, ACME_SHOP)
    generated = retarget(
        root / "generated", slack_base=slack.url, shopify_base=shopify.shop_url_template
    )
    keys = write_tenants(root / "tenants.yaml")
    gateway = GatewayProcess(
        root / "tenants.yaml", generated, root / "gateway.log", env=tokens.env()
    )
    try:
        gateway.start()
        yield Running(gateway, slack, shopify, keys, tokens, generated)
    finally:
        gateway.stop()
        slack.stop()
        shopify.stop()


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_generated_connectors_are_served_per_tenant(running: Running, mode: str) -> None:
    running.slack.clear()
    running.shopify.clear()
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {running.keys.acme}"}) as h:
        async with Client(
            streamable_http_client(running.gateway.url, http_client=h), mode=mode
        ) as c:
            names = [t.name for t in (await c.list_tools()).tools]
            sent = await c.call_tool("slack_send_message", {"channel": "C001", "text": "built"})
            orders = await c.call_tool("shopify_list_orders", {"status": "any"})
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {running.keys.beta}"}) as h:
        async with Client(
            streamable_http_client(running.gateway.url, http_client=h), mode=mode
        ) as c:
            beta_names = [t.name for t in (await c.list_tools()).tools]

    native = [tool.name for tool in NATIVE_TOOLS]
    assert names[: len(native)] == native
    dynamic = names[len(native) :]
    assert dynamic == sorted(dynamic)
    assert {"slack_send_message", "shopify_list_orders"} <= set(dynamic)
    assert beta_names == native + [n for n in dynamic if n.startswith("slack_")]
    assert not sent.is_error and not orders.is_error
    (post,) = running.slack.requests
    assert post.header("authorization") == f"Bearer {running.tokens.acme_slack}"
    assert post.json() == {"channel": "C001", "text": "built"}
    (listing,) = running.shopify.requests
    assert listing.path == f"/{ACME_SHOP}/admin/api/2024-10/orders.json"
    assert listing.header("x-shopify-access-token") == running.tokens.acme_shopify
