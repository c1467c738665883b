"""Runs a flow's steps in order: conditions, for_each, retries, on_failure branches.

What a later step sees of an earlier one, as ``steps.<id>``::

    {"status": "succeeded" | "failed" | "skipped", "result": ..., "error": ..., "attempts": n}

``result`` is the tool's structured result (a list of results, one per element, for a
``for_each`` step; null for elements that failed or were skipped). Every step, and
every element of a ``for_each`` step, is recorded in the store when it starts and again
when it ends, and each finished step is recorded as a ``flow_run`` event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from fastn_gen.flows.expressions import ExpressionError, bare_expression, evaluate, render, truthy
from fastn_gen.flows.invoke import CallOutcome, ToolInvoker, failure
from fastn_gen.flows.outputs import stored_output
from fastn_gen.flows.retry import NO_RETRY, backoff_s
from fastn_gen.gateway.services import Services
from fastn_gen.gateway.tenancy import Tenant
from fastn_gen.native.flow_spec import AnyStep, FailureBranch, FlowSpec
from fastn_gen.store.records import FlowRun, FlowStepRecord, FlowStepStatus

MAX_ITEMS = 1000
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class RunState:
    """A run being executed: its data for expressions and the next record number."""

    run: FlowRun
    tenant: Tenant
    spec: FlowSpec
    data: dict[str, Any]
    next_seq: int = 0

    def take_seq(self) -> int:
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        return seq


@dataclass(frozen=True, slots=True)
class RunResult:
    status: Literal["succeeded", "failed"]
    error: str | None = None


@dataclass
class StepOutcome:
    status: FlowStepStatus
    result: Any = None
    error: str | None = None
    kind: str | None = None
    attempts: int = 0
    upstream_status: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "result": self.result,
            "error": self.error,
            "attempts": self.attempts,
        }


def _from_call(call: CallOutcome, attempts: int) -> StepOutcome:
    if call.ok:
        return StepOutcome(
            "succeeded", call.result, attempts=attempts, upstream_status=call.upstream_status
        )
    return StepOutcome(
        "failed",
        error=call.error,
        kind=call.kind,
        attempts=attempts,
        upstream_status=call.upstream_status,
    )


class FlowEngine:
    def __init__(
        self,
        services: Services,
        invoker: ToolInvoker,
        *,
        max_items: int = MAX_ITEMS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.services = services
        self.invoker = invoker
        self.max_items = max_items
        self.sleep = sleep

    async def execute(self, state: RunState, start: int = 0) -> RunResult:
        """Run the flow's steps from ``start`` (above 0 when a run is resumed)."""
        for step in state.spec.steps[start:]:
            outcome = await self.run_step(state, step)
            if outcome.status != "failed" or step.on_failure == "continue":
                continue
            if isinstance(step.on_failure, FailureBranch):
                await self._branch(state, step.id, step.on_failure)
                if step.on_failure.then == "continue":
                    continue
            return RunResult("failed", f"step {step.id} failed: {outcome.error}")
        return RunResult("succeeded")

    async def _branch(self, state: RunState, failed_step: str, branch: FailureBranch) -> None:
        for step in branch.steps:
            outcome = await self.run_step(state, step, branch_of=failed_step)
            if outcome.status == "failed" and step.on_failure == "stop":
                return

    # -- one step ---------------------------------------------------------------------------

    async def run_step(
        self, state: RunState, step: AnyStep, branch_of: str | None = None
    ) -> StepOutcome:
        record = FlowStepRecord(
            tenant_id=state.run.tenant_id,
            run_id=state.run.id,
            seq=state.take_seq(),
            step_id=step.id,
            tool=step.tool,
            status="running",
            started_at=self.services.clock(),
            branch_of=branch_of,
        )
        await self.services.store.record_flow_step(record)
        started = time.perf_counter()
        if step.for_each is None:
            outcome = await self._once(state, step, state.data)
        else:
            outcome = await self._each(state, step, record)
        latency = (time.perf_counter() - started) * 1000.0
        await self._finish(record, outcome, latency)
        state.data["steps"][step.id] = outcome.view()
        await self._event(state, step, outcome, latency, branch_of)
        return outcome

    async def _once(self, state: RunState, step: AnyStep, data: dict[str, Any]) -> StepOutcome:
        try:
            if step.condition is not None:
                if not truthy(evaluate(bare_expression(step.condition), data)):
                    return StepOutcome("skipped")
        except ExpressionError as exc:
            return StepOutcome("failed", error=f"condition: {exc}", kind="expression")
        return await self._attempts(state, step, data)

    async def _attempts(self, state: RunState, step: AnyStep, data: dict[str, Any]) -> StepOutcome:
        policy = step.retry or NO_RETRY
        attempt = 0
        while True:
            attempt += 1
            try:
                arguments = render(step.arguments, data)
            except ExpressionError as exc:
                call = failure(f"arguments: {exc}", "expression")
            else:
                if not isinstance(arguments, dict):  # pragma: no cover - spec guarantees it
                    arguments = {}
                call = await self.invoker.call(state.tenant, step.tool, arguments, state.run.id)
            if call.ok or not call.retryable or attempt >= policy.max_attempts:
                return _from_call(call, attempt)
            await self.sleep(backoff_s(policy, attempt, call.retry_after_s))

    async def _each(self, state: RunState, step: AnyStep, parent: FlowStepRecord) -> StepOutcome:
        assert step.for_each is not None
        try:
            items = evaluate(bare_expression(step.for_each), state.data)
        except ExpressionError as exc:
            return StepOutcome("failed", error=f"for_each: {exc}", kind="expression")
        if not isinstance(items, list):
            kind = "null" if items is None else type(items).__name__
            return StepOutcome(
                "failed", error=f"for_each gave {kind}, not a list", kind="expression"
            )
        if len(items) > self.max_items:
            return StepOutcome(
                "failed",
                error=f"for_each gave {len(items)} elements; at most {self.max_items} are run",
                kind="expression",
            )
        results: list[Any] = []
        errors: list[str] = []
        counts = {"succeeded": 0, "failed": 0, "skipped": 0}
        attempts = 0
        for index, item in enumerate(items):
            record = replace(
                parent, seq=state.take_seq(), item_index=index, started_at=self.services.clock()
            )
            await self.services.store.record_flow_step(record)
            started = time.perf_counter()
            outcome = await self._once(state, step, {**state.data, "item": item})
            await self._finish(record, outcome, (time.perf_counter() - started) * 1000.0)
            counts[outcome.status] += 1
            attempts += outcome.attempts
            results.append(outcome.result if outcome.status == "succeeded" else None)
            if outcome.status == "failed":
                errors.append(f"element {index}: {outcome.error}")
                if step.on_failure != "continue":
                    break  # the remaining elements are not run
        detail = {"elements": len(items), **{f"{k}_elements": v for k, v in counts.items()}}
        if counts["failed"]:
            return StepOutcome(
                "failed", results, "; ".join(errors[:3]), "element", attempts, detail=detail
            )
        return StepOutcome("succeeded", results, attempts=attempts, detail=detail)

    # -- records ----------------------------------------------------------------------------

    async def _finish(
        self, record: FlowStepRecord, outcome: StepOutcome, latency_ms: float
    ) -> None:
        output, truncated = (
            stored_output(outcome.result) if outcome.result is not None else (None, False)
        )
        detail = dict(outcome.detail)
        if outcome.kind is not None:
            detail["error_kind"] = outcome.kind
        if outcome.upstream_status is not None:
            detail["upstream_status"] = outcome.upstream_status
        await self.services.store.record_flow_step(
            replace(
                record,
                status=outcome.status,
                attempts=outcome.attempts,
                finished_at=self.services.clock(),
                latency_ms=round(latency_ms, 3),
                output=output,
                output_truncated=truncated,
                error=outcome.error,
                detail=detail,
            )
        )

    async def _event(
        self,
        state: RunState,
        step: AnyStep,
        outcome: StepOutcome,
        latency_ms: float,
        branch_of: str | None,
    ) -> None:
        detail: dict[str, Any] = {
            "phase": "step",
            "flow": state.run.flow_name,
            "version": state.run.flow_version,
            "run_id": state.run.id,
            "step": step.id,
            "step_status": outcome.status,
            "attempts": outcome.attempts,
        }
        if branch_of is not None:
            detail["branch_of"] = branch_of
        if outcome.kind is not None:
            detail["error_kind"] = outcome.kind
        await self.services.recorder.event(
            state.run.tenant_id,
            "flow_run",
            "failure" if outcome.status == "failed" else "success",
            connector=self.invoker.connector_of(state.tenant, step.tool),
            tool=step.tool,
            latency_ms=latency_ms,
            upstream_status=outcome.upstream_status,
            error=outcome.error,
            detail=detail,
        )
