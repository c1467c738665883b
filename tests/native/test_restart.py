"""Events, usage, status and flows survive a gateway restart (SQLite and PostgreSQL)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.native.deployment import Deployment, call_error, call_ok, connect
from tests.store.postgres_server import POSTGRES_URL, drop_schema, ensure_postgres

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgres"])
def restartable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    extra: list[str] = []
    schema = None
    if request.param == "postgres":
        ensure_postgres()
        schema = "fastn_gw_" + secrets.token_hex(4)
        extra = ["--store", f"{POSTGRES_URL}?schema={schema}"]
    dep = Deployment.start(tmp_path, extra=extra)
    try:
        yield dep
    finally:
        dep.stop()
        if schema is not None:
            drop_schema(schema)


async def test_the_store_survives_a_restart(restartable: Deployment) -> None:
    dep = restartable
    flow = {
        "name": "ping",
        "trigger": {"type": "manual"},
        "steps": [{"id": "list", "tool": "slack_list_channels"}],
    }
    async with connect(dep.gateway.url, dep.keys["metered"]) as metered:
        await call_ok(metered, "slack_list_channels", {})
        await call_ok(metered, "shopify_list_orders", {"status": "any"})
        await call_error(metered, "shopify_list_orders", {"status": "any"})  # over quota
        await call_ok(metered, "fastn_create_flow", flow)
        before = await call_ok(metered, "fastn_get_event_history", {"limit": 200})
        usage_before = await call_ok(metered, "fastn_get_usage_summary")

    # SIGINT: a clean shutdown writes every queued event before the process exits.
    dep.restart()

    async with connect(dep.gateway.url, dep.keys["metered"]) as metered:
        after = await call_ok(metered, "fastn_get_event_history", {"limit": 200})
        usage_after = await call_ok(metered, "fastn_get_usage_summary")
        status = await call_ok(metered, "fastn_get_integration_status", {"connector": "shopify"})
        second = await call_ok(metered, "fastn_create_flow", flow)
        await call_ok(metered, "slack_send_message", {"channel": "C001", "text": "x"})
        refused = await call_error(metered, "slack_list_channels", {})

    before_ids = [e["id"] for e in before["events"]]
    after_ids = [e["id"] for e in after["events"]]
    # Everything from before is still there; the only newer events are the two calls
    # made after the restart that read them (the history call itself, the usage call).
    assert after_ids[-len(before_ids) :] == before_ids
    assert len(after_ids) == len(before_ids) + 2
    assert usage_after["calls"] == usage_before["calls"] == 2
    assert status["calls_ok"] == 1 and status["last_success_at"] is not None
    assert second["version"] == 2
    if "--store" not in dep.gateway.args:
        assert (dep.root / "data" / "fastn.db").is_file()  # the embedded default
    # The quota kept counting across the restart: 3 calls in all, then refused.
    assert "tool_calls_per_month for the tenant is 3" in refused.content[0].text  # type: ignore[union-attr]
