"""The event recorder: deferred writes to a real SQLite store, digests, status updates."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fastn_gen.gateway.digest import ArgsDigest, DigestKeyError
from fastn_gen.gateway.outcome import ERR_ARGUMENTS, ERR_HTTP, ERR_UPSTREAM, error_outcome
from fastn_gen.gateway.recording import EventRecorder, credentials_rejected
from fastn_gen.store.records import EventQuery
from fastn_gen.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio

SECRET_ARGUMENT = "the-customer-ssn-078-05-1120"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "fastn.db")
    await s.open()
    yield s
    await s.close()


def digest() -> ArgsDigest:
    return ArgsDigest(b"k" * 32)


async def test_closing_writes_every_queued_event(store: SQLiteStore) -> None:
    recorder = EventRecorder(store, digest(), queue_size=8)
    recorder.start()
    for i in range(300):
        await recorder.event("acme", "tool_call", "success", tool=f"t{i}", arguments={"i": i})
    await recorder.aclose()
    page = await store.list_events("acme", EventQuery(limit=1000))
    assert len(page.events) == 300
    assert recorder.written == 300 and recorder.failed == 0


async def test_flush_makes_earlier_records_readable(store: SQLiteStore) -> None:
    recorder = EventRecorder(store, digest())
    recorder.start()
    try:
        await recorder.event("acme", "auth_failure", "failure", error="wrong key")
        await recorder.flush()
        (event,) = (await store.list_events("acme", EventQuery())).events
        assert (event.type, event.error) == ("auth_failure", "wrong key")
        assert (await store.list_events("globex", EventQuery())).events == ()
    finally:
        await recorder.aclose()


async def test_arguments_are_stored_only_as_a_keyed_digest(store: SQLiteStore) -> None:
    recorder = EventRecorder(store, digest())
    args = {"customer": SECRET_ARGUMENT, "limit": 5}
    await recorder.event("acme", "tool_call", "success", tool="t", arguments=args)
    await recorder.event(
        "acme",
        "tool_call",
        "success",
        tool="t",
        arguments={"limit": 5, "customer": SECRET_ARGUMENT},
    )
    await recorder.flush()
    first, second = (await store.list_events("acme", EventQuery())).events
    assert first.args_digest == second.args_digest  # key order does not matter
    assert first.args_digest is not None and first.args_digest.startswith("hmac-sha256:")
    assert first.args_digest != ArgsDigest(b"j" * 32)(args)  # depends on the key
    assert SECRET_ARGUMENT not in repr(first)
    # Nowhere in the database files either (the write-ahead log included).
    for path in store.path.parent.glob(store.path.name + "*"):
        assert SECRET_ARGUMENT.encode() not in path.read_bytes()


async def test_errors_are_redacted_and_bounded(store: SQLiteStore) -> None:
    recorder = EventRecorder(store, digest())
    token = "xoxb-123456789012-abcdefABCDEF"
    await recorder.event("acme", "tool_call", "failure", error=f"rejected {token} " + "x" * 900)
    await recorder.flush()
    (event,) = (await store.list_events("acme", EventQuery())).events
    assert event.error is not None
    assert token not in event.error and "[REDACTED]" in event.error
    assert len(event.error) <= 501


async def test_a_write_the_store_refuses_does_not_stop_the_writer(store: SQLiteStore) -> None:
    recorder = EventRecorder(store, digest())
    recorder.start()
    await recorder.event("acme", "tool_call", "success", detail={"bad": object()})
    await recorder.event("acme", "tool_call", "success", tool="after")
    await recorder.aclose()
    assert recorder.failed == 1
    (event,) = (await store.list_events("acme", EventQuery())).events
    assert event.tool == "after"


async def test_tool_calls_update_the_integration_status(store: SQLiteStore) -> None:
    recorder = EventRecorder(store, digest())
    unauthorized = error_outcome("HTTP 401 from shopify", ERR_HTTP, 3.0, 401)
    await recorder.tool_call("acme", "shopify_list_orders", "shopify", unauthorized, {})
    bad_arguments = error_outcome("Invalid arguments", ERR_ARGUMENTS, 0.0)
    await recorder.tool_call("acme", "slack_send_message", "slack", bad_arguments, {})
    await recorder.flush()
    (status,) = await store.integration_status("acme")
    assert (status.connector, status.health, status.calls_failed) == (
        "shopify",
        "credentials_expired",
        1,
    )
    assert len((await store.list_events("acme", EventQuery())).events) == 2


def test_credentials_are_rejected_by_status_or_by_a_known_api_error() -> None:
    assert credentials_rejected(error_outcome("x", ERR_HTTP, 1.0, 403))
    assert not credentials_rejected(error_outcome("x", ERR_HTTP, 1.0, 500))
    slack_auth = "Upstream error from slack (auth_test): ok=false: invalid_auth"
    assert credentials_rejected(error_outcome(slack_auth, ERR_UPSTREAM, 1.0, 200))
    slack_channel = "Upstream error from slack (x): ok=false: channel_not_found"
    assert not credentials_rejected(error_outcome(slack_channel, ERR_UPSTREAM, 1.0, 200))


def test_the_digest_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = ArgsDigest.for_data_dir(data, environ={})
    mode = stat.S_IMODE((data / "digest.key").stat().st_mode)
    assert mode == 0o600
    assert ArgsDigest.for_data_dir(data, environ={})({"a": 1}) == first({"a": 1})
    os.chmod(data / "digest.key", 0o644)
    with pytest.raises(DigestKeyError, match="accessible by other users"):
        ArgsDigest.for_data_dir(data, environ={})
    with pytest.raises(DigestKeyError, match="not valid base64"):
        ArgsDigest.for_data_dir(data, environ={"FASTN_DIGEST_KEY": "???"})


async def test_queued_records_share_transactions_and_keep_their_order(store: SQLiteStore) -> None:
    from fastn_gen.gateway.outcome import ToolOutcome

    recorder = EventRecorder(store, digest())
    recorder.start()
    try:
        before = store._runner.transactions
        ok = ToolOutcome(False, "{}", {}, 200, 1.0)
        failed = error_outcome("stripe said 500", ERR_HTTP, 1.0, 500)
        for i in range(60):
            outcome = failed if i == 59 else ok
            await recorder.tool_call("acme", f"t{i}", "stripe", outcome, {"i": i})
        await recorder.flush()
        # 120 writes (an event and a status update per call) in a few grouped commits.
        assert store._runner.transactions - before < 20
        assert recorder.written == 120 and recorder.failed == 0
        page = await store.list_events("acme", EventQuery(limit=100))
        assert len(page.events) == 60
        (status,) = await store.integration_status("acme")
        # Applied in call order: the failure came last, so it is the one that counts.
        assert (status.calls_ok, status.calls_failed, status.consecutive_failures) == (59, 1, 1)
    finally:
        await recorder.aclose()
