"""A gateway subprocess with a store, loopback upstreams and tenants for native-tool tests.

Tenants (each test works with its own, so tests do not depend on each other's calls):

- ``acme``: Slack and Shopify, plan ``pro``, a generated ``fgk_`` key;
- ``globex``: Slack, plan ``pro``;
- ``flaky``: Slack, for failures (HTTP 500 and timeouts);
- ``metered``: Slack and Shopify, plan ``metered`` (3 calls a month, Shopify 1);
- ``bursty``: Slack, plan ``bursty`` (2 requests a minute);
- ``expired``: Slack and Shopify with credentials the upstreams refuse;
- ``ops``: Slack and Shopify, plan ``ops`` (10 calls a month, Shopify 1), for the examples.

The Slack connector declares ``slack_list_channels`` as its health check here.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from fastn_gen.gateway.tenancy import generate_api_key, hash_api_key
from tests.gateway.fixtures.gateway_process import GatewayProcess, generated_dir
from tests.upstreams import ShopifyUpstream
from tests.upstreams.faulty import FaultySlack

UPSTREAM_TIMEOUT_S = 1.0
TENANTS = ("acme", "globex", "flaky", "metered", "bursty", "expired", "ops")
SHOPS = {
    "acme": "acme-store",
    "metered": "metered-store",
    "expired": "expired-store",
    "ops": "ops-store",
}


@dataclass
class Upstreams:
    slack: FaultySlack
    shopify: ShopifyUpstream
    tokens: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls) -> Upstreams:
        slack = FaultySlack(slow_s=UPSTREAM_TIMEOUT_S * 3)
        shopify = ShopifyUpstream()
        slack.start()
        shopify.start()
        ups = cls(slack, shopify)
        for tenant in TENANTS:
            ups.tokens[f"{tenant.upper()}_SLACK_TOKEN"] = f"xoxb-{tenant}-{secrets.token_hex(8)}"
            if tenant != "expired":
                slack.allow_token(ups.tokens[f"{tenant.upper()}_SLACK_TOKEN"])
        for tenant, shop in SHOPS.items():
            ups.tokens[f"{tenant.upper()}_SHOPIFY_TOKEN"] = f"shpat_{secrets.token_hex(16)}"
            if tenant != "expired":
                shopify.allow_token(ups.tokens[f"{tenant.upper()}_SHOPIFY_TOKEN"], shop)
        return ups

    def stop(self) -> None:
        self.slack.stop()
        self.shopify.stop()


def _connections(tenant: str) -> str:
    lines = [
        "      - connector: slack",
        f'        credentials: {{token: "${{{tenant.upper()}_SLACK_TOKEN}}"}}',
    ]
    if tenant in SHOPS:
        lines += [
            "      - connector: shopify",
            f'        credentials: {{api_key: "${{{tenant.upper()}_SHOPIFY_TOKEN}}"}}',
            f"        variables: {{shop: {SHOPS[tenant]}}}",
        ]
    return "\n".join(lines)


PLANS = """\
plans:
  pro: {tool_calls_per_month: 1000, requests_per_minute: 600}
  metered:
    tool_calls_per_month: 3
    per_connector:
      shopify: {tool_calls_per_month: 1}
  bursty: {requests_per_minute: 2}
  ops:
    tool_calls_per_month: 10
    per_connector:
      shopify: {tool_calls_per_month: 1}
"""
PLAN_OF = {"metered": "metered", "bursty": "bursty", "ops": "ops"}


def write_tenants(path: Path) -> dict[str, str]:
    """The tenants file; returns each tenant's gateway API key."""
    keys: dict[str, str] = {}
    blocks = []
    for tenant in TENANTS:
        if tenant == "acme":
            key, line = generate_api_key("acme")
            key_line = line
        else:
            key = f"{tenant}-" + secrets.token_urlsafe(32)
            key_line = f'- {{id: {tenant}-key, hash: "{hash_api_key(key)}"}}'
        keys[tenant] = key
        blocks.append(
            f"  - id: {tenant}\n"
            f"    plan: {PLAN_OF.get(tenant, 'pro')}\n"
            f"    api_keys:\n      {key_line}\n"
            f"    connections:\n{_connections(tenant)}\n"
        )
    path.write_text("version: 1\n" + PLANS + "tenants:\n" + "".join(blocks), encoding="utf-8")
    return keys


def prepare_generated(root: Path, upstreams: Upstreams) -> Path:
    generated = generated_dir(
        root / "generated",
        slack_base=upstreams.slack.url,
        shopify_base=upstreams.shopify.shop_url_template,
    )
    slack = generated / "connectors" / "slack.py"
    text = slack.read_text(encoding="utf-8")
    assert "health_check=None," in text
    slack.write_text(
        text.replace("health_check=None,", 'health_check="slack_list_channels",'),
        encoding="utf-8",
    )
    return generated


@dataclass
class Deployment:
    root: Path
    upstreams: Upstreams
    keys: dict[str, str]
    config: Path
    generated: Path
    gateway: GatewayProcess

    @classmethod
    def start(
        cls, root: Path, extra: Sequence[str] = (), data_dir: Path | None = None
    ) -> Deployment:
        upstreams = Upstreams.start()
        config = root / "tenants.yaml"
        keys = write_tenants(config)
        generated = prepare_generated(root, upstreams)
        env = dict(upstreams.tokens)
        env["FASTN_DATA_DIR"] = str(data_dir or root / "data")
        gateway = GatewayProcess(
            config,
            generated,
            root / "gateway.log",
            env=env,
            extra=["--upstream-timeout", str(UPSTREAM_TIMEOUT_S), *extra],
        )
        try:
            gateway.start()
        except BaseException:
            upstreams.stop()
            raise
        return cls(root, upstreams, keys, config, generated, gateway)

    def restart(self) -> None:
        self.gateway.stop()
        self.gateway.start()

    def stop(self) -> None:
        self.gateway.stop()
        self.upstreams.stop()


@asynccontextmanager
async def connect(url: str, key: str, mode: str = "auto") -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:  # type: ignore[arg-type]
            yield client


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def call_ok(
    client: Client, name: str, arguments: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Structured content of a call that must succeed."""
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
