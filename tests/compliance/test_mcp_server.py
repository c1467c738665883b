"""MCP server requirements (transport, base protocol, tools, authorization) that the
other suites do not already show, each checked against a running gateway.

requirements.yaml maps every requirement we implement to the test that covers it.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from fastn_gen.cli_gateway import DEFAULT_HOST as CLI_DEFAULT_HOST
from fastn_gen.gateway.serve import DEFAULT_HOST
from tests.security.deployment import SecurityDeployment

LEGACY = "2025-11-25"
TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def headers(
    key: str | None, version: str | None = LEGACY, accept: str | None = None
) -> dict[str, str]:
    found = {"Content-Type": "application/json",
             "Accept": accept or "application/json, text/event-stream"}  # fmt: skip
    if key is not None:
        found["Authorization"] = f"Bearer {key}"
    if version is not None:
        found["MCP-Protocol-Version"] = version
    return found


def post(gateway: SecurityDeployment, message: Any, **options: Any) -> httpx.Response:
    key = options.pop("key", gateway.creds.keys["alpha"])
    return httpx.post(
        gateway.gateway.url, json=message, headers=headers(key, **options), timeout=30
    )


def initialize(request_id: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "initialize",
            "params": {"protocolVersion": LEGACY, "capabilities": {},
                       "clientInfo": {"name": "compliance", "version": "1"}}}  # fmt: skip


def test_get_on_the_mcp_endpoint_is_405(gateway: SecurityDeployment) -> None:
    response = httpx.get(gateway.gateway.url, headers=headers(gateway.creds.keys["alpha"]))
    assert response.status_code == 405


def test_accepted_notifications_get_202_without_a_body(gateway: SecurityDeployment) -> None:
    response = post(gateway, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert response.status_code == 202 and response.content == b""


@pytest.mark.parametrize("request_id", [7, "req-7", 0])
def test_requests_are_answered_as_json_with_their_own_id(
    gateway: SecurityDeployment, request_id: Any
) -> None:
    response = post(gateway, initialize(request_id))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["id"] == request_id


def test_null_request_ids_are_refused(gateway: SecurityDeployment) -> None:
    response = post(gateway, {"jsonrpc": "2.0", "id": None, "method": "tools/list"})
    assert response.status_code == 400 and response.json()["error"]["code"] == -32600


def test_an_unsupported_protocol_version_header_is_400(gateway: SecurityDeployment) -> None:
    response = post(gateway, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                    version="1999-01-01")  # fmt: skip
    assert response.status_code == 400


def test_a_post_that_does_not_accept_json_is_refused(gateway: SecurityDeployment) -> None:
    response = post(gateway, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                    accept="text/html")  # fmt: skip
    assert response.status_code == 406


def test_the_tools_capability_is_declared(gateway: SecurityDeployment) -> None:
    result = post(gateway, initialize()).json()["result"]
    assert "tools" in result["capabilities"]
    assert result["protocolVersion"] == LEGACY


def _tools(gateway: SecurityDeployment, tenant: str) -> list[dict[str, Any]]:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    answer = post(gateway, message, key=gateway.creds.keys[tenant]).json()
    return list(answer["result"]["tools"])


def test_tool_names_are_unique_and_well_formed(gateway: SecurityDeployment) -> None:
    for tenant in ("alpha", "gamma", "iso4"):
        names = [tool["name"] for tool in _tools(gateway, tenant)]
        assert len(names) == len(set(names))
        assert all(TOOL_NAME.match(name) for name in names), names


def test_input_schemas_are_json_schema_objects(gateway: SecurityDeployment) -> None:
    for tool in _tools(gateway, "alpha"):
        schema = tool["inputSchema"]
        assert isinstance(schema, dict) and schema.get("type") == "object", tool["name"]
        Draft202012Validator.check_schema(schema)
        if "outputSchema" in tool:
            Draft202012Validator.check_schema(tool["outputSchema"])


def test_unknown_tools_are_a_protocol_error(gateway: SecurityDeployment) -> None:
    message = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": "no_such_tool", "arguments": {}}}  # fmt: skip
    answer = post(gateway, message).json()
    assert answer["id"] == 3 and answer["error"]["code"] == -32602


def test_tool_execution_errors_are_results_with_is_error(gateway: SecurityDeployment) -> None:
    message = {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
               "params": {"name": "faults_status_post", "arguments": {"code": 418}}}  # fmt: skip
    result = post(gateway, message).json()["result"]
    assert result["isError"] is True and "HTTP 418" in result["content"][0]["text"]


def test_access_tokens_in_the_query_string_are_not_accepted(gateway: SecurityDeployment) -> None:
    token = gateway.jwks.token(tenant="alpha", scope="mcp:read")
    for credential in (token, gateway.creds.keys["alpha"]):
        response = httpx.post(
            gateway.gateway.url,
            params={"access_token": credential},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers=headers(None),
            timeout=30,
        )
        assert response.status_code == 401


def test_the_server_binds_to_loopback_by_default() -> None:
    assert DEFAULT_HOST == CLI_DEFAULT_HOST == "127.0.0.1"
