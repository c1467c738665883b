"""SQLite writes queued together commit together, each still on its own (real files)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from fastn_gen.store.records import CounterLimit, CounterRefusal
from fastn_gen.store.sqlite import SQLiteStore
from tests.store.helpers import event

pytestmark = pytest.mark.anyio


async def _hold_writer(store: SQLiteStore) -> tuple[threading.Event, asyncio.Task[None]]:
    """Keep the writer thread busy until the event is set, so later writes queue up."""
    release, started = threading.Event(), threading.Event()

    def block(db: sqlite3.Connection) -> None:
        started.set()
        release.wait(10)

    task = asyncio.ensure_future(store._runner.write(block))
    while not started.is_set():
        await asyncio.sleep(0.005)
    return release, task


async def test_writes_queued_meanwhile_share_one_transaction(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        release, blocker = await _hold_writer(store)
        before = store._runner.transactions
        writes = [asyncio.ensure_future(store.record_event(event("acme", i))) for i in range(20)]
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(blocker, *writes)
        assert store._runner.transactions == before + 1
        with sqlite3.connect(tmp_path / "s.sqlite3") as db:
            assert db.execute("SELECT count(*) FROM events").fetchone() == (20,)


async def test_a_failing_write_is_rolled_back_alone(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        release, blocker = await _hold_writer(store)

        def half_then_fail(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO usage_counters VALUES ('acme', 'k', 'p', 5)")
            raise ValueError("bad write")

        first = asyncio.ensure_future(store.record_event(event("acme", 1)))
        failing = asyncio.ensure_future(store._runner.write(half_then_fail))
        last = asyncio.ensure_future(store.record_event(event("acme", 2)))
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(blocker, first, last)
        with pytest.raises(ValueError, match="bad write"):
            await failing
        assert await store.usage("acme") == []
        with sqlite3.connect(tmp_path / "s.sqlite3") as db:
            assert db.execute("SELECT count(*) FROM events").fetchone() == (2,)


async def test_quota_checks_in_one_group_stay_exact(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        release, blocker = await _hold_writer(store)
        limit = [CounterLimit("calls", "2026-11", 7)]
        calls = [asyncio.ensure_future(store.consume("acme", limit)) for _ in range(12)]
        await asyncio.sleep(0.05)
        release.set()
        await blocker
        answers = await asyncio.gather(*calls)
        assert answers[:7] == [None] * 7  # admitted in the order they were asked
        assert answers[7:] == [CounterRefusal("calls", "2026-11", 7, 7)] * 5
        assert [(u.key, u.used) for u in await store.usage("acme")] == [("calls", 7)]


async def test_writes_after_close_are_refused(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    await store.open()
    await store.close()
    with pytest.raises(Exception, match="not open"):
        await store.record_event(event("acme", 1))
