"""``tools/list`` from cached bytes answers exactly what the SDK path answers.

Three real gateway processes serve the same generated directory and tenants: the
default one (cached bytes), one with ``--no-list-bytes`` (every list serialised by the
SDK) and one with ``--list-output-schemas``. Both protocol eras are compared through
the official client and as raw JSON-RPC over HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from fastn_gen.gateway.tool_list_http import splice
from fastn_gen.native.registry import NATIVE_TOOLS
from tests.gateway.fixtures.gateway_process import GatewayProcess, generated_dir
from tests.gateway.fixtures.tenants_setup import TenantKeys, upstream_tokens, write_tenants

pytestmark = pytest.mark.anyio

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
ERAS = [LEGACY, MODERN]
NATIVE = {tool.name for tool in NATIVE_TOOLS}
# Headers that differ between any two responses, and the gzip encoding the SDK never
# applies (checked on its own below).
PER_RESPONSE = {"date", "x-request-id", "content-length", "content-encoding", "vary"}


@dataclass
class Gateways:
    fast: GatewayProcess
    sdk: GatewayProcess
    schemas: GatewayProcess
    keys: TenantKeys


@pytest.fixture(scope="module")
def gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateways]:
    root = tmp_path_factory.mktemp("list-bytes")
    # Nothing here calls an upstream; the base URLs only need to be loopback.
    generated = generated_dir(
        root / "generated",
        slack_base="http://127.0.0.1:9/api",
        shopify_base="http://127.0.0.1:9/{shop}",
    )
    config = root / "tenants.yaml"
    keys = write_tenants(config)
    env = upstream_tokens().env()
    started: list[GatewayProcess] = []
    try:
        for name, extra in (
            ("fast", []),
            ("sdk", ["--no-list-bytes"]),
            ("schemas", ["--list-output-schemas"]),
        ):
            process = GatewayProcess(config, generated, root / f"{name}.log", env, extra)
            started.append(process.start())
        yield Gateways(*started, keys=keys)
    finally:
        for process in started:
            process.stop()


@asynccontextmanager
async def connect(url: str, key: str, era: str) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        mode = "legacy" if era == LEGACY else era
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            assert client.session.protocol_version == era
            yield client


async def client_list(url: str, key: str, era: str) -> list[dict[str, Any]]:
    async with connect(url, key, era) as client:
        listed = await client.list_tools()
    return [t.model_dump(by_alias=True, exclude_none=True) for t in listed.tools]


def raw_list(
    url: str,
    key: str,
    era: str,
    request_id: Any = 7,
    params: dict[str, Any] | None = None,
    encoding: str = "gzip, deflate",
) -> httpx.Response:
    """One tools/list request as a client would POST it, without a client library."""
    headers = {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json, text/event-stream",
        "Accept-Encoding": encoding,
    }
    if era:  # without it the SDK assumes its default handshake-era version
        headers["MCP-Protocol-Version"] = era
    body_params: dict[str, Any] = dict(params or {})
    if era == MODERN:
        headers["Mcp-Method"] = "tools/list"
        body_params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/list", "params": body_params}
    return httpx.post(url, json=body, headers=headers, timeout=30)


def comparable_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in PER_RESPONSE}


@pytest.mark.parametrize("era", ERAS)
async def test_official_client_gets_the_same_list_from_bytes_and_from_the_sdk(
    gateways: Gateways, era: str
) -> None:
    for key in (gateways.keys.acme, gateways.keys.beta):
        fast = await client_list(gateways.fast.url, key, era)
        sdk = await client_list(gateways.sdk.url, key, era)
        assert fast == sdk
        assert {t["name"] for t in fast} > NATIVE


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("request_id", [7, "list-1", 0])
def test_raw_json_rpc_answer_is_the_sdks_answer(
    gateways: Gateways, era: str, request_id: Any
) -> None:
    fast = raw_list(gateways.fast.url, gateways.keys.acme, era, request_id)
    sdk = raw_list(gateways.sdk.url, gateways.keys.acme, era, request_id)
    assert fast.status_code == sdk.status_code == 200
    assert comparable_headers(fast) == comparable_headers(sdk)
    assert fast.json() == sdk.json()
    assert fast.json()["id"] == request_id
    assert int(fast.headers["content-length"]) == fast.num_bytes_downloaded
    result = fast.json()["result"]
    assert result["tools"]
    if era == MODERN:  # cache hints and the server stamp are 2026-07-28 fields
        assert (result["ttlMs"], result["cacheScope"]) == (0, "private")
        assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "fastn-gen"
    else:
        assert "ttlMs" not in result


@pytest.mark.parametrize("era", ERAS)
def test_gzip_only_when_accepted_and_the_same_json(gateways: Gateways, era: str) -> None:
    sdk = raw_list(gateways.sdk.url, gateways.keys.acme, era)
    assert "content-encoding" not in sdk.headers
    zipped = raw_list(gateways.fast.url, gateways.keys.acme, era)
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "accept-encoding"
    assert int(zipped.headers["content-length"]) == zipped.num_bytes_downloaded
    assert zipped.json() == sdk.json()
    for refused in ("identity", "gzip;q=0, deflate", "br"):
        plain = raw_list(gateways.fast.url, gateways.keys.acme, era, encoding=refused)
        assert "content-encoding" not in plain.headers
        assert plain.num_bytes_downloaded == len(plain.content)
        assert plain.json() == sdk.json()
        assert plain.num_bytes_downloaded > zipped.num_bytes_downloaded


@pytest.mark.parametrize("era", ["", "2025-06-18", "2025-03-26", "2024-11-05"])
def test_older_handshake_versions_get_the_sdks_answer(gateways: Gateways, era: str) -> None:
    fast = raw_list(gateways.fast.url, gateways.keys.acme, era)
    sdk = raw_list(gateways.sdk.url, gateways.keys.acme, era)
    assert fast.status_code == sdk.status_code == 200
    assert fast.json() == sdk.json()
    assert len(fast.json()["result"]["tools"]) > len(NATIVE)


@pytest.mark.parametrize("era", ERAS)
def test_a_cursor_is_answered_as_the_sdk_answers_it(gateways: Gateways, era: str) -> None:
    params = {"cursor": "not-a-cursor-we-gave"}
    fast = raw_list(gateways.fast.url, gateways.keys.beta, era, 3, params)
    sdk = raw_list(gateways.sdk.url, gateways.keys.beta, era, 3, params)
    assert (fast.status_code, fast.json()) == (sdk.status_code, sdk.json())
    assert "nextCursor" not in fast.json()["result"]


@pytest.mark.parametrize("era", ERAS)
def test_refusals_are_the_sdks_refusals(gateways: Gateways, era: str) -> None:
    wrong = raw_list(gateways.fast.url, "not-a-key", era)
    assert wrong.status_code == 401
    # A protocol version the SDK does not serve: its own rejection, not a list.
    fast = raw_list(gateways.fast.url, gateways.keys.acme, "1999-01-01")
    sdk = raw_list(gateways.sdk.url, gateways.keys.acme, "1999-01-01")
    assert fast.status_code == sdk.status_code != 200
    assert fast.json() == sdk.json()
    assert "result" not in fast.json()


@pytest.mark.parametrize("era", ERAS)
async def test_each_tenant_gets_its_own_list(gateways: Gateways, era: str) -> None:
    acme = {t["name"] for t in await client_list(gateways.fast.url, gateways.keys.acme, era)}
    beta = {t["name"] for t in await client_list(gateways.fast.url, gateways.keys.beta, era)}
    assert any(name.startswith("shopify_") for name in acme)
    assert not any(name.startswith("shopify_") for name in beta)
    assert beta < acme
    # Interleaved again: each tenant still gets its own cached list.
    again = raw_list(gateways.fast.url, gateways.keys.beta, era).json()["result"]["tools"]
    assert {t["name"] for t in again} == beta


@pytest.mark.parametrize("era", ERAS)
async def test_connector_output_schemas_are_listed_only_when_asked(
    gateways: Gateways, era: str
) -> None:
    default = await client_list(gateways.fast.url, gateways.keys.acme, era)
    full = await client_list(gateways.schemas.url, gateways.keys.acme, era)
    assert [t["name"] for t in default] == [t["name"] for t in full]
    for lean, complete in zip(default, full, strict=True):
        if lean["name"] in NATIVE:
            assert lean == complete and "outputSchema" in lean
        else:
            assert "outputSchema" not in lean
            assert lean == {k: v for k, v in complete.items() if k != "outputSchema"}
    send = next(t for t in full if t["name"] == "slack_send_message")
    assert send["outputSchema"]["type"] == "object"


def test_splice_fills_exactly_one_empty_tools_array() -> None:
    body = b'{"id":1,"result":{"tools":[],"ttlMs":0}}'
    assert splice(body, b'{"name":"a"}') == b'{"id":1,"result":{"tools":[{"name":"a"}],"ttlMs":0}}'
    with pytest.raises(ValueError):
        splice(b'{"result":{"tools":[{"name":"a"}]}}', b"{}")
    with pytest.raises(ValueError):
        splice(b'{"tools":[],"x":{"tools":[]}}', b"{}")
