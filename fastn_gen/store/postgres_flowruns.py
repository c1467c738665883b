"""Flow runs, flow steps and leases on PostgreSQL (mixed into ``PostgresStore``).

Claims are single statements: a unique key decides which of several replicas creates a
run, and ``UPDATE ... WHERE`` re-checks its condition on the locked row, so two
replicas never take over the same stale run or lease.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from fastn_gen.store.cursor import as_utc
from fastn_gen.store.flowrun_rules import (
    ENABLED_FLOWS,
    RUN_COLUMNS,
    STEP_COLUMNS,
    UNFINISHED,
    check_new_run,
    check_step,
    not_own_running,
    runs_limit,
)
from fastn_gen.store.records import FlowRecord, FlowRun, FlowRunStatus, FlowStepRecord

Conn = psycopg.AsyncConnection[Any]

_STEP_UPDATES = ", ".join(f"{c} = EXCLUDED.{c}" for c in STEP_COLUMNS.split(", ")[3:])


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def run_row(row: tuple[Any, ...]) -> FlowRun:
    return FlowRun(
        tenant_id=row[0],
        id=row[1],
        flow_name=row[2],
        flow_version=row[3],
        trigger_type=row[4],
        trigger_key=row[5],
        trigger=row[6],
        status=row[7],
        started_at=row[8].astimezone(UTC),
        finished_at=_utc(row[9]),
        error=row[10],
        resumed=row[11],
        owner=row[12],
        lease_expires_at=_utc(row[13]),
    )


def step_row(row: tuple[Any, ...]) -> FlowStepRecord:
    return FlowStepRecord(
        tenant_id=row[0],
        run_id=row[1],
        seq=row[2],
        step_id=row[3],
        item_index=row[4],
        branch_of=row[5],
        tool=row[6],
        status=row[7],
        attempts=row[8],
        started_at=row[9].astimezone(UTC),
        finished_at=_utc(row[10]),
        latency_ms=row[11],
        output=row[12],
        output_truncated=row[13],
        error=row[14],
        detail=row[15],
    )


class PostgresFlowRuns:
    # Provided by PostgresStore.
    async def _fetchall(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    async def _rowcount(self, query: str, params: Sequence[Any]) -> int:
        raise NotImplementedError

    async def create_flow_run(self, run: FlowRun) -> bool:
        check_new_run(run)
        params = (
            run.tenant_id,
            run.id,
            run.flow_name,
            run.flow_version,
            run.trigger_type,
            run.trigger_key,
            Jsonb(run.trigger),
            run.status,
            as_utc(run.started_at),
            None if run.finished_at is None else as_utc(run.finished_at),
            run.error,
            run.resumed,
            run.owner,
            None if run.lease_expires_at is None else as_utc(run.lease_expires_at),
        )
        marks = ", ".join(["%s"] * len(params))
        added = await self._rowcount(
            f"INSERT INTO flow_runs ({RUN_COLUMNS}) VALUES ({marks}) ON CONFLICT DO NOTHING",
            params,
        )
        return added > 0

    async def get_flow_run(self, tenant_id: str, run_id: str) -> FlowRun | None:
        rows = await self._fetchall(
            f"SELECT {RUN_COLUMNS} FROM flow_runs WHERE tenant_id = %s AND id = %s",
            (tenant_id, run_id),
        )
        return run_row(rows[0]) if rows else None

    async def list_flow_runs(
        self,
        tenant_id: str,
        flow_name: str | None = None,
        *,
        status: FlowRunStatus | None = None,
        limit: int = 20,
    ) -> list[FlowRun]:
        rows = await self._fetchall(
            f"SELECT {RUN_COLUMNS} FROM flow_runs WHERE tenant_id = %s "
            "AND (%s::text IS NULL OR flow_name = %s) AND (%s::text IS NULL OR status = %s) "
            "ORDER BY started_at DESC, id DESC LIMIT %s",
            (tenant_id, flow_name, flow_name, status, status, runs_limit(limit)),
        )
        return [run_row(row) for row in rows]

    async def finish_flow_run(
        self,
        tenant_id: str,
        run_id: str,
        owner: str,
        *,
        status: FlowRunStatus,
        at: datetime,
        error: str | None = None,
    ) -> bool:
        ended = as_utc(at)
        finished = None if status == "interrupted" else ended
        changed = await self._rowcount(
            "UPDATE flow_runs SET status = %s, finished_at = %s, error = %s, "
            "lease_expires_at = %s "
            "WHERE tenant_id = %s AND id = %s AND owner = %s AND status = 'running'",
            (status, finished, error, ended, tenant_id, run_id, owner),
        )
        return changed > 0

    async def renew_run_lease(
        self, tenant_id: str, run_id: str, owner: str, *, until: datetime
    ) -> bool:
        changed = await self._rowcount(
            "UPDATE flow_runs SET lease_expires_at = %s "
            "WHERE tenant_id = %s AND id = %s AND owner = %s AND status = 'running'",
            (as_utc(until), tenant_id, run_id, owner),
        )
        return changed > 0

    async def claim_stale_runs(
        self, tenant_id: str, owner: str, *, now: datetime, until: datetime
    ) -> list[FlowRun]:
        rows = await self._fetchall(
            "UPDATE flow_runs SET owner = %s, lease_expires_at = %s, status = 'running', "
            "resumed = resumed + 1 "
            f"WHERE tenant_id = %s AND {UNFINISHED} AND {not_own_running('%s')} AND "
            "(lease_expires_at IS NULL OR lease_expires_at <= %s) "
            f"RETURNING {RUN_COLUMNS}",
            (owner, as_utc(until), tenant_id, owner, as_utc(now)),
        )
        return sorted((run_row(row) for row in rows), key=lambda r: (r.started_at, r.id))

    async def record_flow_step(self, step: FlowStepRecord) -> None:
        check_step(step)
        params = (
            step.tenant_id,
            step.run_id,
            step.seq,
            step.step_id,
            step.item_index,
            step.branch_of,
            step.tool,
            step.status,
            step.attempts,
            as_utc(step.started_at),
            None if step.finished_at is None else as_utc(step.finished_at),
            step.latency_ms,
            None if step.output is None else Jsonb(step.output),
            step.output_truncated,
            step.error,
            Jsonb(step.detail),
        )
        marks = ", ".join(["%s"] * len(params))
        await self._rowcount(
            f"INSERT INTO flow_steps ({STEP_COLUMNS}) VALUES ({marks}) "
            f"ON CONFLICT (tenant_id, run_id, seq) DO UPDATE SET {_STEP_UPDATES}",
            params,
        )

    async def list_flow_steps(self, tenant_id: str, run_id: str) -> list[FlowStepRecord]:
        rows = await self._fetchall(
            f"SELECT {STEP_COLUMNS} FROM flow_steps WHERE tenant_id = %s AND run_id = %s "
            "ORDER BY seq",
            (tenant_id, run_id),
        )
        return [step_row(row) for row in rows]

    async def list_scheduled_flows(self) -> list[FlowRecord]:
        rows = await self._fetchall(
            ENABLED_FLOWS + "AND v.spec->'trigger'->>'type' = 'schedule' "
            "ORDER BY f.tenant_id, f.name",
            (),
        )
        return [FlowRecord(r[0], r[1], r[2], r[3], r[4], r[5].astimezone(UTC)) for r in rows]

    async def tenants_with_stale_runs(self, now: datetime) -> list[str]:
        rows = await self._fetchall(
            f"SELECT DISTINCT tenant_id FROM flow_runs WHERE {UNFINISHED} "
            "AND (lease_expires_at IS NULL OR lease_expires_at <= %s) ORDER BY tenant_id",
            (as_utc(now),),
        )
        return [row[0] for row in rows]

    async def acquire_lease(self, name: str, owner: str, *, now: datetime, until: datetime) -> bool:
        rows = await self._fetchall(
            "INSERT INTO flow_leases AS l (name, owner, expires_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, "
            "expires_at = EXCLUDED.expires_at "
            "WHERE l.owner = EXCLUDED.owner OR l.expires_at <= %s RETURNING owner",
            (name, owner, as_utc(until), as_utc(now)),
        )
        return bool(rows)

    async def release_lease(self, name: str, owner: str) -> bool:
        changed = await self._rowcount(
            "DELETE FROM flow_leases WHERE name = %s AND owner = %s", (name, owner)
        )
        return changed > 0

    @staticmethod
    async def _delete_runs(conn: Conn, tenant_id: str, name: str) -> None:
        """Part of ``delete_flow``: the flow's runs and their steps go with it."""
        await conn.execute(
            "DELETE FROM flow_steps WHERE tenant_id = %s AND run_id IN "
            "(SELECT id FROM flow_runs WHERE tenant_id = %s AND flow_name = %s)",
            (tenant_id, tenant_id, name),
        )
        await conn.execute(
            "DELETE FROM flow_runs WHERE tenant_id = %s AND flow_name = %s", (tenant_id, name)
        )
