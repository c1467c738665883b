"""An expired OAuth token is refreshed once across replicas sharing one store.

Two executors stand for two gateway replicas: separate processes' worth of state
(their own secrets files, holding the same expired token as deployed), one store. The
token endpoint rotates refresh tokens, so a second refresh with the old one would fail.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from pathlib import Path

import pytest

from fastn_gen.gateway.executor import Executor
from fastn_gen.gateway.oauth_shared import SharedTokens
from fastn_gen.gateway.secrets import OAuthToken, SecretStore
from tests.gateway.test_oauth_refresh import ENV, GET_ME, connector
from tests.store.conftest import Backend
from tests.upstreams import OAuthUpstream
from tests.upstreams.specs import connection, tenant

pytestmark = pytest.mark.anyio
CALLS_PER_REPLICA = 20


async def test_twenty_calls_on_each_of_two_replicas_refresh_once(
    backend: Backend, oauth_upstream: OAuthUpstream, tmp_path: Path
) -> None:
    oauth_upstream.refresh_token = "rt-0"
    oauth_upstream.token_delay_s = 0.2  # every call is waiting while the refresh runs
    key = {"FASTN_SECRETS_KEY": base64.b64encode(os.urandom(32)).decode()}
    creds = {"client_id": "${CLIENT_ID}", "client_secret": "${CLIENT_SECRET}"}
    spec = connector(oauth_upstream)
    replicas = []
    for n in range(2):
        secrets_file = SecretStore.for_data_dir(tmp_path / f"replica-{n}", environ=key)
        secrets_file.set_oauth_token("acme", "svc", OAuthToken("at-old", "rt-0", time.time() - 5))
        conn = connection("svc", creds)
        executor = Executor(environ=ENV)
        store = backend.make()
        await store.open()
        executor.oauth.shared = SharedTokens(store)
        replicas.append((executor, tenant("acme", conn, secret_store=secrets_file), conn, store))
    try:
        outcomes = await asyncio.gather(
            *(
                executor.execute(who, conn, spec, GET_ME, {})
                for executor, who, conn, _ in replicas
                for _ in range(CALLS_PER_REPLICA)
            )
        )
        # Later calls on either replica use the shared token without refreshing.
        later = await replicas[1][0].execute(replicas[1][1], replicas[1][2], spec, GET_ME, {})
    finally:
        for executor, _, _, store in replicas:
            await executor.aclose()
            await store.close()
    assert [o.is_error for o in outcomes] == [False] * 2 * CALLS_PER_REPLICA, outcomes[0].text
    assert not later.is_error
    assert len(oauth_upstream.token_requests) == 1
    calls = [r for r in oauth_upstream.requests if r.path == "/api/me"]
    assert {r.header("authorization") for r in calls} == {"Bearer at-1"}
    assert sum(executor.oauth.refresh_count for executor, *_ in replicas) == 1


async def test_a_shared_token_is_unreadable_under_another_secrets_key(
    backend: Backend, tmp_path: Path
) -> None:
    from fastn_gen.gateway.oauth import OAuthContext
    from fastn_gen.runtime.operation import AuthSpec, ConnectorSpec

    spec = ConnectorSpec("svc", "Svc", "", "http://127.0.0.1:9", AuthSpec(kind="oauth2"))

    def context(name: str) -> OAuthContext:
        key = {"FASTN_SECRETS_KEY": base64.b64encode(os.urandom(32)).decode()}
        store = SecretStore.for_data_dir(tmp_path / name, environ=key)
        return OAuthContext("acme", "svc", spec, {}, {}, store)

    async with backend.make() as store:
        shared = SharedTokens(store)
        mine = context("a")
        assert await shared.save(mine, OAuthToken("at-secret", "rt-secret", None))
        blob = await store.get_secret_blob("acme", "oauth:svc")
        assert blob is not None and b"at-secret" not in blob and b"rt-secret" not in blob
        assert await shared.load(mine) == OAuthToken("at-secret", "rt-secret", None)
        assert await shared.load(context("b")) is None
