"""A gateway subprocess with an admin key, two tenants and loopback Slack and Shopify.

``acme`` has Slack and Shopify on a plan allowing ``slack_list_channels`` once a
month (so a second call is a quota refusal); ``globex`` has Slack with a token the
upstream refuses (so its calls fail upstream).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from fastn_gen.admin.keys import generate_admin_key
from fastn_gen.gateway.apikeys import generate_api_key
from tests.gateway.fixtures.gateway_process import GatewayProcess, generated_dir
from tests.upstreams import ShopifyUpstream, SlackUpstream

SHOP = "acme-store"

TENANTS = """version: 1
plans:
  default: {{}}
  small:
    per_tool:
      slack_list_channels: {{tool_calls_per_month: 1}}
tenants:
  - id: acme
    display_name: Acme Corp
    plan: small
    api_keys:
      {acme_line}
    connections:
      - connector: slack
        credentials: {{token: "${{ACME_SLACK_TOKEN}}"}}
      - connector: shopify
        variables: {{shop: {shop}}}
        credentials: {{api_key: "${{ACME_SHOPIFY_TOKEN}}"}}
  - id: globex
    display_name: Globex
    api_keys:
      {globex_line}
    connections:
      - connector: slack
        credentials: {{token: "${{GLOBEX_SLACK_TOKEN}}"}}
admin:
  api_keys:
    {admin_line}
"""


@dataclass
class Deployment:
    gateway: GatewayProcess
    slack: SlackUpstream
    shopify: ShopifyUpstream
    acme_key: str
    globex_key: str
    admin_key: str
    root: Path


@contextmanager
def deployment(root: Path, extra: Sequence[str] = ()) -> Iterator[Deployment]:
    slack, shopify = SlackUpstream(), ShopifyUpstream()
    slack.start()
    shopify.start()
    env = {
        "ACME_SLACK_TOKEN": "xoxb-acme-" + secrets.token_hex(8),
        "ACME_SHOPIFY_TOKEN": "shpat_acme_" + secrets.token_hex(8),
        "GLOBEX_SLACK_TOKEN": "xoxb-globex-revoked-" + secrets.token_hex(8),
    }
    slack.allow_token(env["ACME_SLACK_TOKEN"])
    shopify.allow_token(env["ACME_SHOPIFY_TOKEN"], SHOP)
    generated = generated_dir(
        root / "generated", slack_base=slack.url, shopify_base=shopify.shop_url_template
    )
    acme_key, acme_line = generate_api_key("acme")
    globex_key, globex_line = generate_api_key("globex")
    admin_key, admin_line = generate_admin_key()
    config = root / "tenants.yaml"
    config.write_text(
        TENANTS.format(
            acme_line=acme_line, globex_line=globex_line, admin_line=admin_line, shop=SHOP
        ),
        encoding="utf-8",
    )
    gateway = GatewayProcess(config, generated, root / "gateway.log", env=env, extra=extra)
    try:
        gateway.start()
        yield Deployment(gateway, slack, shopify, acme_key, globex_key, admin_key, root)
    finally:
        gateway.stop()
        slack.stop()
        shopify.stop()


@asynccontextmanager
async def mcp_client(
    url: str, key: str, request_ids: dict[str, str] | None = None
) -> AsyncIterator[Client]:
    """The official client; the ``X-Request-Id`` answered to each ``tools/call`` goes into
    ``request_ids`` under the tool's name (the last call of each tool wins)."""

    async def keep(response: httpx2.Response) -> None:
        if request_ids is None or not response.request.content:
            return
        sent = json.loads(response.request.content)
        if isinstance(sent, dict) and sent.get("method") == "tools/call":
            request_ids[sent["params"]["name"]] = response.headers.get("x-request-id", "")

    async with httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
        event_hooks={"response": [keep]},
    ) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client
