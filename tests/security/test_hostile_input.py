"""Hostile input sent to a running gateway: each request gets a clear error of its own
and the gateway goes on serving everyone (checked after every case)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.security.deployment import MAX_BODY_BYTES, SecurityDeployment, connect, text_of

pytestmark = pytest.mark.anyio

LEGACY = "2025-11-25"


def headers(key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": LEGACY,
    }


def call(name: str, arguments: Any, request_id: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}}  # fmt: skip


@pytest.fixture
def http(security: SecurityDeployment) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=security.gateway.base, timeout=30) as client:
        yield client
    assert_still_serving(security)


def assert_still_serving(security: SecurityDeployment) -> None:
    with httpx.Client(timeout=30) as client:
        listed = client.post(
            security.gateway.url,
            json={"jsonrpc": "2.0", "id": 99, "method": "tools/list"},
            headers=headers(security.creds.keys["fuzz"]),
        )
    assert listed.status_code == 200 and listed.json()["result"]["tools"]
    assert security.gateway.proc is not None and security.gateway.proc.poll() is None


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["jsonrpc"] == "2.0" and "error" in body, body
    assert isinstance(body["error"]["code"], int) and body["error"]["message"]
    return dict(body["error"])


def test_oversized_body_is_answered_413_from_content_length(
    security: SecurityDeployment, http: httpx.Client
) -> None:
    padding = "x" * (MAX_BODY_BYTES + 1)
    response = http.post("/mcp", content=json.dumps(call("faults_ok", {"key": padding})),
                         headers=headers(security.creds.keys["alpha"]))  # fmt: skip
    assert response.status_code == 413
    assert f"larger than {MAX_BODY_BYTES} bytes" in error_of(response)["message"]


def test_oversized_chunked_body_is_answered_413(
    security: SecurityDeployment, http: httpx.Client
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"p": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"y" * 65536
        yield b'"}}'

    response = http.post("/mcp", content=chunks(), headers=headers(security.creds.keys["alpha"]))
    assert response.status_code == 413
    error_of(response)


def test_a_body_just_under_the_limit_is_served(
    security: SecurityDeployment, http: httpx.Client
) -> None:
    message = call("faults_echo", {"segment": "s", "q": "z" * 30_000})
    message["params"]["_meta"] = {"padding": ""}
    room = MAX_BODY_BYTES - len(json.dumps(message)) - 10
    message["params"]["_meta"]["padding"] = "p" * room
    response = http.post("/mcp", content=json.dumps(message),
                         headers=headers(security.creds.keys["alpha"]))  # fmt: skip
    result = response.json()["result"]
    assert response.status_code == 200 and result["isError"] is False, result["content"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"\xc3\x28\xa0\xa1", 400, -32700),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"\xff}', 400, -32700),
        (b"{not json", 400, -32700),
        (b"[" * 5000 + b"]" * 5000, 400, -32700),
        (json.dumps(call("faults_echo", json.loads("[" * 80 + "]" * 80))).encode(), 400, -32600),
        (b"[]", 400, -32600),
        (b'"tools/list"', 400, -32600),
        (b'{"id": 1, "method": "tools/list"}', 400, -32600),
        (b'{"jsonrpc": "1.0", "id": 1, "method": "tools/list"}', 400, -32600),
        (b'{"jsonrpc": "2.0", "id": [1], "method": "tools/list"}', 400, -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": null}', 400, -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": "x"}', 400, -32600),
    ],
    ids=[
        "invalid-utf8", "invalid-utf8-in-json", "not-json", "nested-5000", "nested-80",
        "empty-batch", "not-an-object", "no-jsonrpc", "wrong-version", "id-array",
        "method-null", "params-string",
    ],
)  # fmt: skip
def test_malformed_requests_get_a_jsonrpc_error(
    security: SecurityDeployment, http: httpx.Client, body: bytes, status: int, code: int
) -> None:
    response = http.post("/mcp", content=body, headers=headers(security.creds.keys["alpha"]))
    assert response.status_code == status
    assert error_of(response)["code"] == code


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": 123}},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": ["x"]}},
        call("faults_ok", "not-an-object"),
        call("faults_ok", {"key": 5}),
        call("faults_ok", {"key": None}),
        call("faults_status", {"code": "five hundred"}),
        call("faults_status", {"code": 1e308}),
        call("faults_status", {"code": True}),
        call("faults_ok", {"key": "a", "unexpected": 1}),
        call("no_such_tool", {}),
        {"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": 5}},
        {"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": "../../x"}},
        {"jsonrpc": "2.0", "id": 1, "method": "no/such/method"},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"cursor": {"a": 1}}},
    ],
)
def test_wrong_types_get_clear_errors_never_a_5xx(
    security: SecurityDeployment, http: httpx.Client, message: dict[str, Any]
) -> None:
    response = http.post("/mcp", json=message, headers=headers(security.creds.keys["alpha"]))
    assert response.status_code < 500
    body = response.json()
    if "error" in body:
        error_of(response)
    else:  # argument problems are tool errors the model can read
        result = body["result"]
        assert result["isError"] is True and result["content"][0]["text"]


def test_absurd_argument_counts_are_refused(
    security: SecurityDeployment, http: httpx.Client
) -> None:
    arguments = {f"arg{i}": i for i in range(5000)}
    response = http.post("/mcp", json=call("faults_ok", arguments),
                         headers=headers(security.creds.keys["alpha"]))  # fmt: skip
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == -32602 and "5000 arguments" in error["message"]


def test_many_unknown_arguments_under_the_cap_are_one_bounded_error(
    security: SecurityDeployment, http: httpx.Client
) -> None:
    arguments = {"key": "k", **{f"extra{i}": i for i in range(200)}}
    response = http.post("/mcp", json=call("faults_ok", arguments),
                         headers=headers(security.creds.keys["alpha"]))  # fmt: skip
    result = response.json()["result"]
    assert result["isError"] and "Extra inputs are not permitted" in result["content"][0]["text"]


async def test_path_traversal_and_encoded_slashes_stay_in_their_segment(
    security: SecurityDeployment,
) -> None:
    cases = {
        "../../admin": "/echo/..%2F..%2Fadmin",
        "..": "/echo/%2E%2E",
        ".": "/echo/%2E",
        "a/b": "/echo/a%2Fb",
        "%2e%2e%2fadmin": "/echo/%252e%252e%252fadmin",
        "a?x=1#f": "/echo/a%3Fx%3D1%23f",
        "a\\..\\b": "/echo/a%5C..%5Cb",
    }
    async with connect(security.gateway.url, security.creds.keys["alpha"]) as client:
        for segment, expected in cases.items():
            result = await client.call_tool("faults_echo", {"segment": segment})
            assert not result.is_error, text_of(result)
            assert result.structured_content is not None
            assert result.structured_content["raw_path"] == expected, segment


async def test_crlf_and_non_ascii_in_header_arguments_are_refused(
    security: SecurityDeployment,
) -> None:
    before = len(security.faults.requests)
    async with connect(security.gateway.url, security.creds.keys["alpha"]) as client:
        for note in ("a\r\nX-Injected: 1", "a\nb", "a\rb", "a\x00b"):
            result = await client.call_tool("faults_echo", {"segment": "s", "x_note": note})
            assert result.is_error and "line break or NUL" in text_of(result)
        for note in ("caf\u00e9", "\u00ba", "\u2028", "\U0001f600"):
            result = await client.call_tool("faults_echo", {"segment": "s", "x_note": note})
            assert result.is_error and "outside ASCII" in text_of(result)
        fine = await client.call_tool("faults_echo", {"segment": "s", "x_note": "plain"})
    assert not fine.is_error
    assert len(security.faults.requests) == before + 1


@pytest.mark.parametrize(
    "header_line",
    [b"X-Test: a\rb", b"X-Test: a\x00b", b"Bad Header: x", b"X-Test: " + b"a" * 70000],
)
def test_crlf_and_junk_in_inbound_headers_are_refused(
    security: SecurityDeployment, header_line: bytes
) -> None:
    host, _, port = security.gateway.authority.rpartition(":")
    request = (
        b"POST /mcp HTTP/1.1\r\nHost: " + security.gateway.authority.encode() + b"\r\n"
        + header_line + b"\r\nContent-Length: 2\r\n\r\n{}"
    )  # fmt: skip
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 4"), answer[:80]
    assert_still_serving(security)
