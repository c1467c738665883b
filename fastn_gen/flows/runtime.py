"""The flows runtime of one gateway process: starts, drives, leases and resumes runs.

A run is created in the store with this process as its lease owner; a task executes
it while a heartbeat renews the lease. On shutdown, runs still going after a grace
period are stopped and marked ``interrupted``; at start-up (and every half lease) the
process takes over unfinished runs whose lease ended, its own from before a restart
as well as those of a process that died, and resumes or fails each one explicitly
(:mod:`.resume`). A run is therefore never left behind as "running".
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from fastn_gen.flows.engine import FlowEngine, RunResult, RunState
from fastn_gen.flows.errors import FlowRunError
from fastn_gen.flows.event_triggers import EventTriggers
from fastn_gen.flows.invoke import ToolInvoker
from fastn_gen.flows.options import FlowOptions
from fastn_gen.flows.outputs import redact_value
from fastn_gen.flows.resume import ResumePlan, plan_resume
from fastn_gen.flows.scheduler import Scheduler
from fastn_gen.gateway.services import Services
from fastn_gen.gateway.tenancy import Tenant
from fastn_gen.native.flow_spec import FlowSpec
from fastn_gen.store.ids import new_event_id
from fastn_gen.store.records import FlowRecord, FlowRun

if TYPE_CHECKING:
    from fastn_gen.native.registry import NativeTools

logger = logging.getLogger(__name__)

__all__ = ["FlowRunError", "FlowRuntime"]


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _valid_spec(record: FlowRecord) -> FlowSpec:
    """The stored specification, which a version saved by an older release may not match."""
    try:
        return FlowSpec.model_validate(record.spec)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FlowRunError(
            f"Flow {record.name!r} version {record.version} is not a valid flow any more "
            f"({where}: {first['msg']}); save it again"
        ) from None


@dataclass
class _Active:
    run: FlowRun
    task: asyncio.Task[None]
    lost: bool = False


class FlowRuntime:
    def __init__(
        self, services: Services, native: NativeTools, options: FlowOptions | None = None
    ) -> None:
        self.services = services
        self.options = options or FlowOptions.from_env()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.invoker = ToolInvoker(services, native)
        self.engine = FlowEngine(services, self.invoker)
        self.scheduler = Scheduler(self)
        self.triggers = EventTriggers(self)
        self._active: dict[str, _Active] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._closing = False

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.options.lease_s)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._closing = False
        loop = asyncio.get_running_loop()
        self.services.recorder.listener = self.triggers
        self._loops.append(loop.create_task(self.triggers.run(), name="fastn-flow-events"))
        self._loops.append(loop.create_task(self._heartbeat(), name="fastn-flow-leases"))
        if self.services.schedule_flows:
            self._loops.append(loop.create_task(self.scheduler.run(), name="fastn-flow-scheduler"))
            self._loops.append(loop.create_task(self._sweep(), name="fastn-flow-recovery"))

    async def aclose(self) -> None:
        self._closing = True
        self.services.recorder.listener = None
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops.clear()
        running = [active.task for active in self._active.values()]
        if running:
            # Runs get a moment to end; those still going are interrupted (and resumed later).
            _, pending = await asyncio.wait(running, timeout=self.options.shutdown_grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        await self.scheduler.release()

    def flows_changed(self) -> None:
        """A flow was saved, enabled, disabled or deleted here: re-read the schedules."""
        self.scheduler.refresh_soon()

    def running(self, tenant_id: str, flow: str, trigger_type: str) -> bool:
        return any(
            a.run.tenant_id == tenant_id
            and a.run.flow_name == flow
            and a.run.trigger_type == trigger_type
            for a in self._active.values()
        )

    # -- starting runs ------------------------------------------------------------------------

    async def start_run(
        self, tenant: Tenant, record: FlowRecord, trigger: dict[str, Any], key: str | None = None
    ) -> FlowRun | None:
        """Create and start a run; None when a run with ``key`` exists (fired already)."""
        spec = _valid_spec(record)
        now = self.services.clock()
        run_id = new_event_id(now)
        run = FlowRun(
            tenant_id=tenant.id,
            id=run_id,
            flow_name=record.name,
            flow_version=record.version,
            trigger_type=str(trigger["type"]),
            trigger_key=key or f"{trigger['type']}:{run_id}",
            trigger=redact_value(trigger),
            status="running",
            started_at=now,
            owner=self.owner,
            lease_expires_at=now + self.lease,
        )
        if not await self.services.store.create_flow_run(run):
            return None
        state = await self._state(run, tenant, spec, trigger)
        self._spawn(run, self._drive(run, state, None))
        return run

    async def run_manual(
        self,
        tenant: Tenant,
        name: str,
        run_input: dict[str, Any],
        *,
        source: str,
        wait_s: float | None,
    ) -> FlowRun:
        record = await self.services.store.get_flow(tenant.id, name)
        if record is None:
            raise FlowRunError(f"No flow named {name!r} for this tenant")
        if not record.enabled:
            raise FlowRunError(f"Flow {name!r} is disabled; enable it to run it")
        trigger = {"type": "manual", "source": source, "input": run_input}
        run = await self.start_run(tenant, record, trigger)
        assert run is not None  # manual keys are fresh ids
        if wait_s:
            await self.wait(run.id, wait_s)
        return await self.services.store.get_flow_run(tenant.id, run.id) or run

    async def wait(self, run_id: str, timeout_s: float) -> None:
        """Return when the run ends here, or after ``timeout_s`` (the run goes on)."""
        active = self._active.get(run_id)
        if active is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(active.task), timeout_s)
        except TimeoutError:
            pass

    async def _state(
        self, run: FlowRun, tenant: Tenant, spec: FlowSpec, trigger: dict[str, Any]
    ) -> RunState:
        earlier = await self.services.store.list_flow_runs(tenant.id, run.flow_name, limit=10)
        previous = next(
            (r for r in earlier if (r.started_at, r.id) < (run.started_at, run.id)), None
        )
        flow = {
            "name": run.flow_name,
            "version": run.flow_version,
            "run_id": run.id,
            "tenant_id": tenant.id,
            "started_at": iso(run.started_at),
            "previous_run_at": iso(previous.started_at) if previous is not None else None,
        }
        return RunState(run, tenant, spec, {"trigger": trigger, "steps": {}, "flow": flow})

    def _spawn(self, run: FlowRun, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work, name=f"fastn-flow-run-{run.id}")
        self._active[run.id] = _Active(run, task)

    # -- driving a run ------------------------------------------------------------------------

    async def _drive(
        self, run: FlowRun, state: RunState | None, plan: ResumePlan | None, why: str = ""
    ) -> None:
        try:
            if state is None:
                result = RunResult("failed", why or "the flow version no longer exists")
            elif plan is not None and plan.ended is not None:
                result = plan.ended
            else:
                result = await self.engine.execute(state, plan.start if plan else 0)
            await self._finish(run, result)
        except asyncio.CancelledError:
            active = self._active.get(run.id)
            if active is None or not active.lost:
                await self._interrupt(run)
            raise
        except Exception:
            logger.exception("flow run %s of %s failed", run.id, run.flow_name)
            await self._finish(run, RunResult("failed", "internal error in the gateway"))
        finally:
            self._active.pop(run.id, None)

    async def _finish(self, run: FlowRun, result: RunResult) -> None:
        now = self.services.clock()
        ended = await self.services.store.finish_flow_run(
            run.tenant_id, run.id, self.owner, status=result.status, at=now, error=result.error
        )
        if not ended:
            logger.warning("flow run %s was taken over by another process", run.id)
            return
        latency = (now - run.started_at).total_seconds() * 1000.0
        await self._event(run, "run", result.status, result.error, latency)

    async def _interrupt(self, run: FlowRun) -> None:
        now = self.services.clock()
        if await self.services.store.finish_flow_run(
            run.tenant_id, run.id, self.owner, status="interrupted", at=now
        ):
            await self._event(
                run, "interrupted", "interrupted", "the gateway stopped during the run"
            )

    async def _event(
        self, run: FlowRun, phase: str, status: str, error: str | None, latency: float | None = None
    ) -> None:
        await self.services.recorder.event(
            run.tenant_id,
            "flow_run",
            "success" if status in ("succeeded", "running") else "failure",
            latency_ms=latency,
            error=error,
            detail={
                "phase": phase,
                "flow": run.flow_name,
                "version": run.flow_version,
                "run_id": run.id,
                "trigger": run.trigger_type,
                "run_status": status,
                "resumed": run.resumed,
            },
        )

    # -- leases and recovery ------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.options.lease_s / 3)
            until = self.services.clock() + self.lease
            for active in list(self._active.values()):
                run = active.run
                try:
                    kept = await self.services.store.renew_run_lease(
                        run.tenant_id, run.id, self.owner, until=until
                    )
                except Exception:
                    logger.exception("could not renew the lease of flow run %s", run.id)
                    continue
                if not kept and not active.task.done():
                    active.lost = True  # another process resumed it: stop here
                    active.task.cancel()

    async def _sweep(self) -> None:
        while True:
            try:
                await self.recover()
            except Exception:
                logger.exception("recovering interrupted flow runs failed")
            await asyncio.sleep(self.options.lease_s / 2)

    async def recover(self) -> list[FlowRun]:
        """Take over and resume (or fail) every run whose lease has ended."""
        taken: list[FlowRun] = []
        store = self.services.store
        for tenant_id in await store.tenants_with_stale_runs(self.services.clock()):
            tenant = await self.services.registry.find(tenant_id)
            if tenant is None:
                continue  # no longer configured: its runs wait for it to come back
            now = self.services.clock()
            claimed = await self.services.store.claim_stale_runs(
                tenant.id, self.owner, now=now, until=now + self.lease
            )
            for run in claimed:
                await self._resume(run, tenant)
            taken.extend(claimed)
        return taken

    async def _resume(self, run: FlowRun, tenant: Tenant) -> None:
        store = self.services.store
        logger.info("resuming flow run %s of %s (%s)", run.id, run.flow_name, tenant.id)
        await self._event(run, "resumed", "running", None)
        record = await store.get_flow(tenant.id, run.flow_name, run.flow_version)
        if record is None:
            self._spawn(run, self._drive(run, None, None))
            return
        try:
            spec = _valid_spec(record)
        except FlowRunError as exc:
            self._spawn(run, self._drive(run, None, None, str(exc)))
            return
        steps = await store.list_flow_steps(tenant.id, run.id)
        plan = plan_resume(spec, steps, lambda tool: self.invoker.idempotent(tenant, tool))
        now = self.services.clock()
        for stale in plan.stale:
            await store.record_flow_step(
                replace(
                    stale,
                    status="failed",
                    finished_at=now,
                    error="interrupted: the gateway stopped during this step",
                )
            )
        state = await self._state(run, tenant, spec, dict(run.trigger))
        state.data["steps"].update(plan.steps)
        state.next_seq = plan.next_seq
        self._spawn(run, self._drive(run, state, plan))
