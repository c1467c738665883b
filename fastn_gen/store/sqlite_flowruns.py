"""Flow runs, flow steps and leases on SQLite (mixed into ``SQLiteStore``).

Every claim (a new run, a lease, a stale run) is one statement inside the writer's
``BEGIN IMMEDIATE`` transaction, so processes sharing the file never both win.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from fastn_gen.store.cursor import from_micros, to_micros
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
from fastn_gen.store.sqlite_runner import SQLiteRunner


def _time(micros: int | None) -> datetime | None:
    return None if micros is None else from_micros(micros)


def _micros(moment: datetime | None) -> int | None:
    return None if moment is None else to_micros(moment)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def run_row(row: tuple[Any, ...]) -> FlowRun:
    return FlowRun(
        tenant_id=row[0],
        id=row[1],
        flow_name=row[2],
        flow_version=row[3],
        trigger_type=row[4],
        trigger_key=row[5],
        trigger=json.loads(row[6]),
        status=row[7],
        started_at=from_micros(row[8]),
        finished_at=_time(row[9]),
        error=row[10],
        resumed=row[11],
        owner=row[12],
        lease_expires_at=_time(row[13]),
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
        started_at=from_micros(row[9]),
        finished_at=_time(row[10]),
        latency_ms=row[11],
        output=None if row[12] is None else json.loads(row[12]),
        output_truncated=bool(row[13]),
        error=row[14],
        detail=json.loads(row[15]),
    )


class SQLiteFlowRuns:
    _runner: SQLiteRunner

    async def create_flow_run(self, run: FlowRun) -> bool:
        check_new_run(run)
        params = (
            run.tenant_id,
            run.id,
            run.flow_name,
            run.flow_version,
            run.trigger_type,
            run.trigger_key,
            _json(run.trigger),
            run.status,
            to_micros(run.started_at),
            _micros(run.finished_at),
            run.error,
            run.resumed,
            run.owner,
            _micros(run.lease_expires_at),
        )
        sql = f"INSERT INTO flow_runs ({RUN_COLUMNS}) VALUES ({', '.join('?' * 14)}) "
        sql += "ON CONFLICT DO NOTHING"
        return await self._runner.write(lambda db: db.execute(sql, params).rowcount > 0)

    async def get_flow_run(self, tenant_id: str, run_id: str) -> FlowRun | None:
        sql = f"SELECT {RUN_COLUMNS} FROM flow_runs WHERE tenant_id = ? AND id = ?"
        row = await self._runner.read(lambda db: db.execute(sql, (tenant_id, run_id)).fetchone())
        return None if row is None else run_row(row)

    async def list_flow_runs(
        self,
        tenant_id: str,
        flow_name: str | None = None,
        *,
        status: FlowRunStatus | None = None,
        limit: int = 20,
    ) -> list[FlowRun]:
        sql = f"SELECT {RUN_COLUMNS} FROM flow_runs WHERE tenant_id = ?"
        params: list[Any] = [tenant_id]
        if flow_name is not None:
            sql, params = sql + " AND flow_name = ?", [*params, flow_name]
        if status is not None:
            sql, params = sql + " AND status = ?", [*params, status]
        sql += " ORDER BY started_at DESC, id DESC LIMIT ?"
        params.append(runs_limit(limit))
        rows = await self._runner.read(lambda db: db.execute(sql, params).fetchall())
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
        # interrupted keeps the lease's owner but ends the lease, so a restart takes over.
        ended = to_micros(at)
        finished = None if status == "interrupted" else ended
        sql = (
            "UPDATE flow_runs SET status = ?, finished_at = ?, error = ?, lease_expires_at = ? "
            "WHERE tenant_id = ? AND id = ? AND owner = ? AND status = 'running'"
        )
        params = (status, finished, error, ended, tenant_id, run_id, owner)
        return await self._runner.write(lambda db: db.execute(sql, params).rowcount > 0)

    async def renew_run_lease(
        self, tenant_id: str, run_id: str, owner: str, *, until: datetime
    ) -> bool:
        sql = (
            "UPDATE flow_runs SET lease_expires_at = ? "
            "WHERE tenant_id = ? AND id = ? AND owner = ? AND status = 'running'"
        )
        params = (to_micros(until), tenant_id, run_id, owner)
        return await self._runner.write(lambda db: db.execute(sql, params).rowcount > 0)

    async def claim_stale_runs(
        self, tenant_id: str, owner: str, *, now: datetime, until: datetime
    ) -> list[FlowRun]:
        sql = (
            "UPDATE flow_runs SET owner = ?, lease_expires_at = ?, status = 'running', "
            "resumed = resumed + 1 "
            f"WHERE tenant_id = ? AND {UNFINISHED} AND {not_own_running('?')} AND "
            "(lease_expires_at IS NULL OR lease_expires_at <= ?) "
            f"RETURNING {RUN_COLUMNS}"
        )
        params = (owner, to_micros(until), tenant_id, owner, to_micros(now))
        rows = await self._runner.write(lambda db: db.execute(sql, params).fetchall())
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
            to_micros(step.started_at),
            _micros(step.finished_at),
            step.latency_ms,
            None if step.output is None else _json(step.output),
            int(step.output_truncated),
            step.error,
            _json(step.detail),
        )
        updates = ", ".join(f"{c} = excluded.{c}" for c in STEP_COLUMNS.split(", ")[3:])
        sql = (
            f"INSERT INTO flow_steps ({STEP_COLUMNS}) VALUES ({', '.join('?' * 16)}) "
            f"ON CONFLICT (tenant_id, run_id, seq) DO UPDATE SET {updates}"
        )
        await self._runner.write(lambda db: db.execute(sql, params))

    async def list_flow_steps(self, tenant_id: str, run_id: str) -> list[FlowStepRecord]:
        sql = (
            f"SELECT {STEP_COLUMNS} FROM flow_steps WHERE tenant_id = ? AND run_id = ? ORDER BY seq"
        )
        rows = await self._runner.read(lambda db: db.execute(sql, (tenant_id, run_id)).fetchall())
        return [step_row(row) for row in rows]

    async def list_scheduled_flows(self) -> list[FlowRecord]:
        sql = (
            ENABLED_FLOWS + "AND json_extract(v.spec, '$.trigger.type') = 'schedule' "
            "ORDER BY f.tenant_id, f.name"
        )
        rows = await self._runner.read(lambda db: db.execute(sql).fetchall())
        return [
            FlowRecord(r[0], r[1], r[2], json.loads(r[3]), bool(r[4]), from_micros(r[5]))
            for r in rows
        ]

    async def tenants_with_stale_runs(self, now: datetime) -> list[str]:
        sql = (
            f"SELECT DISTINCT tenant_id FROM flow_runs WHERE {UNFINISHED} "
            "AND (lease_expires_at IS NULL OR lease_expires_at <= ?) ORDER BY tenant_id"
        )
        rows = await self._runner.read(lambda db: db.execute(sql, (to_micros(now),)).fetchall())
        return [row[0] for row in rows]

    async def acquire_lease(self, name: str, owner: str, *, now: datetime, until: datetime) -> bool:
        sql = (
            "INSERT INTO flow_leases (name, owner, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, "
            "expires_at = excluded.expires_at "
            "WHERE flow_leases.owner = excluded.owner OR flow_leases.expires_at <= ?"
        )
        params = (name, owner, to_micros(until), to_micros(now))
        return await self._runner.write(lambda db: db.execute(sql, params).rowcount > 0)

    async def release_lease(self, name: str, owner: str) -> bool:
        sql = "DELETE FROM flow_leases WHERE name = ? AND owner = ?"
        return await self._runner.write(lambda db: db.execute(sql, (name, owner)).rowcount > 0)

    @staticmethod
    def _delete_runs(db: sqlite3.Connection, tenant_id: str, name: str) -> None:
        """Part of ``delete_flow``: the flow's runs and their steps go with it."""
        db.execute(
            "DELETE FROM flow_steps WHERE tenant_id = ? AND run_id IN "
            "(SELECT id FROM flow_runs WHERE tenant_id = ? AND flow_name = ?)",
            (tenant_id, tenant_id, name),
        )
        db.execute("DELETE FROM flow_runs WHERE tenant_id = ? AND flow_name = ?", (tenant_id, name))
