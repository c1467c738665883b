"""OAuth refreshes are recorded as credential_refresh events, with the token expiry."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fastn_gen.gateway.digest import ArgsDigest
from fastn_gen.gateway.executor import Executor
from fastn_gen.gateway.recording import EventRecorder
from fastn_gen.gateway.secrets import OAuthToken, SecretStore
from fastn_gen.runtime.operation import AuthSpec, ConnectorSpec
from fastn_gen.store.records import EventQuery
from fastn_gen.store.sqlite import SQLiteStore
from tests.upstreams import OAuthUpstream
from tests.upstreams.specs import connection, op, tenant

pytestmark = pytest.mark.anyio

GET_ME = op("me", "GET", "/me", [], operation_id="getMe")
ENV = {"CLIENT_ID": "client-1", "CLIENT_SECRET": "client-secret-1"}


async def test_refreshes_and_failed_refreshes_are_recorded(
    oauth_upstream: OAuthUpstream, tmp_path: Path
) -> None:
    spec = ConnectorSpec(
        name="svc",
        title="Svc",
        description="",
        base_url=oauth_upstream.api_url,
        auth=AuthSpec(kind="oauth2", token_url=oauth_upstream.token_url),
    )
    secrets = SecretStore.for_data_dir(tmp_path / "data", environ={})
    conn = connection("svc", {"client_id": "${CLIENT_ID}", "client_secret": "${CLIENT_SECRET}"})
    who = tenant("acme", conn, secret_store=secrets)
    secrets.set_oauth_token("acme", "svc", OAuthToken("at-old", "rt-0", time.time() - 10))
    oauth_upstream.refresh_token = "rt-0"

    store = SQLiteStore(tmp_path / "fastn.db")
    await store.open()
    recorder = EventRecorder(store, ArgsDigest(b"k" * 32))
    executor = Executor(environ=ENV)
    executor.oauth.observer = recorder
    try:
        ok = await executor.execute(who, conn, spec, GET_ME, {})
        # The provider forgets the refresh token: the next refresh fails.
        oauth_upstream.refresh_token = "rotated-elsewhere"
        secrets.set_oauth_token("acme", "svc", OAuthToken("at-old", "rt-1", time.time() - 10))
        failed = await executor.execute(who, conn, spec, GET_ME, {})
        await recorder.flush()
        page = await store.list_events("acme", EventQuery(type="credential_refresh"))
        (status,) = await store.integration_status("acme", "svc")
    finally:
        await executor.aclose()
        await store.close()

    assert not ok.is_error and failed.is_error
    refused, refreshed = page.events
    assert (refreshed.status, refreshed.connector) == ("success", "svc")
    assert refreshed.detail["connection"] == "svc"
    assert refreshed.detail["expires_at"].endswith("Z")
    assert refused.status == "failure"
    assert refused.error is not None and "invalid" in refused.error
    assert "rt-1" not in refused.error and "client-secret-1" not in refused.error
    assert status.token_expires_at is not None
    assert abs(status.token_expires_at.timestamp() - (time.time() + 3600)) < 60
