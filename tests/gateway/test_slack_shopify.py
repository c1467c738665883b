"""Tenants from a tenants file calling the Slack and Shopify look-alikes end to end."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from fastn_gen.gateway.apikeys import hash_api_key
from fastn_gen.gateway.executor import Executor, ToolOutcome
from fastn_gen.gateway.outcome import ERR_HTTP, ERR_UPSTREAM
from fastn_gen.gateway.tenancy import Tenant, TenantRegistry
from fastn_gen.runtime.operation import ConnectorSpec
from tests.upstreams import ShopifyUpstream, SlackUpstream
from tests.upstreams.shopify import INVALID_TOKEN
from tests.upstreams.specs import SHOPIFY_OPS, SLACK_OPS, shopify_connector, slack_connector

TENANTS = """
version: 1
tenants:
  - id: acme
    api_keys: [{id: acme-key, hash: "%(acme_hash)s"}]
    connections:
      - connector: slack
        credentials: {token: "${ACME_SLACK_TOKEN}"}
      - connector: shopify
        variables: {shop: acme-demo}
        credentials: {api_key: "${ACME_SHOPIFY_TOKEN}"}
  - id: globex
    api_keys: [{id: globex-key, hash: "%(globex_hash)s"}]
    connections:
      - connector: slack
        credentials: {token: "${GLOBEX_SLACK_TOKEN}"}
"""

ENV = {
    "ACME_SLACK_TOKEN": "xoxb-acme-1111",
    "ACME_SHOPIFY_TOKEN": "shpat_acme0000000000000000",
    "GLOBEX_SLACK_TOKEN": "xoxb-globex-2222",
}


@pytest.fixture
def registry(tmp_path: Path) -> TenantRegistry:
    text = TENANTS % {
        "acme_hash": hash_api_key("acme-test-key-123"),
        "globex_hash": hash_api_key("globex-test-key-456"),
    }
    return TenantRegistry.from_text(text, base_dir=tmp_path, environ=ENV)


class Gateway:
    """Just enough of the serving path: authenticate, find the connection, execute."""

    def __init__(self, registry: TenantRegistry, connectors: dict[str, ConnectorSpec]) -> None:
        self.registry = registry
        self.connectors = connectors
        self.operations = {**SLACK_OPS, **SHOPIFY_OPS}

    def call(self, key: str, tool: str, arguments: dict[str, Any]) -> ToolOutcome:
        who = self.registry.authenticate(key)
        assert who is not None
        return asyncio.run(self._call(who, tool, arguments))

    async def _call(self, who: Tenant, tool: str, arguments: dict[str, Any]) -> ToolOutcome:
        operation = self.operations[tool]
        connector = self.connectors[tool.split("_", 1)[0]]
        conn = who.connection_for(connector.name)
        assert conn is not None
        executor = Executor(environ=ENV)
        try:
            return await executor.execute(who, conn, connector, operation, arguments)
        finally:
            await executor.aclose()


@pytest.fixture
def gateway(
    registry: TenantRegistry, slack_upstream: SlackUpstream, shopify_upstream: ShopifyUpstream
) -> Gateway:
    return Gateway(
        registry,
        {
            "slack": slack_connector(slack_upstream.url),
            "shopify": shopify_connector(shopify_upstream.shop_url_template),
        },
    )


ACME = "acme-test-key-123"
GLOBEX = "globex-test-key-456"


def test_post_then_read_history(gateway: Gateway, slack_upstream: SlackUpstream) -> None:
    slack_upstream.allow_token(ENV["ACME_SLACK_TOKEN"])
    posted = gateway.call(ACME, "slack_send_message", {"channel": "C001", "text": "deploy done"})
    assert not posted.is_error, posted.text
    assert posted.structured is not None and posted.structured["channel"] == "C001"
    history = gateway.call(ACME, "slack_channel_history", {"channel": "C001", "limit": 5})
    assert history.structured is not None
    assert [m["text"] for m in history.structured["messages"]] == ["deploy done"]
    post_request = slack_upstream.requests[0]
    assert post_request.path == "/api/chat.postMessage"
    assert post_request.json() == {"channel": "C001", "text": "deploy done"}
    assert post_request.header("authorization") == "Bearer xoxb-acme-1111"


def test_reaction_user_and_auth_calls(gateway: Gateway, slack_upstream: SlackUpstream) -> None:
    slack_upstream.allow_token(ENV["ACME_SLACK_TOKEN"])
    posted = gateway.call(ACME, "slack_send_message", {"channel": "C002", "text": "hi"})
    assert posted.structured is not None
    ts = posted.structured["ts"]
    reacted = gateway.call(
        ACME, "slack_add_reaction", {"channel": "C002", "timestamp": ts, "name": "tada"}
    )
    assert not reacted.is_error, reacted.text
    again = gateway.call(
        ACME, "slack_add_reaction", {"channel": "C002", "timestamp": ts, "name": "tada"}
    )
    assert again.is_error and again.error == ERR_UPSTREAM and "already_reacted" in again.text
    user = gateway.call(ACME, "slack_user_info", {"user": "U002"})
    assert user.structured is not None and user.structured["user"]["name"] == "bob"
    users = gateway.call(ACME, "slack_list_users", {})
    assert users.structured is not None and len(users.structured["members"]) == 2
    me = gateway.call(ACME, "slack_auth_test", {})
    assert me.structured is not None and me.structured["team_id"] == "T0ACME"
    channels = gateway.call(ACME, "slack_list_channels", {"limit": 1})
    assert channels.structured is not None
    assert [c["name"] for c in channels.structured["channels"]] == ["general"]


def test_each_tenant_uses_its_own_token(gateway: Gateway, slack_upstream: SlackUpstream) -> None:
    slack_upstream.allow_token(ENV["ACME_SLACK_TOKEN"])  # globex's token is not valid
    ok = gateway.call(ACME, "slack_list_channels", {})
    refused = gateway.call(GLOBEX, "slack_list_channels", {})
    assert not ok.is_error
    assert refused.is_error and refused.error == ERR_UPSTREAM
    assert refused.text == "Upstream error from slack (conversations.list): ok=false: invalid_auth"
    assert [r.header("authorization") for r in slack_upstream.requests] == [
        "Bearer xoxb-acme-1111",
        "Bearer xoxb-globex-2222",
    ]


def test_slack_rate_limit(gateway: Gateway, slack_upstream: SlackUpstream) -> None:
    slack_upstream.allow_token(ENV["ACME_SLACK_TOKEN"])
    slack_upstream.rate_limit_remaining = 1
    limited = gateway.call(ACME, "slack_list_users", {})
    assert limited.is_error and limited.upstream_status == 429
    assert "retry after 30 s" in limited.text
    assert not gateway.call(ACME, "slack_list_users", {}).is_error


def test_shopify_orders_for_the_connections_shop(
    gateway: Gateway, shopify_upstream: ShopifyUpstream
) -> None:
    shopify_upstream.allow_token(ENV["ACME_SHOPIFY_TOKEN"], shop="acme-demo")
    orders = gateway.call(ACME, "shopify_list_orders", {"status": "any", "limit": 10})
    assert not orders.is_error, orders.text
    assert orders.structured is not None
    assert [o["name"] for o in orders.structured["orders"]] == ["#1001", "#1002"]
    (sent,) = shopify_upstream.requests
    assert sent.path == "/acme-demo/admin/api/2024-10/orders.json"
    assert sent.query == [("status", "any"), ("limit", "10")]
    assert sent.header("x-shopify-access-token") == ENV["ACME_SHOPIFY_TOKEN"]
    assert sent.header("authorization") is None
    shop = gateway.call(ACME, "shopify_get_shop", {})
    assert shop.structured is not None
    assert shop.structured["shop"]["myshopify_domain"] == "acme-demo.myshopify.com"


def test_shopify_errors(gateway: Gateway, shopify_upstream: ShopifyUpstream) -> None:
    missing = gateway.call(ACME, "shopify_get_order", {"order_id": 1})
    assert missing.is_error and missing.upstream_status == 401
    assert missing.text == (
        f"Upstream error: HTTP 401 Unauthorized from shopify (getOrder): {INVALID_TOKEN}"
    )
    assert ENV["ACME_SHOPIFY_TOKEN"] not in missing.text

    shopify_upstream.allow_token(ENV["ACME_SHOPIFY_TOKEN"], shop="acme-demo")
    not_found = gateway.call(ACME, "shopify_get_order", {"order_id": 999})
    assert not_found.error == ERR_HTTP
    assert not_found.text.endswith("HTTP 404 Not Found from shopify (getOrder): Not Found")
    invalid = gateway.call(ACME, "shopify_create_customer", {"customer": {"email": "not-an-email"}})
    assert invalid.upstream_status == 422
    assert invalid.text.endswith("(createCustomer): email: is invalid")
    created = gateway.call(
        ACME, "shopify_create_customer", {"customer": {"email": "dee@example.com"}}
    )
    assert created.upstream_status == 201 and not created.is_error
    found = gateway.call(ACME, "shopify_search_customers", {"query": "email:dee@example.com"})
    assert found.structured is not None
    assert [c["email"] for c in found.structured["customers"]] == ["dee@example.com"]


def test_shopify_order_id_traversal_stays_in_the_order_route(
    gateway: Gateway, shopify_upstream: ShopifyUpstream
) -> None:
    shopify_upstream.allow_token(ENV["ACME_SHOPIFY_TOKEN"], shop="acme-demo")
    outcome = gateway.call(ACME, "shopify_get_order", {"order_id": "../../shop"})
    assert outcome.upstream_status == 404
    (sent,) = shopify_upstream.requests
    assert sent.raw_path == "/acme-demo/admin/api/2024-10/orders/..%2F..%2Fshop.json"


def test_token_for_another_shop_is_refused(
    gateway: Gateway, shopify_upstream: ShopifyUpstream
) -> None:
    shopify_upstream.allow_token(ENV["ACME_SHOPIFY_TOKEN"], shop="someone-else")
    outcome = gateway.call(ACME, "shopify_list_orders", {})
    assert outcome.is_error and outcome.upstream_status == 401


def test_globex_has_no_shopify(registry: TenantRegistry) -> None:
    globex = registry.authenticate(GLOBEX)
    assert globex is not None
    assert globex.connected_connectors() == ["slack"]
    assert globex.connection_for("shopify") is None
