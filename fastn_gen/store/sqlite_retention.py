"""Retention on SQLite (mixed into ``SQLiteStore``): see ``fastn_gen.store.retention``.

Each batch is one write on the store's writer thread: other writes queued meanwhile
run between batches, so a large backlog never holds the write lock for long.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastn_gen.store.cursor import to_micros
from fastn_gen.store.retention import (
    DEFAULT_BATCH,
    FINISHED,
    PruneCounts,
    check_batch,
    usage_condition,
    usage_params,
)
from fastn_gen.store.sqlite_runner import SQLiteRunner

_OLD_EVENTS = "at < ?"
_OLD_USAGE = usage_condition("?")
_OLD_RUNS = f"{FINISHED} AND finished_at < ?"


class SQLiteRetention:
    _runner: SQLiteRunner

    async def prune_older_than(
        self, before: datetime, *, batch_size: int = DEFAULT_BATCH, dry_run: bool = False
    ) -> PruneCounts:
        batch = check_batch(batch_size)
        moment = to_micros(before)
        if dry_run:
            return await self._runner.read(lambda db: _count(db, moment, before))
        events = await self._batches("events", _OLD_EVENTS, (moment,), batch)
        usage = await self._batches("usage_counters", _OLD_USAGE, usage_params(before), batch)
        runs = steps = 0
        while True:
            done_runs, done_steps = await self._runner.write(
                lambda db: _delete_runs(db, moment, batch)
            )
            runs, steps = runs + done_runs, steps + done_steps
            if done_runs < batch:
                break
        return PruneCounts(events=events, usage=usage, flow_runs=runs, flow_steps=steps)

    async def _batches(self, table: str, where: str, params: Sequence[Any], batch: int) -> int:
        pick = f"SELECT rowid FROM {table} WHERE {where} LIMIT ?"
        sql = f"DELETE FROM {table} WHERE rowid IN ({pick})"
        total = 0
        while True:
            deleted: int = await self._runner.write(
                lambda db: db.execute(sql, (*params, batch)).rowcount
            )
            total += deleted
            if deleted < batch:
                return total


def _delete_runs(db: sqlite3.Connection, moment: int, batch: int) -> tuple[int, int]:
    """One batch of finished runs, with their steps, in one transaction."""
    rows = db.execute(
        f"SELECT tenant_id, id FROM flow_runs WHERE {_OLD_RUNS} LIMIT ?", (moment, batch)
    ).fetchall()
    steps = 0
    for tenant_id, run_id in rows:
        steps += db.execute(
            "DELETE FROM flow_steps WHERE tenant_id = ? AND run_id = ?", (tenant_id, run_id)
        ).rowcount
        db.execute("DELETE FROM flow_runs WHERE tenant_id = ? AND id = ?", (tenant_id, run_id))
    return len(rows), steps


def _count(db: sqlite3.Connection, moment: int, before: datetime) -> PruneCounts:
    def one(sql: str, params: Sequence[Any]) -> int:
        return int(db.execute(sql, params).fetchone()[0])

    return PruneCounts(
        events=one(f"SELECT count(*) FROM events WHERE {_OLD_EVENTS}", (moment,)),
        usage=one(f"SELECT count(*) FROM usage_counters WHERE {_OLD_USAGE}", usage_params(before)),
        flow_runs=one(f"SELECT count(*) FROM flow_runs WHERE {_OLD_RUNS}", (moment,)),
        flow_steps=one(
            "SELECT count(*) FROM flow_steps WHERE (tenant_id, run_id) IN "
            f"(SELECT tenant_id, id FROM flow_runs WHERE {_OLD_RUNS})",
            (moment,),
        ),
    )
