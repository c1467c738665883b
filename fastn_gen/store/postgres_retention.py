"""Retention on PostgreSQL (mixed into ``PostgresStore``): see ``fastn_gen.store.retention``.

Each batch is one statement on an autocommit connection, so its own short transaction;
rows are picked by key in a subquery (``DELETE`` has no ``LIMIT``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastn_gen.store.cursor import as_utc
from fastn_gen.store.retention import (
    DEFAULT_BATCH,
    FINISHED,
    PruneCounts,
    check_batch,
    usage_condition,
    usage_params,
)

_OLD_RUNS = f"{FINISHED} AND finished_at < %s"
_DELETE_EVENTS = (
    "DELETE FROM events e USING (SELECT tenant_id, id FROM events WHERE at < %s LIMIT %s) old "
    "WHERE e.tenant_id = old.tenant_id AND e.id = old.id"
)
_DELETE_USAGE = (
    "DELETE FROM usage_counters u USING (SELECT tenant_id, key, period FROM usage_counters "
    f"WHERE {usage_condition('%s')} LIMIT %s) old "
    "WHERE u.tenant_id = old.tenant_id AND u.key = old.key AND u.period = old.period"
)
# Runs and their steps in one statement (one transaction); both deletes see the same
# snapshot, so every step of a deleted run goes with it.
_DELETE_RUNS = f"""
WITH old AS (SELECT tenant_id, id FROM flow_runs WHERE {_OLD_RUNS} LIMIT %s),
steps AS (
    DELETE FROM flow_steps s USING old WHERE s.tenant_id = old.tenant_id AND s.run_id = old.id
    RETURNING 1
),
runs AS (
    DELETE FROM flow_runs r USING old WHERE r.tenant_id = old.tenant_id AND r.id = old.id
    RETURNING 1
)
SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM steps)"""
_COUNT = f"""
SELECT (SELECT count(*) FROM events WHERE at < %s),
       (SELECT count(*) FROM usage_counters WHERE {usage_condition("%s")}),
       (SELECT count(*) FROM flow_runs WHERE {_OLD_RUNS}),
       (SELECT count(*) FROM flow_steps WHERE (tenant_id, run_id) IN
            (SELECT tenant_id, id FROM flow_runs WHERE {_OLD_RUNS}))"""


class PostgresRetention:
    # Provided by PostgresStore.
    async def _fetchall(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    async def _rowcount(self, query: str, params: Sequence[Any]) -> int:
        raise NotImplementedError

    async def prune_older_than(
        self, before: datetime, *, batch_size: int = DEFAULT_BATCH, dry_run: bool = False
    ) -> PruneCounts:
        batch = check_batch(batch_size)
        moment, periods = as_utc(before), usage_params(before)
        if dry_run:
            rows = await self._fetchall(_COUNT, (moment, *periods, moment, moment))
            events, usage, runs, steps = rows[0]
            return PruneCounts(events, usage, runs, steps)
        events = await self._batches(_DELETE_EVENTS, (moment,), batch)
        usage = await self._batches(_DELETE_USAGE, periods, batch)
        runs = steps = 0
        while True:
            rows = await self._fetchall(_DELETE_RUNS, (moment, batch))
            done_runs, done_steps = rows[0]
            runs, steps = runs + done_runs, steps + done_steps
            if done_runs < batch:
                break
        return PruneCounts(events=events, usage=usage, flow_runs=runs, flow_steps=steps)

    async def _batches(self, sql: str, params: Sequence[Any], batch: int) -> int:
        total = 0
        while True:
            deleted = await self._rowcount(sql, (*params, batch))
            total += deleted
            if deleted < batch:
                return total
