"""Where an interrupted run goes on, decided from the step records it left behind.

Finished steps are not run again: their stored outputs become ``steps.<id>`` once more.
A step that was in flight when the gateway stopped may or may not have reached its
upstream, so it is run again only when its tool is idempotent (read-only or marked
idempotent); otherwise the run fails, saying why. A run interrupted inside an
on_failure branch, or after a step whose output was too large to keep, fails too:
nothing is ever silently skipped or done twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastn_gen.flows.engine import RunResult
from fastn_gen.native.flow_spec import FailureBranch, FlowSpec
from fastn_gen.store.records import FlowStepRecord


@dataclass
class ResumePlan:
    start: int = 0  # the first step (index in the flow) to run
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # finished steps' views
    next_seq: int = 0
    stale: list[FlowStepRecord] = field(default_factory=list)  # records left "running"
    ended: RunResult | None = None  # the run is over: finish it with this


def _view(record: FlowStepRecord) -> dict[str, Any]:
    return {
        "status": record.status,
        "result": record.output,
        "error": record.error,
        "attempts": record.attempts,
    }


def plan_resume(
    spec: FlowSpec, records: Sequence[FlowStepRecord], idempotent: Callable[[str], bool]
) -> ResumePlan:
    plan = ResumePlan(next_seq=max((r.seq for r in records), default=-1) + 1)
    plan.stale = [r for r in records if r.status == "running"]
    index = {step.id: number for number, step in enumerate(spec.steps)}
    in_flight: FlowStepRecord | None = None
    last_done: FlowStepRecord | None = None
    for record in sorted(records, key=lambda r: r.seq):
        if record.item_index is not None:
            continue
        if record.status == "running":
            in_flight = record
            continue
        if record.output_truncated:
            plan.ended = RunResult(
                "failed",
                f"cannot resume: the output of step {record.step_id} was too large to keep",
            )
            return plan
        plan.steps[record.step_id] = _view(record)
        if record.branch_of is None:
            last_done = record
    if in_flight is not None:
        if in_flight.branch_of is not None:
            plan.ended = RunResult(
                "failed",
                f"interrupted in the on_failure branch of step {in_flight.branch_of} "
                f"(step {in_flight.step_id}); a branch is not resumed",
            )
        elif not idempotent(in_flight.tool):
            plan.ended = RunResult(
                "failed",
                f"interrupted during step {in_flight.step_id}: {in_flight.tool} may already "
                "have run and is not idempotent, so it is not run again",
            )
        else:
            plan.start = index.get(in_flight.step_id, len(spec.steps))
        return plan
    if last_done is None:
        return plan  # interrupted before the first step started
    done = spec.steps[index[last_done.step_id]] if last_done.step_id in index else None
    plan.start = index.get(last_done.step_id, len(spec.steps)) + 1
    if done is not None and last_done.status == "failed" and done.on_failure != "continue":
        if isinstance(done.on_failure, FailureBranch):
            plan.ended = RunResult(
                "failed",
                f"interrupted after step {done.id} failed, before its on_failure branch ended",
            )
        else:
            plan.ended = RunResult("failed", f"step {done.id} failed: {last_done.error}")
        return plan
    if plan.start >= len(spec.steps):
        plan.ended = RunResult("succeeded")
    return plan
