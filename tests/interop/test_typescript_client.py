"""The official TypeScript MCP SDK client against the gateway running as a real process.

``ts_client.mjs`` (Client + StreamableHTTPClientTransport, on the pinned Node 22) does
the initialize handshake, ``tools/list`` and one ``tools/call`` with a tenant's API
key; the calls go through the gateway to the loopback Slack and Shopify upstreams.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fastn_gen.gateway.tenancy import generate_api_key, hash_api_key
from tests.gateway.fixtures.gateway_process import GatewayProcess, generated_dir
from tests.interop.node_env import INTEROP, ensure_node_modules
from tests.upstreams import RecordedRequest, ShopifyUpstream, SlackUpstream

TS_CLIENT = INTEROP / "ts_client.mjs"
ACME_SHOP = "acme-store"
SLACK_TOOLS = {"slack_list_channels", "slack_send_message"}
SHOPIFY_TOOLS = {"shopify_list_orders"}
INVALID_PARAMS = -32602


@dataclass(frozen=True)
class Deployment:
    gateway: GatewayProcess
    slack: SlackUpstream
    shopify: ShopifyUpstream
    keys: dict[str, str]
    tokens: dict[str, str]

    def upstream_requests(self) -> list[RecordedRequest]:
        return self.slack.requests + self.shopify.requests


def write_tenants(path: Path) -> dict[str, str]:
    """acme: Slack and Shopify with a generated key; globex: Slack only, plain key."""
    acme_key, acme_line = generate_api_key("acme")
    globex_key = "globex-" + secrets.token_urlsafe(32)
    path.write_text(
        f"""version: 1
tenants:
  - id: acme
    api_keys:
      {acme_line}
    connections:
      - connector: slack
        credentials: {{token: "${{ACME_SLACK_TOKEN}}"}}
      - connector: shopify
        credentials: {{api_key: "${{ACME_SHOPIFY_TOKEN}}"}}
        variables: {{shop: {ACME_SHOP}}}
  - id: globex
    api_keys:
      - {{id: globex-main, hash: "{hash_api_key(globex_key)}"}}
    connections:
      - connector: slack
        credentials: {{token: "${{GLOBEX_SLACK_TOKEN}}"}}
""",
        encoding="utf-8",
    )
    return {"acme": acme_key, "globex": globex_key}


@pytest.fixture(scope="module")
def node() -> Path:
    # Installs the pinned packages on a fresh clone; fails (never skips) without npm.
    return ensure_node_modules()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("interop")
    tokens = {
        "ACME_SLACK_TOKEN": "xoxb-acme-" + secrets.token_hex(8),
        "ACME_SHOPIFY_TOKEN": "shpat_acme_" + secrets.token_hex(8),
        "GLOBEX_SLACK_TOKEN": "xoxb-globex-" + secrets.token_hex(8),
    }
    slack, shopify = SlackUpstream(), ShopifyUpstream()
    slack.start()
    shopify.start()
    slack.allow_token(tokens["ACME_SLACK_TOKEN"], tokens["GLOBEX_SLACK_TOKEN"])
    shopify.allow_token(tokens["ACME_SHOPIFY_TOKEN"], ACME_SHOP)
    generated = generated_dir(
        root / "generated", slack_base=slack.url, shopify_base=shopify.shop_url_template
    )
    keys = write_tenants(root / "tenants.yaml")
    # Output schemas listed (off by default), so callTool checks structuredContent.
    gateway = GatewayProcess(
        root / "tenants.yaml",
        generated,
        root / "gateway.log",
        env=tokens,
        extra=["--list-output-schemas"],
    )
    try:
        gateway.start()
        yield Deployment(gateway, slack, shopify, keys, tokens)
    finally:
        gateway.stop()
        slack.stop()
        shopify.stop()


@pytest.fixture
def dep(deployment: Deployment) -> Deployment:
    deployment.slack.clear()
    deployment.shopify.clear()
    return deployment


def ts_client(
    node: Path, url: str, key: str | None, call: str | None = None, **arguments: Any
) -> tuple[int, dict[str, Any]]:
    """Run ``ts_client.mjs``; its exit status and the JSON report it printed."""
    argv = [str(node), str(TS_CLIENT), "--url", url]
    if key is not None:
        argv += ["--key", key]
    if call is not None:
        argv += ["--call", call, "--arguments", json.dumps(arguments)]
    done = subprocess.run(
        argv, cwd=INTEROP, capture_output=True, text=True, timeout=60, check=False
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"no report from the TypeScript client (exit {done.returncode}):\n{done.stderr}"
    return done.returncode, json.loads(lines[-1])


def connector_tools(report: dict[str, Any]) -> set[str]:
    """The listed tools that come from the Slack and Shopify connectors."""
    names = {tool["name"] for tool in report["tools"]}
    return {name for name in names if name.startswith(("slack_", "shopify_"))}


def assert_handshake(report: dict[str, Any]) -> None:
    assert "error" not in report, report
    assert report["protocolVersion"] == "2025-11-25"
    assert report["serverInfo"]["name"] == "fastn-gen"
    assert "tools" in report["capabilities"]


def test_acme_lists_its_tools_and_calls_slack_with_its_own_token(
    node: Path, dep: Deployment
) -> None:
    status, report = ts_client(
        node, dep.gateway.url, dep.keys["acme"], "slack_send_message", channel="C001", text="hi"
    )
    assert status == 0, report
    assert_handshake(report)
    assert connector_tools(report) == SLACK_TOOLS | SHOPIFY_TOOLS
    send = next(t for t in report["tools"] if t["name"] == "slack_send_message")
    assert send["inputSchema"]["required"] == ["channel", "text"]
    assert "outputSchema" in send

    call = report["call"]
    assert call.get("isError") is not True, call
    assert call["structuredContent"]["channel"] == "C001"
    assert call["structuredContent"]["message"]["text"] == "hi"
    assert call["content"][0]["type"] == "text"

    (post,) = dep.slack.requests
    assert post.path == "/api/chat.postMessage"
    assert post.header("authorization") == f"Bearer {dep.tokens['ACME_SLACK_TOKEN']}"
    assert post.json() == {"channel": "C001", "text": "hi"}
    assert dep.keys["acme"] not in json.dumps(post.headers)


def test_globex_lists_only_slack_tools_and_calls_with_its_own_token(
    node: Path, dep: Deployment
) -> None:
    status, report = ts_client(node, dep.gateway.url, dep.keys["globex"], "slack_list_channels")
    assert status == 0, report
    assert_handshake(report)
    assert connector_tools(report) == SLACK_TOOLS

    call = report["call"]
    assert call.get("isError") is not True, call
    assert [c["name"] for c in call["structuredContent"]["channels"]] == ["general", "random"]
    (listing,) = dep.slack.requests
    assert listing.header("authorization") == f"Bearer {dep.tokens['GLOBEX_SLACK_TOKEN']}"
    assert dep.shopify.requests == []


def test_a_tool_of_another_tenants_connector_is_unknown(node: Path, dep: Deployment) -> None:
    status, report = ts_client(node, dep.gateway.url, dep.keys["globex"], "shopify_list_orders")
    assert status == 1
    assert report["error"]["code"] == INVALID_PARAMS
    assert "Unknown tool: shopify_list_orders" in report["error"]["message"]
    assert dep.upstream_requests() == []


@pytest.mark.parametrize("key", ["fgk_not-a-key", None], ids=["unknown", "missing"])
def test_an_unknown_or_missing_key_is_refused_with_401(
    node: Path, dep: Deployment, key: str | None
) -> None:
    status, report = ts_client(node, dep.gateway.url, key, "slack_list_channels")
    assert status == 1
    assert report["error"]["name"] == "StreamableHTTPError"
    assert report["error"]["code"] == 401
    assert "unauthorized" in report["error"]["message"]
    assert dep.upstream_requests() == []


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_methods_other_than_post_are_refused_at_once(dep: Deployment, method: str) -> None:
    # The TypeScript client opens a GET stream after the handshake and takes 405 as
    # "no server-initiated messages"; a stateless gateway has none to send, so an
    # accepted stream would only sit open until the client goes away.
    request = urllib.request.Request(
        dep.gateway.url,
        method=method,
        headers={
            "Authorization": f"Bearer {dep.keys['acme']}",
            "Accept": "text/event-stream",
            "MCP-Protocol-Version": "2025-11-25",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405
    assert refused.value.headers["Allow"] == "POST"
