"""``tools/list`` from cached bytes in SSE response mode (``json_response=False``).

The served gateway answers plain JSON; the app can also answer in SSE frames, where the
list travels inside an ``event: message`` frame. Two apps (cached bytes, SDK only) are
served by uvicorn on loopback and their answers compared, for both protocol eras, with
raw HTTP and with the official client.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from fastn_gen.gateway.app import HttpOptions, create_app
from fastn_gen.gateway.catalog import Catalog
from fastn_gen.gateway.executor import Executor
from fastn_gen.gateway.tenancy import TenantRegistry
from tests.gateway.fixtures.gateway_process import generated_dir
from tests.gateway.fixtures.tenants_setup import TenantKeys, upstream_tokens, write_tenants
from tests.gateway.test_tool_list_bytes import ERAS, LEGACY, comparable_headers, raw_list

pytestmark = pytest.mark.anyio


class Served:
    """The app ``make(port)`` builds, served by uvicorn in a thread on a free port."""

    def __init__(self, make: Callable[[int], Any]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{port}/mcp"
        config = uvicorn.Config(make(port), log_config=None, lifespan="on", log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


@pytest.fixture(scope="module")
def sse_apps(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Served, Served, TenantKeys]]:
    root = tmp_path_factory.mktemp("list-sse")
    generated = generated_dir(
        root / "generated",
        slack_base="http://127.0.0.1:9/api",
        shopify_base="http://127.0.0.1:9/{shop}",
    )
    keys = write_tenants(root / "tenants.yaml")
    with pytest.MonkeyPatch.context() as env:
        for name, value in upstream_tokens().env().items():
            env.setenv(name, value)
        catalog = Catalog.load(Path(generated))
        registry = TenantRegistry.load(root / "tenants.yaml", catalog=catalog.connector_specs())

    def app(list_bytes: bool) -> Callable[[int], Any]:
        return lambda port: create_app(
            catalog,
            registry,
            Executor(),
            HttpOptions(port=port, json_response=False, list_bytes=list_bytes),
        )

    with Served(app(True)) as fast, Served(app(False)) as sdk:
        yield fast, sdk, keys


def messages(response: httpx.Response) -> list[Any]:
    """The JSON-RPC messages of a response, whether JSON or SSE frames."""
    if response.headers["content-type"].startswith("application/json"):
        return [response.json()]
    return [
        json.loads(line[len("data:") :])
        for line in response.text.splitlines()
        if line.startswith("data:") and line[len("data:") :].strip()
    ]


@pytest.mark.parametrize("era", ERAS)
def test_sse_mode_answers_are_the_sdks(
    sse_apps: tuple[Served, Served, TenantKeys], era: str
) -> None:
    fast, sdk, keys = sse_apps
    for key in (keys.acme, keys.beta):
        ours = raw_list(fast.url, key, era)
        theirs = raw_list(sdk.url, key, era)
        assert ours.status_code == theirs.status_code == 200
        assert comparable_headers(ours) == comparable_headers(theirs)
        assert messages(ours) == messages(theirs)
        (answer,) = [m for m in messages(ours) if "result" in m]
        assert answer["id"] == 7 and answer["result"]["tools"]
    if era == LEGACY:  # the handshake era streams its answer as an SSE event here
        assert (
            raw_list(fast.url, keys.acme, era)
            .headers["content-type"]
            .startswith("text/event-stream")
        )


@pytest.mark.parametrize("era", ERAS)
async def test_official_client_in_sse_mode(
    sse_apps: tuple[Served, Served, TenantKeys], era: str
) -> None:
    fast, sdk, keys = sse_apps
    listed = []
    for served in (fast, sdk):
        headers = {"Authorization": f"Bearer {keys.acme}"}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            transport = streamable_http_client(served.url, http_client=http)
            mode = "legacy" if era == LEGACY else era
            async with Client(transport, mode=mode) as client:
                tools = (await client.list_tools()).tools
        listed.append([t.model_dump(by_alias=True, exclude_none=True) for t in tools])
    assert listed[0] == listed[1]
    assert any(t["name"] == "shopify_list_orders" for t in listed[0])
