"""Upstream failures become error outcomes with the upstream's message and no secrets."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any

import pytest

from fastn_gen.gateway.executor import Executor, ToolOutcome
from fastn_gen.gateway.http_pool import UpstreamOptions
from fastn_gen.gateway.outcome import (
    ERR_CONNECT,
    ERR_HTTP,
    ERR_REDIRECT,
    ERR_TIMEOUT,
    ERR_TOO_LARGE,
    ERR_TRANSPORT,
    ERR_UPSTREAM,
)
from fastn_gen.runtime.operation import AuthSpec, ConnectorSpec, Operation
from tests.upstreams import EchoUpstream, RecordedRequest, Reply
from tests.upstreams.specs import connection, op, q, tenant

TOKEN = "xoxb-4242-5151-Zm9vYmFyYmF6cXV4"
ENV = {"TOKEN": TOKEN}


def connector(url: str, **kw: Any) -> ConnectorSpec:
    return ConnectorSpec(
        name="slack",
        title="Slack",
        description="",
        base_url=url,
        auth=AuthSpec(kind="bearer", prefix="Bearer "),
        **kw,
    )


def run(
    url: str,
    operation: Operation,
    arguments: dict[str, Any] | None = None,
    *,
    options: UpstreamOptions | None = None,
    **spec_kw: Any,
) -> ToolOutcome:
    conn = connection("slack", {"token": "${TOKEN}"})

    async def go() -> ToolOutcome:
        executor = Executor(options, environ=ENV)
        try:
            return await executor.execute(
                tenant("acme", conn), conn, connector(url, **spec_kw), operation, arguments or {}
            )
        finally:
            await executor.aclose()

    return asyncio.run(go())


POST = op("slack_send_message", "POST", "/chat.postMessage", [], operation_id="chat.postMessage")


def test_http_error_carries_the_upstream_message(echo_upstream: EchoUpstream) -> None:
    echo_upstream.on("/chat.postMessage", Reply.json({"message": "channel is archived"}, 404))
    outcome = run(echo_upstream.url, POST)
    assert outcome.is_error and outcome.error == ERR_HTTP
    assert outcome.upstream_status == 404
    assert outcome.text == (
        "Upstream error: HTTP 404 Not Found from slack (chat.postMessage): channel is archived"
    )
    assert outcome.structured is None


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"errors": {"email": ["is invalid"], "phone": ["is blank", "is short"]}},
         "email: is invalid; phone: is blank; is short"),
        ({"error": {"type": "card_error", "message": "Your card was declined."}},
         "Your card was declined."),
        ({"error": "invalid_grant", "error_description": "Token expired"},
         "invalid_grant: Token expired"),
        ({"message": "Validation Failed", "errors": [{"message": "name is taken"}]},
         "Validation Failed: name is taken"),
        ({"errors": "[API] Invalid API key or access token"},
         "[API] Invalid API key or access token"),
        ({"title": "Bad", "detail": "limit must be positive"}, "limit must be positive"),
    ],
)  # fmt: skip
def test_error_message_extraction(
    echo_upstream: EchoUpstream, payload: dict[str, Any], expected: str
) -> None:
    echo_upstream.on("/chat.postMessage", Reply.json(payload, 422))
    outcome = run(echo_upstream.url, POST)
    assert outcome.text.endswith(f"(chat.postMessage): {expected}")


def test_non_json_error_body_is_cut_at_500_characters(echo_upstream: EchoUpstream) -> None:
    echo_upstream.on("/chat.postMessage", Reply.text("<html>" + "x" * 2000 + "</html>", 502))
    outcome = run(echo_upstream.url, POST)
    message = outcome.text.split("(chat.postMessage): ", 1)[1]
    assert message == "<html>" + "x" * 494 + "…"


def test_token_echoed_by_the_upstream_is_redacted(echo_upstream: EchoUpstream) -> None:
    def leaky(request: RecordedRequest) -> Reply:
        auth = request.header("authorization")
        return Reply.json(
            {"error": f"token rejected: {auth}", "debug": f"Authorization: {auth}"}, 401
        )

    echo_upstream.on("/chat.postMessage", leaky)
    outcome = run(echo_upstream.url, POST)
    assert outcome.is_error and outcome.upstream_status == 401
    assert TOKEN not in outcome.text
    assert "4242-5151" not in outcome.text
    assert "token rejected: " in outcome.text and "[REDACTED]" in outcome.text


def test_key_in_an_echoed_url_is_redacted(echo_upstream: EchoUpstream) -> None:
    echo_upstream.on(
        "/chat.postMessage",
        Reply.text("no route for /v1/x?api_key=k_unrelated_999&user=bob", 400),
    )
    outcome = run(echo_upstream.url, POST)
    assert "k_unrelated_999" not in outcome.text
    assert "api_key=[REDACTED]&user=bob" in outcome.text


def test_error_logs_are_redacted(
    echo_upstream: EchoUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    echo_upstream.on(
        "/chat.postMessage",
        lambda r: Reply.text(f"bad credentials {r.header('authorization')}", 403),
    )
    with caplog.at_level(logging.DEBUG, logger="fastn_gen"):
        outcome = run(echo_upstream.url, POST)
    assert outcome.is_error
    assert "chat.postMessage" in caplog.text and "403" in caplog.text
    assert TOKEN not in caplog.text


def test_ok_false_with_http_200_is_an_error(echo_upstream: EchoUpstream) -> None:
    echo_upstream.on("/chat.postMessage", Reply.json({"ok": False, "error": "channel_not_found"}))
    outcome = run(echo_upstream.url, POST, response_ok_field="ok", response_error_field="error")
    assert outcome.is_error and outcome.error == ERR_UPSTREAM
    assert outcome.upstream_status == 200
    assert outcome.text == (
        "Upstream error from slack (chat.postMessage): ok=false: channel_not_found"
    )


def test_ok_true_is_a_success(echo_upstream: EchoUpstream) -> None:
    echo_upstream.on("/chat.postMessage", Reply.json({"ok": True, "ts": "1.2"}))
    outcome = run(echo_upstream.url, POST, response_ok_field="ok", response_error_field="error")
    assert not outcome.is_error
    assert outcome.structured == {"ok": True, "ts": "1.2"}
    assert outcome.text == '{"ok": true, "ts": "1.2"}'
    assert outcome.error is None and outcome.latency_ms > 0


def test_rate_limit_mentions_retry_after(echo_upstream: EchoUpstream) -> None:
    echo_upstream.on(
        "/chat.postMessage",
        Reply.json({"ok": False, "error": "ratelimited"}, 429, headers=[("Retry-After", "30")]),
    )
    outcome = run(echo_upstream.url, POST)
    assert outcome.text == (
        "Upstream error: HTTP 429 Too Many Requests from slack (chat.postMessage): "
        "ratelimited (retry after 30 s)"
    )


def test_non_object_json_is_wrapped(echo_upstream: EchoUpstream) -> None:
    echo_upstream.on("/list", Reply.json([1, 2, 3]))
    outcome = run(echo_upstream.url, op("l", "GET", "/list", []))
    assert not outcome.is_error
    assert outcome.structured == {"result": [1, 2, 3]}
    assert outcome.text == "[1, 2, 3]"


def test_plain_text_and_empty_successes(echo_upstream: EchoUpstream) -> None:
    echo_upstream.on("/text", Reply.text("pong"))
    echo_upstream.on("/empty", Reply(204))
    text = run(echo_upstream.url, op("t", "GET", "/text", []))
    empty = run(echo_upstream.url, op("e", "DELETE", "/empty", []))
    assert (text.is_error, text.text, text.structured) == (False, "pong", None)
    assert (empty.is_error, empty.upstream_status, empty.structured) == (False, 204, None)
    assert empty.text == "HTTP 204 No Content (no content)"


def test_redirect_is_not_followed(echo_upstream: EchoUpstream) -> None:
    echo_upstream.on(
        "/moved", Reply(302, headers=[("Location", "http://attacker.invalid/steal?x=1")])
    )
    outcome = run(echo_upstream.url, op("m", "GET", "/moved", []))
    assert outcome.is_error and outcome.error == ERR_REDIRECT
    assert outcome.upstream_status == 302
    assert outcome.text == (
        "Upstream error: HTTP 302 Found from slack (m): redirect to attacker.invalid not followed"
    )
    assert len(echo_upstream.requests) == 1


def test_read_timeout(echo_upstream: EchoUpstream) -> None:
    echo_upstream.on("/slow", Reply.json({}, delay_s=3.0))
    started = time.monotonic()
    outcome = run(
        echo_upstream.url, op("s", "GET", "/slow", []), options=UpstreamOptions(read_timeout=0.3)
    )
    assert time.monotonic() - started < 2.5
    assert outcome.is_error and outcome.error == ERR_TIMEOUT
    assert outcome.text == "Upstream error: timed out after 0.3 s waiting for slack (s)"
    assert outcome.upstream_status is None


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    outcome = run(f"http://127.0.0.1:{port}", op("x", "GET", "/x", []))
    assert outcome.is_error and outcome.error == ERR_CONNECT
    assert outcome.text.startswith("Upstream error: could not connect to slack (x): ")
    assert "refused" in outcome.text.lower()


def test_connection_dropped_without_an_answer(echo_upstream: EchoUpstream) -> None:
    echo_upstream.on("/drop", None)
    outcome = run(echo_upstream.url, op("d", "GET", "/drop", []))
    assert outcome.is_error and outcome.error == ERR_TRANSPORT
    assert outcome.text.startswith("Upstream error: request to slack (d) failed: ")


def test_oversized_response_is_refused(echo_upstream: EchoUpstream) -> None:
    echo_upstream.on("/big", Reply.text("y" * 5000))
    outcome = run(
        echo_upstream.url,
        op("b", "GET", "/big", []),
        options=UpstreamOptions(max_response_bytes=1000),
    )
    assert outcome.is_error and outcome.error == ERR_TOO_LARGE
    assert "larger than 1000 bytes" in outcome.text


def test_query_key_never_appears_in_transport_errors() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = connection("svc", {"api_key": "${KEY}"})
    spec = ConnectorSpec(
        name="svc",
        title="",
        description="",
        base_url=f"http://127.0.0.1:{port}",
        auth=AuthSpec(kind="api_key", location="query", param_name="key"),
    )

    async def go() -> ToolOutcome:
        executor = Executor(environ={"KEY": "AIzaSyQueryKey123456"})
        try:
            return await executor.execute(
                tenant("a", conn), conn, spec, op("x", "GET", "/x", [q("n")]), {"n": 1}
            )
        finally:
            await executor.aclose()

    outcome = asyncio.run(go())
    assert outcome.is_error and "AIzaSyQueryKey123456" not in outcome.text


def test_opaque_credential_values_are_redacted(echo_upstream: EchoUpstream) -> None:
    # Nothing about this value looks like a token: only knowing it lets it be removed.
    secret = "opaque-credential-0042"
    echo_upstream.on(
        "/x", lambda r: Reply.json({"message": f"key {r.header('x-api-key')} is revoked"}, 403)
    )
    conn = connection("svc", {"api_key": "${KEY}"})
    spec = ConnectorSpec(
        name="svc",
        title="",
        description="",
        base_url=echo_upstream.url,
        auth=AuthSpec(kind="api_key", location="header", param_name="X-Api-Key"),
    )

    async def go() -> ToolOutcome:
        executor = Executor(environ={"KEY": secret})
        try:
            return await executor.execute(tenant("a", conn), conn, spec, op("x", "GET", "/x"), {})
        finally:
            await executor.aclose()

    outcome = asyncio.run(go())
    assert (
        outcome.text == "Upstream error: HTTP 403 Forbidden from svc (x): key [REDACTED] is revoked"
    )
