"""Credential injection per auth kind, as the upstream sees it on the wire.

The executor never receives the inbound MCP request, so the headers an upstream gets
are exactly those built here: each test asserts the complete set of non-transport
headers, which leaves no room for a forwarded ``Authorization``.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from fastn_gen.gateway.executor import Executor, ToolOutcome
from fastn_gen.gateway.outcome import ERR_CREDENTIALS
from fastn_gen.gateway.secrets import SecretStore
from fastn_gen.gateway.tenancy import Connection, Tenant
from fastn_gen.runtime.operation import AuthSpec, ConnectorSpec, Operation, ParamSpec
from tests.upstreams import EchoUpstream, RecordedRequest, Reply
from tests.upstreams.specs import connection, op, q, tenant

# Headers httpx adds to every request; anything else was put there by the gateway.
TRANSPORT = {"host", "accept", "accept-encoding", "connection", "user-agent", "content-length"}


def spec(url: str, auth: AuthSpec) -> ConnectorSpec:
    return ConnectorSpec(name="svc", title="Svc", description="", base_url=url, auth=auth)


def run(
    connector: ConnectorSpec,
    who: Tenant,
    conn: Connection,
    operation: Operation,
    arguments: dict[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    executor: Executor | None = None,
) -> ToolOutcome:
    async def go() -> ToolOutcome:
        ex = executor or Executor(environ=environ or {})
        try:
            return await ex.execute(who, conn, connector, operation, arguments or {})
        finally:
            if executor is None:
                await ex.aclose()

    return asyncio.run(go())


def gateway_headers(request: RecordedRequest) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers if k.lower() not in TRANSPORT}


GET_ME = op("me", "GET", "/me", [])


def test_bearer(echo_upstream: EchoUpstream) -> None:
    auth = AuthSpec(kind="bearer", location="header", param_name="Authorization", prefix="Bearer ")
    conn = connection("svc", {"token": "${SVC_TOKEN}"})
    outcome = run(
        spec(echo_upstream.url, auth),
        tenant("acme", conn),
        conn,
        GET_ME,
        environ={"SVC_TOKEN": "xoxb-111-222-abc"},
    )
    assert not outcome.is_error
    (sent,) = echo_upstream.requests
    assert gateway_headers(sent) == {"authorization": "Bearer xoxb-111-222-abc"}


def test_bearer_defaults_its_prefix_and_honours_a_custom_one(echo_upstream: EchoUpstream) -> None:
    conn = connection("svc", {"token": "${T}"})
    env = {"T": "abc123"}
    run(
        spec(echo_upstream.url, AuthSpec(kind="bearer")),
        tenant("a", conn),
        conn,
        GET_ME,
        environ=env,
    )
    run(
        spec(echo_upstream.url, AuthSpec(kind="bearer", prefix="token ")),
        tenant("a", conn),
        conn,
        GET_ME,
        environ=env,
    )
    first, second = echo_upstream.requests
    assert gateway_headers(first) == {"authorization": "Bearer abc123"}
    assert gateway_headers(second) == {"authorization": "token abc123"}


def test_api_key_header(echo_upstream: EchoUpstream) -> None:
    auth = AuthSpec(kind="api_key", location="header", param_name="X-Shopify-Access-Token")
    conn = connection("svc", {"api_key": "${KEY}"})
    run(spec(echo_upstream.url, auth), tenant("a", conn), conn, GET_ME, environ={"KEY": "shpat_1"})
    (sent,) = echo_upstream.requests
    assert gateway_headers(sent) == {"x-shopify-access-token": "shpat_1"}


def test_api_key_query_replaces_a_same_named_argument(echo_upstream: EchoUpstream) -> None:
    auth = AuthSpec(kind="api_key", location="query", param_name="api_key")
    conn = connection("svc", {"api_key": "${KEY}"})
    operation = op("find", "GET", "/find", [q("api_key"), q("term")])
    outcome = run(
        spec(echo_upstream.url, auth),
        tenant("a", conn),
        conn,
        operation,
        {"api_key": "attacker-chosen", "term": "x"},
        environ={"KEY": "k-123456"},
    )
    assert not outcome.is_error
    (sent,) = echo_upstream.requests
    assert sent.query == [("term", "x"), ("api_key", "k-123456")]
    assert gateway_headers(sent) == {}


def test_basic(echo_upstream: EchoUpstream) -> None:
    conn = connection("svc", {"username": "${U}", "password": "${P}"})
    run(
        spec(echo_upstream.url, AuthSpec(kind="basic")),
        tenant("a", conn),
        conn,
        GET_ME,
        environ={"U": "ada", "P": "pa:ss wörd"},
    )
    (sent,) = echo_upstream.requests
    expected = base64.b64encode("ada:pa:ss wörd".encode()).decode()
    assert gateway_headers(sent) == {"authorization": f"Basic {expected}"}


def test_basic_username_with_colon_is_refused(echo_upstream: EchoUpstream) -> None:
    conn = connection("svc", {"username": "${U}", "password": "${P}"})
    outcome = run(
        spec(echo_upstream.url, AuthSpec(kind="basic")),
        tenant("a", conn),
        conn,
        GET_ME,
        environ={"U": "a:b", "P": "secret-pw"},
    )
    assert outcome.is_error and outcome.error == ERR_CREDENTIALS
    assert "'username'" in outcome.text and "secret-pw" not in outcome.text
    assert echo_upstream.requests == []


def test_oauth2_configured_access_token(echo_upstream: EchoUpstream) -> None:
    conn = connection("svc", {"access_token": "${AT}"})
    auth = AuthSpec(kind="oauth2", token_url=echo_upstream.url + "/token")
    run(spec(echo_upstream.url, auth), tenant("a", conn), conn, GET_ME, environ={"AT": "at-9"})
    (sent,) = echo_upstream.requests
    assert gateway_headers(sent) == {"authorization": "Bearer at-9"}


def test_no_auth_sends_no_credentials(echo_upstream: EchoUpstream) -> None:
    conn = connection("svc", {"token": "${T}"})
    run(
        spec(echo_upstream.url, AuthSpec(kind="none")),
        tenant("a", conn),
        conn,
        GET_ME,
        environ={"T": "never-sent"},
    )
    (sent,) = echo_upstream.requests
    assert gateway_headers(sent) == {}
    assert "never-sent" not in repr(sent)


def test_operation_without_auth_sends_no_credentials(echo_upstream: EchoUpstream) -> None:
    conn = connection("svc", {"token": "${T}"})
    public = op("status", "GET", "/status", [], requires_auth=False)
    outcome = run(spec(echo_upstream.url, AuthSpec(kind="bearer")), tenant("a", conn), conn, public)
    assert not outcome.is_error  # the unset variable is not needed
    (sent,) = echo_upstream.requests
    assert gateway_headers(sent) == {}


def test_argument_cannot_override_the_authorization_header(echo_upstream: EchoUpstream) -> None:
    operation = op("x", "GET", "/x", [ParamSpec("auth", "Authorization", "header", False)])
    conn = connection("svc", {"token": "${T}"})
    run(
        spec(echo_upstream.url, AuthSpec(kind="bearer")),
        tenant("a", conn),
        conn,
        operation,
        {"auth": "Bearer fgk_stolen_gateway_key_0000000000"},
        environ={"T": "real-token-1"},
    )
    (sent,) = echo_upstream.requests
    assert [v for k, v in sent.headers if k.lower() == "authorization"] == ["Bearer real-token-1"]


def test_secret_reference_resolves_from_the_store(
    echo_upstream: EchoUpstream, tmp_path: Path
) -> None:
    store = SecretStore.for_data_dir(tmp_path, environ={})
    store.set("acme", "svc", "token", "from-store-123")
    conn = connection("svc", {"token": "secret:token"})
    run(
        spec(echo_upstream.url, AuthSpec(kind="bearer")),
        tenant("acme", conn, secret_store=store),
        conn,
        GET_ME,
    )
    (sent,) = echo_upstream.requests
    assert gateway_headers(sent) == {"authorization": "Bearer from-store-123"}


def test_missing_environment_variable_fails_cleanly(echo_upstream: EchoUpstream) -> None:
    conn = connection("svc", {"token": "${ACME_SLACK_TOKEN}"})
    outcome = run(
        spec(echo_upstream.url, AuthSpec(kind="bearer")), tenant("acme", conn), conn, GET_ME
    )
    assert outcome.is_error and outcome.error == ERR_CREDENTIALS
    assert "'token'" in outcome.text and "ACME_SLACK_TOKEN is not set" in outcome.text
    assert outcome.upstream_status is None
    assert echo_upstream.requests == []


def test_credential_with_line_break_is_refused(echo_upstream: EchoUpstream) -> None:
    conn = connection("svc", {"token": "${T}"})
    outcome = run(
        spec(echo_upstream.url, AuthSpec(kind="bearer")),
        tenant("acme", conn),
        conn,
        GET_ME,
        environ={"T": "abc\r\nX-Admin: yes"},
    )
    assert outcome.is_error and "'token'" in outcome.text
    assert "X-Admin" not in outcome.text
    assert echo_upstream.requests == []


def test_connection_of_another_connector_is_refused(echo_upstream: EchoUpstream) -> None:
    conn = connection("github", {"token": "${T}"})
    outcome = run(
        spec(echo_upstream.url, AuthSpec(kind="bearer")),
        tenant("acme", conn),
        conn,
        GET_ME,
        environ={"T": "ghp_xxx"},
    )
    assert outcome.is_error and "for github, not svc" in outcome.text
    assert echo_upstream.requests == []


def test_tenants_never_share_cookies_or_credentials(echo_upstream: EchoUpstream) -> None:
    echo_upstream.on(
        "/login",
        Reply.json({"ok": True}, headers=[("Set-Cookie", "session=acme-session; Path=/")]),
    )
    auth = AuthSpec(kind="bearer")
    connector = spec(echo_upstream.url, auth)
    acme_conn = connection("svc", {"token": "${ACME}"})
    globex_conn = connection("svc", {"token": "${GLOBEX}"})
    env = {"ACME": "acme-token-1", "GLOBEX": "globex-token-2"}

    async def go() -> httpx.Headers:
        executor = Executor(environ=env)
        try:
            await executor.execute(
                tenant("acme", acme_conn), acme_conn, connector, op("l", "GET", "/login", []), {}
            )
            await executor.execute(
                tenant("globex", globex_conn), globex_conn, connector, GET_ME, {}
            )
            client = executor.pool.client_for(httpx.URL(echo_upstream.url))
            assert len(client.cookies) == 0
            return client.headers
        finally:
            await executor.aclose()

    shared_headers = asyncio.run(go())
    login, me = echo_upstream.requests
    assert gateway_headers(login) == {"authorization": "Bearer acme-token-1"}
    assert gateway_headers(me) == {"authorization": "Bearer globex-token-2"}
    assert "authorization" not in {k.lower() for k in shared_headers}


@pytest.mark.parametrize("kind", ["bearer", "api_key"])
def test_missing_field_is_named(echo_upstream: EchoUpstream, kind: str) -> None:
    auth = AuthSpec(kind=kind, param_name="X-Key")  # type: ignore[arg-type]
    conn = connection("svc", {})
    outcome = run(spec(echo_upstream.url, auth), tenant("acme", conn), conn, GET_ME)
    field = "token" if kind == "bearer" else "api_key"
    assert outcome.is_error and f"no credential '{field}'" in outcome.text
    assert echo_upstream.requests == []
