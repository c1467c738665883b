"""Several accounts of one connector per tenant, through the real gateway over HTTP.

Tenants:

- ``multi``: Slack twice (``slack``, the default, and ``slack-eu``) and Shopify twice
  (``shopify-us`` and ``shopify-eu``, different shops; no default, so calls must say);
- ``single``: one Slack connection, which must see the catalog's schemas unchanged;
- ``other``: Slack twice (``slack`` and ``slack-apac``), for isolation.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fastn_gen.gateway.tenancy import hash_api_key
from tests.gateway.fixtures.gateway_process import GatewayProcess
from tests.native.deployment import Upstreams, call_error, call_ok, connect, prepare_generated
from tests.native.deployment import text_of as text
from tests.upstreams.server import RecordedRequest

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "2026-07-28"]
TOKENS = ("MULTI_SLACK", "MULTI_SLACK_EU", "MULTI_SHOP_US", "MULTI_SHOP_EU", "SINGLE_SLACK")
TOKENS += ("OTHER_SLACK", "OTHER_SLACK_APAC")

TENANTS = """\
version: 1
tenants:
  - id: multi
    api_keys: [{id: multi-key, hash: "%(multi)s"}]
    connections:
      - connector: slack
        credentials: {token: "${MULTI_SLACK}"}
      - connector: slack
        name: slack-eu
        credentials: {token: "${MULTI_SLACK_EU}"}
      - connector: shopify
        name: shopify-us
        credentials: {api_key: "${MULTI_SHOP_US}"}
        variables: {shop: us-store}
      - connector: shopify
        name: shopify-eu
        credentials: {api_key: "${MULTI_SHOP_EU}"}
        variables: {shop: eu-store}
  - id: single
    api_keys: [{id: single-key, hash: "%(single)s"}]
    connections:
      - connector: slack
        credentials: {token: "${SINGLE_SLACK}"}
  - id: other
    api_keys: [{id: other-key, hash: "%(other)s"}]
    connections:
      - connector: slack
        credentials: {token: "${OTHER_SLACK}"}
      - connector: slack
        name: slack-apac
        credentials: {token: "${OTHER_SLACK_APAC}"}
"""


class Setup:
    def __init__(self, root: Path) -> None:
        self.upstreams = Upstreams.start()
        self.tokens = {name: f"tok-{name.lower()}-{secrets.token_hex(8)}" for name in TOKENS}
        for name in ("MULTI_SLACK", "MULTI_SLACK_EU", "SINGLE_SLACK", "OTHER_SLACK"):
            self.upstreams.slack.allow_token(self.tokens[name])
        self.upstreams.slack.allow_token(self.tokens["OTHER_SLACK_APAC"])
        self.upstreams.shopify.allow_token(self.tokens["MULTI_SHOP_US"], "us-store")
        self.upstreams.shopify.allow_token(self.tokens["MULTI_SHOP_EU"], "eu-store")
        self.keys = {t: f"{t}-" + secrets.token_urlsafe(24) for t in ("multi", "single", "other")}
        config = root / "tenants.yaml"
        config.write_text(TENANTS % {t: hash_api_key(k) for t, k in self.keys.items()})
        generated = prepare_generated(root, self.upstreams)
        env = {**self.tokens, "FASTN_DATA_DIR": str(root / "data")}
        self.gateway = GatewayProcess(config, generated, root / "gateway.log", env=env)
        try:
            self.gateway.start()
        except BaseException:
            self.upstreams.stop()
            raise

    def stop(self) -> None:
        self.gateway.stop()
        self.upstreams.stop()

    def slack_seen(self) -> list[RecordedRequest]:
        return [r for r in self.upstreams.slack.requests if r.path.endswith("chat.postMessage")]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    found = Setup(tmp_path_factory.mktemp("accounts"))
    try:
        yield found
    finally:
        found.stop()


def _by_name(tools: list[Any]) -> dict[str, Any]:
    return {tool.name: tool for tool in tools}


@pytest.mark.parametrize("mode", ERAS)
async def test_one_tool_per_operation_with_an_account_enum(setup: Setup, mode: str) -> None:
    async with connect(setup.gateway.url, setup.keys["single"], mode) as client:
        single = _by_name((await client.list_tools()).tools)
    async with connect(setup.gateway.url, setup.keys["multi"], mode) as client:
        multi = _by_name((await client.list_tools()).tools)
    # One tool per operation, whatever the number of accounts.
    assert [n for n in multi if n.startswith("slack_")] == [
        "slack_list_channels",
        "slack_send_message",
    ]
    assert len([n for n in multi if n.startswith("shopify_")]) == 1
    plain = single["slack_send_message"].input_schema
    assert "account" not in plain["properties"]
    send = multi["slack_send_message"].input_schema
    account = send["properties"]["account"]
    assert account["type"] == "string" and account["enum"] == ["slack", "slack-eu"]
    assert account["default"] == "slack"
    assert "slack, slack-eu" in account["description"]
    assert send["required"] == plain["required"]  # optional: there is a default
    assert {k: v for k, v in send["properties"].items() if k != "account"} == plain["properties"]
    orders = multi["shopify_list_orders"].input_schema
    assert orders["properties"]["account"]["enum"] == ["shopify-eu", "shopify-us"]
    assert "account" in orders["required"]  # no connection named shopify: no default


async def test_a_tenant_with_one_connection_sees_the_catalogs_schemas(setup: Setup) -> None:
    generated = Path(setup.gateway.args[setup.gateway.args.index("--generated") + 1])
    catalog = json.loads((generated / "manifest.json").read_text())
    expected = {t["name"]: t["input_schema"] for t in catalog["tools"] if t["connector"] == "slack"}
    async with connect(setup.gateway.url, setup.keys["single"]) as client:
        listed = {t.name: t.input_schema for t in (await client.list_tools()).tools}
    assert {n: s for n, s in listed.items() if n.startswith("slack_")} == expected


async def test_the_account_picks_the_connections_credentials(setup: Setup) -> None:
    setup.upstreams.slack.clear()
    async with connect(setup.gateway.url, setup.keys["multi"]) as client:
        await call_ok(client, "slack_send_message", {"channel": "C001", "text": "default"})
        await call_ok(
            client, "slack_send_message", {"channel": "C001", "text": "eu", "account": "slack-eu"}
        )
        await call_ok(
            client, "slack_send_message", {"channel": "C001", "text": "us", "account": "slack"}
        )
    seen = setup.slack_seen()
    assert [(r.params()["text"], r.header("authorization")) for r in seen] == [
        ("default", f"Bearer {setup.tokens['MULTI_SLACK']}"),
        ("eu", f"Bearer {setup.tokens['MULTI_SLACK_EU']}"),
        ("us", f"Bearer {setup.tokens['MULTI_SLACK']}"),
    ]
    for request in seen:
        assert "account" not in request.params()  # consumed by the gateway
        assert setup.keys["multi"] not in json.dumps(request.headers)  # inbound never forwarded


async def test_the_account_picks_the_connections_variables(setup: Setup) -> None:
    setup.upstreams.shopify.clear()
    async with connect(setup.gateway.url, setup.keys["multi"]) as client:
        await call_ok(client, "shopify_list_orders", {"account": "shopify-eu"})
        await call_ok(client, "shopify_list_orders", {"account": "shopify-us", "limit": 1})
        missing = await call_error(client, "shopify_list_orders", {})
    seen = setup.upstreams.shopify.requests
    assert [(r.path.split("/")[1], r.header("x-shopify-access-token")) for r in seen] == [
        ("eu-store", setup.tokens["MULTI_SHOP_EU"]),
        ("us-store", setup.tokens["MULTI_SHOP_US"]),
    ]
    assert text(missing) == (
        "Invalid arguments for shopify_list_orders: account: required, one of: "
        "shopify-eu, shopify-us"
    )


async def test_an_unknown_account_is_refused_before_going_upstream(setup: Setup) -> None:
    setup.upstreams.slack.clear()
    async with connect(setup.gateway.url, setup.keys["multi"]) as client:
        unknown = await call_error(
            client, "slack_send_message", {"channel": "C001", "text": "x", "account": "slack-us"}
        )
        wrong_type = await call_error(
            client, "slack_send_message", {"channel": "C001", "text": "x", "account": 3}
        )
        # Another tenant's connection name is no account of this one.
        theirs = await call_error(
            client, "slack_send_message", {"channel": "C001", "text": "x", "account": "slack-apac"}
        )
    message = (
        "Invalid arguments for slack_send_message: account: must be one of: slack, slack-eu "
        "(default slack)"
    )
    assert text(unknown) == text(theirs) == message
    assert unknown.structured_content == {
        "error": "invalid_arguments",
        "field": "account",
        "accounts": ["slack", "slack-eu"],
    }
    assert text(wrong_type) == message
    assert setup.slack_seen() == []


async def test_one_connection_takes_no_account_argument(setup: Setup) -> None:
    setup.upstreams.slack.clear()
    async with connect(setup.gateway.url, setup.keys["single"]) as client:
        refused = await call_error(
            client, "slack_send_message", {"channel": "C001", "text": "x", "account": "slack"}
        )
    assert text(refused).startswith("Invalid arguments for slack_send_message: account: ")
    assert setup.slack_seen() == []


async def test_events_name_the_connection_and_integrations_list_every_account(
    setup: Setup,
) -> None:
    async with connect(setup.gateway.url, setup.keys["other"]) as client:
        await call_ok(
            client, "slack_send_message", {"channel": "C002", "text": "a", "account": "slack-apac"}
        )
        await call_ok(client, "slack_send_message", {"channel": "C002", "text": "b"})
        await call_error(
            client, "slack_send_message", {"channel": "C002", "text": "c", "account": "nope"}
        )
        history = await call_ok(client, "fastn_get_event_history", {"type": "tool_call"})
        listed = await call_ok(client, "fastn_list_integrations")
        detail = await call_ok(
            client,
            "fastn_get_integration_status",
            {"connector": "slack", "run_health_check": True, "account": "slack-apac"},
        )
        bad_check = await call_error(
            client,
            "fastn_get_integration_status",
            {"connector": "slack", "run_health_check": True, "account": "slack-eu"},
        )
    # Newest first: the refusal (no connection chosen), then the two calls.
    connections = [e["detail"].get("connection") for e in history["events"]]
    assert connections == [None, "slack", "slack-apac"]
    assert history["events"][0]["detail"]["error_kind"] == "invalid_arguments"
    (slack,) = listed["integrations"]
    assert slack["connections"] == ["slack", "slack-apac"]
    assert slack["default_connection"] == "slack"
    assert [c["name"] for c in detail["connection_details"]] == ["slack", "slack-apac"]
    assert detail["health_check_result"]["ok"] is True
    assert "account: no connection 'slack-eu' to slack; one of: slack, slack-apac" == text(
        bad_check
    )
    last = setup.upstreams.slack.requests[-1]
    assert last.path.endswith("conversations.list")
    assert last.header("authorization") == f"Bearer {setup.tokens['OTHER_SLACK_APAC']}"


async def test_tenant_resources_show_each_account(setup: Setup) -> None:
    async with connect(setup.gateway.url, setup.keys["multi"]) as client:
        read = await client.read_resource("fastn://integrations")
    block = read.contents[0]
    doc = json.loads(block.text)  # type: ignore[union-attr]
    by_connector = {i["connector"]: i for i in doc["integrations"]}
    assert by_connector["slack"]["connections"] == ["slack", "slack-eu"]
    assert by_connector["shopify"]["connections"] == ["shopify-eu", "shopify-us"]
    assert by_connector["shopify"]["default_connection"] is None
