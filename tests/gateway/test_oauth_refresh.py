"""OAuth2 refresh against a real token endpoint on loopback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from fastn_gen.gateway.executor import Executor, ToolOutcome
from fastn_gen.gateway.outcome import ERR_HTTP, ERR_OAUTH
from fastn_gen.gateway.secrets import OAuthToken, SecretStore
from fastn_gen.gateway.tenancy import Connection, Tenant
from fastn_gen.runtime.operation import AuthSpec, ConnectorSpec
from tests.upstreams import OAuthUpstream
from tests.upstreams.specs import connection, op, tenant

GET_ME = op("me", "GET", "/me", [], operation_id="getMe")
ENV = {"CLIENT_ID": "client-1", "CLIENT_SECRET": "client-secret-1", "RT": "rt-0"}


def connector(upstream: OAuthUpstream, *, token_url: bool = True) -> ConnectorSpec:
    return ConnectorSpec(
        name="svc",
        title="Svc",
        description="",
        base_url=upstream.api_url,
        auth=AuthSpec(kind="oauth2", token_url=upstream.token_url if token_url else None),
    )


def setup(
    upstream: OAuthUpstream, tmp_path: Path, **credentials: str
) -> tuple[Tenant, Connection, SecretStore]:
    store = SecretStore.for_data_dir(tmp_path, environ={})
    creds = {"client_id": "${CLIENT_ID}", "client_secret": "${CLIENT_SECRET}", **credentials}
    conn = connection("svc", creds)
    return tenant("acme", conn, secret_store=store), conn, store


def call_many(
    executor: Executor, spec: ConnectorSpec, who: Tenant, conn: Connection, n: int
) -> list[ToolOutcome]:
    async def go() -> list[ToolOutcome]:
        try:
            return list(
                await asyncio.gather(
                    *(executor.execute(who, conn, spec, GET_ME, {}) for _ in range(n))
                )
            )
        finally:
            await executor.aclose()

    return asyncio.run(go())


def test_expired_token_is_refreshed_once_for_twenty_concurrent_calls(
    oauth_upstream: OAuthUpstream, tmp_path: Path
) -> None:
    oauth_upstream.refresh_token = "rt-0"
    oauth_upstream.token_delay_s = 0.2  # all 20 calls are waiting while it runs
    who, conn, store = setup(oauth_upstream, tmp_path)
    store.set_oauth_token("acme", "svc", OAuthToken("at-old", "rt-0", time.time() - 10))

    outcomes = call_many(Executor(environ=ENV), connector(oauth_upstream), who, conn, 20)

    assert [o.is_error for o in outcomes] == [False] * 20, outcomes[0].text
    assert len(oauth_upstream.token_requests) == 1
    api_calls = [r for r in oauth_upstream.requests if r.path == "/api/me"]
    assert [r.header("authorization") for r in api_calls] == ["Bearer at-1"] * 20
    saved = store.get_oauth_token("acme", "svc")
    assert saved is not None
    assert (saved.access_token, saved.refresh_token) == ("at-1", "rt-1")
    assert saved.expires_at is not None and abs(saved.expires_at - (time.time() + 3600)) < 30


def test_refresh_request_is_a_form_post_with_client_credentials(
    oauth_upstream: OAuthUpstream, tmp_path: Path
) -> None:
    oauth_upstream.refresh_token = "rt-0"
    who, conn, _ = setup(oauth_upstream, tmp_path, refresh_token="${RT}")
    outcomes = call_many(Executor(environ=ENV), connector(oauth_upstream), who, conn, 1)
    assert not outcomes[0].is_error, outcomes[0].text
    (token_request,) = oauth_upstream.token_requests
    assert token_request.method == "POST"
    assert token_request.header("content-type") == "application/x-www-form-urlencoded"
    assert dict(token_request.form()) == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-0",
        "client_id": "client-1",
        "client_secret": "client-secret-1",
    }


def test_401_triggers_one_refresh_and_one_retry_per_call(
    oauth_upstream: OAuthUpstream, tmp_path: Path
) -> None:
    oauth_upstream.refresh_token = "rt-0"
    oauth_upstream.token_delay_s = 0.1
    who, conn, store = setup(oauth_upstream, tmp_path)
    # Not expired by the clock, but the provider no longer accepts it.
    store.set_oauth_token("acme", "svc", OAuthToken("at-revoked", "rt-0", time.time() + 3000))

    outcomes = call_many(Executor(environ=ENV), connector(oauth_upstream), who, conn, 20)

    assert all(not o.is_error for o in outcomes), outcomes[0].text
    assert len(oauth_upstream.token_requests) == 1
    api_calls = [
        r.header("authorization") or "" for r in oauth_upstream.requests if r.path == "/api/me"
    ]
    assert sorted(api_calls) == ["Bearer at-1"] * 20 + ["Bearer at-revoked"] * 20


def test_rotated_refresh_token_is_used_for_the_next_refresh(
    oauth_upstream: OAuthUpstream, tmp_path: Path
) -> None:
    oauth_upstream.refresh_token = "rt-0"
    oauth_upstream.expires_in = 30  # inside the 60 s margin: every call refreshes
    who, conn, store = setup(oauth_upstream, tmp_path, refresh_token="${RT}")
    spec = connector(oauth_upstream)

    async def go() -> list[ToolOutcome]:
        executor = Executor(environ=ENV)
        try:
            return [await executor.execute(who, conn, spec, GET_ME, {}) for _ in range(3)]
        finally:
            await executor.aclose()

    outcomes = asyncio.run(go())
    assert [o.is_error for o in outcomes] == [False, False, False]
    sent = [dict(r.form())["refresh_token"] for r in oauth_upstream.token_requests]
    assert sent == ["rt-0", "rt-1", "rt-2"]
    saved = store.get_oauth_token("acme", "svc")
    assert saved is not None and saved.refresh_token == "rt-3"


def test_persisted_token_survives_a_new_executor(
    oauth_upstream: OAuthUpstream, tmp_path: Path
) -> None:
    oauth_upstream.refresh_token = "rt-0"
    who, conn, _ = setup(oauth_upstream, tmp_path, refresh_token="${RT}")
    spec = connector(oauth_upstream)
    assert not call_many(Executor(environ=ENV), spec, who, conn, 1)[0].is_error
    # A restarted gateway reads at-1 from the secrets file instead of refreshing again
    # with rt-0, which the provider rotated away.
    reloaded_store = SecretStore.for_data_dir(tmp_path, environ={})
    who2 = tenant("acme", conn, secret_store=reloaded_store)
    assert not call_many(Executor(environ=ENV), spec, who2, conn, 1)[0].is_error
    assert len(oauth_upstream.token_requests) == 1


def test_failed_refresh_is_a_clean_redacted_error(
    oauth_upstream: OAuthUpstream, tmp_path: Path
) -> None:
    oauth_upstream.refresh_token = "rt-current"
    who, conn, _ = setup(oauth_upstream, tmp_path, refresh_token="${RT}")
    outcome = call_many(Executor(environ=ENV), connector(oauth_upstream), who, conn, 1)[0]
    assert outcome.is_error and outcome.error == ERR_OAUTH
    assert "HTTP 400" in outcome.text and "invalid_grant" in outcome.text
    assert "rt-0" not in outcome.text and "client-secret-1" not in outcome.text
    assert [r.path for r in oauth_upstream.requests] == ["/oauth/token"]


def test_401_without_a_refresh_token_is_reported_as_is(
    oauth_upstream: OAuthUpstream, tmp_path: Path
) -> None:
    who, conn, _ = setup(oauth_upstream, tmp_path, access_token="${AT}")
    outcome = call_many(
        Executor(environ={**ENV, "AT": "at-unknown"}), connector(oauth_upstream), who, conn, 1
    )[0]
    assert outcome.is_error and outcome.error == ERR_HTTP and outcome.upstream_status == 401
    assert "invalid_token" in outcome.text
    assert oauth_upstream.token_requests == []


def test_no_token_at_all_is_a_clean_error(oauth_upstream: OAuthUpstream, tmp_path: Path) -> None:
    who, conn, _ = setup(oauth_upstream, tmp_path)
    outcome = call_many(Executor(environ=ENV), connector(oauth_upstream), who, conn, 1)[0]
    assert outcome.is_error and outcome.error == ERR_OAUTH
    assert "no access_token and no refresh_token" in outcome.text
    assert oauth_upstream.requests == []


def test_tokens_are_kept_in_memory_when_the_store_cannot_be_written(
    oauth_upstream: OAuthUpstream, tmp_path: Path
) -> None:
    oauth_upstream.refresh_token = "rt-0"
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the data directory should be")
    store = SecretStore.for_data_dir(blocked, environ={})
    conn = connection(
        "svc",
        {
            "client_id": "${CLIENT_ID}",
            "client_secret": "${CLIENT_SECRET}",
            "refresh_token": "${RT}",
        },
    )
    who = tenant("acme", conn, secret_store=store)
    outcomes = call_many(Executor(environ=ENV), connector(oauth_upstream), who, conn, 5)
    assert all(not o.is_error for o in outcomes), outcomes[0].text
    assert len(oauth_upstream.token_requests) == 1
