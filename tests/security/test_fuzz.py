"""Fuzzing the running gateway with MCP requests and tool arguments.

Hypothesis generates JSON-RPC messages (real and made-up methods, ids of every type,
random params, protocol version headers) and ``tools/call`` arguments (schema-shaped
values and arbitrary JSON). Every answer must be well formed and none may be a 5xx: the
gateway answers a JSON-RPC error, a tool error or a result, and keeps serving. The
default run sends a few hundred requests; ``-m slow`` sends thousands.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastn_gen.native.registry import NATIVE_TOOLS
from tests.security.deployment import SecurityDeployment

METHODS = [
    "initialize", "ping", "tools/list", "tools/call", "resources/list", "resources/read",
    "resources/templates/list", "prompts/list", "completion/complete", "logging/setLevel",
    "notifications/initialized", "notifications/cancelled", "server/discover",
]  # fmt: skip
# Tools whose arguments cannot make the upstream slow or large.
FAST_TOOLS = {
    "faults_ok": {"key": "string"},
    "faults_echo": {"segment": "string", "q": "string", "x_note": "string"},
    "faults_status": {"code": "status", "retry_after": "small"},
    "faults_flaky_post": {"key": "string", "failures": "small", "code": "status"},
    "stable_ok": {"key": "string"},
}
NATIVE = [tool.name for tool in NATIVE_TOOLS]
STATS: Counter[str] = Counter()

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=16,
)
request_ids = st.one_of(st.integers(), st.text(max_size=10), st.none(), json_values)


def _argument(kind: str) -> st.SearchStrategy[Any]:
    if kind == "status":
        return st.sampled_from([200, 201, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503])
    if kind == "small":
        return st.integers(min_value=0, max_value=2)
    return st.text(max_size=40)


@st.composite
def tool_calls(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(FAST_TOOLS)))
        shape = FAST_TOOLS[name]
        chosen = draw(st.lists(st.sampled_from(sorted(shape)), unique=True))
        arguments: Any = {k: draw(_argument(shape[k])) for k in chosen}
        if draw(st.booleans()):  # sometimes one value of the wrong type
            arguments[draw(st.sampled_from(sorted(shape)))] = draw(json_values)
    else:
        name = draw(
            st.sampled_from([*NATIVE, "faults_ok", "unknown_tool", ""]) | st.text(max_size=20)
        )
        arguments = draw(
            json_values | st.dictionaries(st.text(max_size=10), json_values, max_size=6)
        )
    params: dict[str, Any] = {"name": name, "arguments": arguments}
    if draw(st.booleans()):
        params["_meta"] = draw(json_values)
    return {"jsonrpc": "2.0", "id": draw(st.integers(0, 10**6)), "method": "tools/call",
            "params": params}  # fmt: skip


@st.composite
def messages(draw: st.DrawFn) -> Any:
    method = draw(st.sampled_from(METHODS) | st.text(max_size=20))
    message: dict[str, Any] = {"jsonrpc": draw(st.sampled_from(["2.0", "2.0", "1.0", 2]))}
    if draw(st.integers(0, 9)):
        message["method"] = method
    if draw(st.integers(0, 3)):
        message["id"] = draw(request_ids)
    if draw(st.booleans()):
        message["params"] = draw(json_values)
    if draw(st.integers(0, 9)) == 0:
        return [message, draw(json_values)]
    return message


protocol_headers = st.sampled_from(["2025-11-25", "2026-07-28", "2025-03-26", "1999-01-01", None])
accept_headers = st.sampled_from(
    ["application/json, text/event-stream", "application/json", "text/html", "*/*", None]
)


def send(
    security: SecurityDeployment, body: bytes, version: str | None, accept: str | None
) -> None:
    headers = {"Authorization": f"Bearer {security.creds.keys['fuzz']}",
               "Content-Type": "application/json"}  # fmt: skip
    if version is not None:
        headers["MCP-Protocol-Version"] = version
    if accept is not None:
        headers["Accept"] = accept
    response = httpx.post(security.gateway.url, content=body, headers=headers, timeout=30)
    STATS[f"status {response.status_code}"] += 1
    STATS["requests"] += 1
    assert response.status_code < 500, response.text[:500]
    if not response.content:
        # Accepted notifications, or an HTTP-level refusal of a notification (no id to
        # answer a JSON-RPC error to).
        assert response.status_code in (202, 204) or 400 <= response.status_code < 500
        return
    answer = json.loads(response.content)
    for item in answer if isinstance(answer, list) else [answer]:
        check_answer(item)


def check_answer(item: Any) -> None:
    assert isinstance(item, dict), item
    if "error" in item and "jsonrpc" not in item:  # an HTTP-level refusal (401, 403)
        assert isinstance(item["error"], str)
        return
    assert item.get("jsonrpc") == "2.0", item
    assert ("result" in item) != ("error" in item), item
    if "error" in item:
        STATS["jsonrpc errors"] += 1
        assert isinstance(item["error"]["code"], int) and isinstance(item["error"]["message"], str)
    elif isinstance(item["result"], dict) and "isError" in item["result"]:
        STATS["tool errors" if item["result"]["isError"] else "tool results"] += 1
        content = item["result"]["content"]
        assert content and all(isinstance(block.get("type"), str) for block in content)


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    print(f"\nfuzz: {dict(STATS)}")


def _fuzz_settings(examples: int) -> Any:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@_fuzz_settings(150)
@given(message=messages(), version=protocol_headers, accept=accept_headers)
def test_fuzzed_mcp_requests(
    security: SecurityDeployment, message: Any, version: str | None, accept: str | None
) -> None:
    send(security, json.dumps(message).encode(), version, accept)


@_fuzz_settings(150)
@given(message=tool_calls(), version=st.sampled_from(["2025-11-25", None]))
def test_fuzzed_tool_arguments(
    security: SecurityDeployment, message: dict[str, Any], version: str | None
) -> None:
    send(security, json.dumps(message).encode(), version, "application/json, text/event-stream")


@_fuzz_settings(60)
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_fuzzed_raw_bodies(security: SecurityDeployment, raw: bytes) -> None:
    send(security, raw, "2025-11-25", "application/json, text/event-stream")


@pytest.mark.slow
@pytest.mark.timeout(1800)
@_fuzz_settings(3000)
@given(message=messages() | tool_calls(), version=protocol_headers, accept=accept_headers)
def test_fuzzed_requests_long_run(
    security: SecurityDeployment, message: Any, version: str | None, accept: str | None
) -> None:
    send(security, json.dumps(message).encode(), version, accept)


def test_gateway_survived_the_fuzzing(security: SecurityDeployment) -> None:
    assert security.gateway.proc is not None and security.gateway.proc.poll() is None
    assert httpx.get(f"{security.gateway.base}/healthz", timeout=10).status_code == 200
    log = security.gateway.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log
