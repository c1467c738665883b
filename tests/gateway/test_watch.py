"""Live reload: ``serve --watch`` and SIGHUP, against a real gateway subprocess.

Each test starts its own gateway on a copy of ``tenants.example.yaml`` and of the
``generated_min`` fixture, pointed at loopback Slack and Shopify upstreams, edits the
files while it serves, and checks with the official client what every tenant sees:
who is told the tool list changed, what is listed and callable, which keys still work.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ToolsListChanged
from mcp.shared.exceptions import MCPError

from fastn_gen.native.registry import NATIVE_TOOLS
from fastn_gen.observability.metrics import series
from tests.gateway.fixtures.gateway_process import REPO_ROOT, GatewayProcess, generated_dir
from tests.upstreams import ShopifyUpstream, SlackUpstream

pytestmark = pytest.mark.anyio

EXAMPLE = REPO_ROOT / "tenants.example.yaml"
ACME_KEY = "demo-acme-key"
GLOBEX_KEY = "demo-globex-key"
ACME_SHOP = "acme-demo"
GLOBEX_SHOP = "globex-shop"
MODERN = "2026-07-28"
NATIVE = [tool.name for tool in NATIVE_TOOLS]
SLACK_TOOLS = ["slack_list_channels", "slack_send_message"]
# Seconds between polls; a change is applied after two polls at most, then a reload.
INTERVAL = 0.2
RELOAD_BOUND_S = 10.0
# How long a wrong delivery would take to arrive, at most.
QUIET_S = 0.7

GLOBEX_SLACK = """    connections:
      - connector: slack
        credentials:
          token: ${GLOBEX_SLACK_TOKEN}"""
GLOBEX_SHOPIFY = (
    GLOBEX_SLACK
    + """
      - connector: shopify
        variables:
          shop: globex-shop
        credentials:
          api_key: ${GLOBEX_SHOPIFY_TOKEN}"""
)


@dataclass
class Upstreams:
    slack: SlackUpstream
    shopify: ShopifyUpstream
    env: dict[str, str]


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    env = {
        name: "tok-" + secrets.token_hex(12)
        for name in (
            "ACME_SLACK_TOKEN",
            "ACME_SHOPIFY_TOKEN",
            "GLOBEX_SLACK_TOKEN",
            "GLOBEX_SHOPIFY_TOKEN",
        )
    }
    slack, shopify = SlackUpstream(), ShopifyUpstream()
    slack.allow_token(env["ACME_SLACK_TOKEN"], env["GLOBEX_SLACK_TOKEN"])
    shopify.allow_token(env["ACME_SHOPIFY_TOKEN"], ACME_SHOP)
    shopify.allow_token(env["GLOBEX_SHOPIFY_TOKEN"], GLOBEX_SHOP)
    slack.start()
    shopify.start()
    try:
        yield Upstreams(slack, shopify, env)
    finally:
        slack.stop()
        shopify.stop()


@dataclass
class Served:
    gateway: GatewayProcess
    config: Path
    generated: Path
    upstreams: Upstreams

    def edit(self, old: str, new: str) -> None:
        text = self.config.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in the tenants file"
        self.config.write_text(text.replace(old, new, 1), encoding="utf-8")

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.gateway.base}/healthz", timeout=5) as response:
            body: dict[str, Any] = json.loads(response.read())
        return body

    def reloads(self, outcome: str) -> int:
        return int(self.health()["config"]["reloads"].get(outcome, 0))

    async def until_reloads(self, outcome: str, count: int) -> None:
        """Wait until ``count`` reloads ended with ``outcome``."""
        deadline = time.monotonic() + RELOAD_BOUND_S
        while self.reloads(outcome) < count:
            assert time.monotonic() < deadline, f"no {outcome} reload:\n{self.gateway.log()}"
            await asyncio.sleep(0.05)
        assert self.reloads(outcome) == count


@pytest.fixture
def start(tmp_path: Path, upstreams: Upstreams) -> Iterator[Any]:
    started: list[GatewayProcess] = []

    def run(*, watch: bool = True) -> Served:
        config = tmp_path / "tenants.yaml"
        config.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
        generated = generated_dir(
            tmp_path / "generated",
            slack_base=upstreams.slack.url,
            shopify_base=upstreams.shopify.shop_url_template,
        )
        env = {**upstreams.env, "FASTN_WATCH_INTERVAL": str(INTERVAL)}
        extra = ["--watch"] if watch else []
        gateway = GatewayProcess(config, generated, tmp_path / "gateway.log", env=env, extra=extra)
        started.append(gateway)
        gateway.start()
        return Served(gateway, config, generated, upstreams)

    yield run
    for gateway in started:
        gateway.stop()


@asynccontextmanager
async def connect(url: str, key: str, mode: str = MODERN) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            yield client


@asynccontextmanager
async def listening(url: str, key: str) -> AsyncIterator[list[object]]:
    """Events heard by a client of ``key`` subscribed to tools/list_changed."""
    heard: list[object] = []
    ready = asyncio.Event()

    async def listen() -> None:
        async with connect(url, key) as client:
            async with client.listen(tools_list_changed=True) as subscription:
                ready.set()
                async for event in subscription:
                    heard.append(event)

    task = asyncio.get_running_loop().create_task(listen())
    try:
        await asyncio.wait_for(asyncio.shield(ready.wait()), 10)
        yield heard
    finally:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass


async def until_heard(heard: list[object]) -> None:
    deadline = time.monotonic() + RELOAD_BOUND_S
    while not heard:
        assert time.monotonic() < deadline, "no tools/list_changed"
        await asyncio.sleep(0.05)


async def tool_names(url: str, key: str, mode: str = MODERN) -> list[str]:
    async with connect(url, key, mode) as client:
        return [tool.name for tool in (await client.list_tools()).tools]


async def call(url: str, key: str, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
    async with connect(url, key) as client:
        return await client.call_tool(name, arguments)


def status(url: str, key: str) -> int:
    """The HTTP status of a tools/list sent with ``key``."""
    response = httpx2.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers={"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream"},
        timeout=10,
    )
    return response.status_code


def assert_no_credentials(served: Served) -> None:
    log = served.gateway.log()
    for value in served.upstreams.env.values():
        assert value not in log


# -- (a) an edit that connects Shopify for globex ---------------------------------------


async def test_an_added_connection_is_announced_to_its_tenant_only(start: Any) -> None:
    served = start()
    url = served.gateway.url
    assert await tool_names(url, GLOBEX_KEY) == [*NATIVE, *SLACK_TOOLS]
    async with listening(url, GLOBEX_KEY) as globex, listening(url, ACME_KEY) as acme:
        served.edit(GLOBEX_SLACK, GLOBEX_SHOPIFY)
        await until_heard(globex)
        await asyncio.sleep(QUIET_S)
    assert globex == [ToolsListChanged()]
    assert acme == []
    assert await tool_names(url, GLOBEX_KEY) == [*NATIVE, "shopify_list_orders", *SLACK_TOOLS]
    # A 2025-11-25 client is served statelessly, without a stream to be told on; its
    # next list has the change.
    listed = await tool_names(url, GLOBEX_KEY, mode="legacy")
    assert listed == [*NATIVE, "shopify_list_orders", *SLACK_TOOLS]
    # The new connection calls the upstream with globex's own credentials and shop.
    result = await call(url, GLOBEX_KEY, "shopify_list_orders", {"status": "any"})
    assert not result.is_error, result
    request = served.upstreams.shopify.requests[-1]
    assert request.path.startswith(f"/{GLOBEX_SHOP}/")
    token = served.upstreams.env["GLOBEX_SHOPIFY_TOKEN"]
    assert request.header("x-shopify-access-token") == token
    health = served.health()
    assert health["config"]["generation"] == 1
    assert health["config"]["last_reload"]["outcome"] == "applied"
    # The reload recorded the new connection as a connection_change of globex.
    deadline = time.monotonic() + RELOAD_BOUND_S
    while True:
        history = await call(
            url, GLOBEX_KEY, "fastn_get_event_history", {"type": "connection_change"}
        )
        events = (history.structured_content or {}).get("events", [])
        added = [e["connector"] for e in events if e["detail"].get("change") == "added"]
        if "shopify" in added or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    # Newest first: Shopify by the reload, Slack by the first start.
    assert added == ["shopify", "slack"], events
    log = served.gateway.log()
    assert re.search(r"reload \(watch\) applied as generation 1: 2 tenants \(\+0 -0\)", log)
    assert_no_credentials(served)


# -- (b) broken edits are refused, the old configuration keeps serving ------------------


BROKEN_EDITS = [
    # YAML syntax: an unclosed flow mapping.
    (GLOBEX_SLACK, GLOBEX_SLACK + "\n      - {connector: shopify", "line "),
    # A connector the catalog does not have.
    ("      - connector: slack\n        credentials:\n          token: ${GLOBEX",
     "      - connector: slak\n        credentials:\n          token: ${GLOBEX",
     "/tenants/1/connections/0/connector"),
    # Shopify without its credential field.
    (GLOBEX_SLACK, GLOBEX_SHOPIFY.replace("api_key:", "token:"),
     "/tenants/1/connections/1/credentials"),
]  # fmt: skip


async def test_a_broken_edit_is_refused_and_a_fixed_one_applied(start: Any) -> None:
    served = start()
    url = served.gateway.url
    pristine = served.config.read_text(encoding="utf-8")
    for count, (old, new, location) in enumerate(BROKEN_EDITS, start=1):
        served.config.write_text(pristine, encoding="utf-8")
        served.edit(old, new)
        await served.until_reloads("refused", count)
        refusal = served.gateway.log().rsplit("reload (watch) refused", 1)[-1]
        assert str(served.config) in refusal and location in refusal, refusal
        # Still generation 0: globex lists and calls what it had.
        assert served.health()["config"]["generation"] == 0
        assert await tool_names(url, GLOBEX_KEY) == [*NATIVE, *SLACK_TOOLS]
        result = await call(url, GLOBEX_KEY, "slack_list_channels", {})
        assert not result.is_error, result
        assert "general" in str(result.content)
    served.config.write_text(pristine, encoding="utf-8")
    served.edit(GLOBEX_SLACK, GLOBEX_SHOPIFY)
    await served.until_reloads("applied", 1)
    assert served.health()["config"]["generation"] == 1
    assert await tool_names(url, GLOBEX_KEY) == [*NATIVE, "shopify_list_orders", *SLACK_TOOLS]
    assert_no_credentials(served)
    with urllib.request.urlopen(f"{served.gateway.base}/metrics", timeout=5) as response:
        exposition = response.read().decode()
    reloads = {
        labels["outcome"]: value
        for labels, value in series(exposition, "fastn_config_reloads_total")
    }
    assert reloads == {"applied": 1.0, "refused": float(len(BROKEN_EDITS))}


# -- (c) SIGHUP ---------------------------------------------------------------------------


async def test_sighup_reloads_without_watch(start: Any) -> None:
    served = start(watch=False)
    url = served.gateway.url
    served.edit(GLOBEX_SLACK, GLOBEX_SHOPIFY)
    await asyncio.sleep(4 * INTERVAL + 0.5)
    # Without --watch nothing is polled.
    assert served.health()["config"]["generation"] == 0
    assert await tool_names(url, GLOBEX_KEY) == [*NATIVE, *SLACK_TOOLS]
    async with listening(url, GLOBEX_KEY) as globex:
        assert served.gateway.proc is not None
        served.gateway.proc.send_signal(signal.SIGHUP)
        await served.until_reloads("applied", 1)
        await until_heard(globex)
    assert served.gateway.proc.poll() is None
    assert await tool_names(url, GLOBEX_KEY) == [*NATIVE, "shopify_list_orders", *SLACK_TOOLS]
    assert "reload (SIGHUP) applied as generation 1" in served.gateway.log()


# -- (d) a rebuilt generated/ ------------------------------------------------------------


PRODUCTS_TOOL = {
    "name": "shopify_list_products",
    "connector": "shopify",
    "operation_id": "listProducts",
    "title": "List products",
    "description": "Retrieve a list of products.",
    "method": "GET",
    "path": "/products.json",
    "tags": ["products"],
    "annotations": {
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": True,
        "openWorldHint": True,
    },
    "input_schema": {
        "type": "object",
        "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 250}},
        "additionalProperties": False,
    },
}
PRODUCTS_OPERATION = """    "shopify_list_products": Operation(
        "shopify_list_products",
        "listProducts",
        "GET",
        "/products.json",
        (ParamSpec("limit", "limit", "query", False),),
        None,
        read_only=True,
        destructive=False,
        idempotent=True,
        requires_auth=True,
    ),
}
"""
PRODUCTS_MODEL = """

def _shopify_list_products_input() -> type[ToolInput]:
    class ShopifyListProductsInput(ToolInput):
        limit: Annotated[int | None, Field(ge=1, le=250)] = None

    return ShopifyListProductsInput


INPUT_MODELS = LazyModels(
    {
        "shopify_list_products": _shopify_list_products_input,"""


def write_replacing(path: Path, text: str) -> None:
    """As a build writes: a new file renamed over the old one."""
    staged = path.with_name(path.name + ".tmp")
    staged.write_text(text, encoding="utf-8")
    os.replace(staged, path)


def add_products_tool(generated: Path) -> None:
    module = generated / "connectors" / "shopify.py"
    text = module.read_text(encoding="utf-8")
    text = text.replace("    ),\n}\n", "    ),\n" + PRODUCTS_OPERATION, 1)
    text = text.replace("\n\nINPUT_MODELS = LazyModels(\n    {", PRODUCTS_MODEL, 1)
    write_replacing(module, text)
    manifest_path = generated / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["tools"].append(PRODUCTS_TOOL)
    for connector in manifest["connectors"]:
        if connector["name"] == "shopify":
            connector["tool_count"] += 1
    write_replacing(manifest_path, json.dumps(manifest, indent=2))


async def test_a_rebuilt_generated_directory_is_served_and_announced(start: Any) -> None:
    served = start()
    url = served.gateway.url
    async with listening(url, GLOBEX_KEY) as globex, listening(url, ACME_KEY) as acme:
        # Corrupt first: refused, the old catalog keeps serving.
        manifest = served.generated / "manifest.json"
        good = manifest.read_text(encoding="utf-8")
        write_replacing(manifest, good[: len(good) // 2])
        await served.until_reloads("refused", 1)
        assert "manifest.json: not valid JSON" in served.gateway.log()
        write_replacing(manifest, good)
        add_products_tool(served.generated)
        await until_heard(acme)
        await asyncio.sleep(QUIET_S)
    # Only acme has Shopify: globex's tool list did not change.
    assert acme == [ToolsListChanged()]
    assert globex == []
    assert await tool_names(url, ACME_KEY) == [
        *NATIVE,
        "shopify_list_orders",
        "shopify_list_products",
        *SLACK_TOOLS,
    ]
    result = await call(url, ACME_KEY, "shopify_list_products", {"limit": 1})
    assert not result.is_error, result
    assert "IPod" in str(result.content)
    assert served.upstreams.shopify.requests[-1].path.startswith(f"/{ACME_SHOP}/")
    async with connect(url, GLOBEX_KEY) as client:
        with pytest.raises(MCPError, match="Unknown tool: shopify_list_products"):
            await client.call_tool("shopify_list_products", {})
    health = served.health()
    assert health["tools"] == 4  # connector tools: 3 before the rebuild
    assert "connectors changed: shopify" in served.gateway.log()


# -- (e) removed keys and tenants ----------------------------------------------------------


async def test_a_removed_key_and_tenant_are_refused_after_reload(start: Any) -> None:
    from fastn_gen.gateway.tenancy import generate_api_key

    served = start()
    url = served.gateway.url
    assert status(url, ACME_KEY) == 200
    assert status(url, GLOBEX_KEY) == 200
    new_key, new_line = generate_api_key("acme")
    text = served.config.read_text(encoding="utf-8")
    # acme's published key replaced by a new one; globex removed.
    acme_keys = re.search(r"    api_keys:\n      # demo-acme-key\n(?:      .*\n)+?(?=    co)", text)
    assert acme_keys is not None
    text = text.replace(acme_keys.group(0), f"    api_keys:\n      {new_line}\n")
    text = text[: text.index("  - id: globex")]
    async with listening(url, GLOBEX_KEY) as globex:
        served.config.write_text(text, encoding="utf-8")
        await served.until_reloads("applied", 1)
        await until_heard(globex)
    assert globex == [ToolsListChanged()]
    assert status(url, ACME_KEY) == 401
    assert status(url, GLOBEX_KEY) == 401
    assert status(url, new_key) == 200
    result = await call(url, new_key, "slack_list_channels", {})
    assert not result.is_error, result
    assert served.health()["tenants"] == 1
    assert "1 tenants (+0 -1)" in served.gateway.log()
    assert new_key not in served.gateway.log()
