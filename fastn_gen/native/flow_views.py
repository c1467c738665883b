"""How flows, runs and steps are shown by the native tools and the CLI."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from fastn_gen.flows.cron import CronSchedule
from fastn_gen.native.base import NativeOutput
from fastn_gen.store.records import FlowRecord, FlowRun, FlowStepRecord

RunStatus = Literal["running", "interrupted", "succeeded", "failed"]
StepStatus = Literal["running", "succeeded", "failed", "skipped"]


class FlowSummary(NativeOutput):
    name: str
    version: int
    enabled: bool
    description: str
    trigger: dict[str, Any] = Field(description="The flow's trigger, as specified.")
    steps: int
    tools: list[str] = Field(description="The tools the flow calls, in first-use order.")
    created_at: datetime = Field(description="When this version was saved.")
    next_run_at: datetime | None = Field(
        description="The next due time of an enabled scheduled flow; null otherwise."
    )


class FlowRunOut(NativeOutput):
    run_id: str
    flow: str
    version: int
    status: RunStatus
    trigger_type: str
    trigger: dict[str, Any] = Field(description="What started the run (redacted).")
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    resumed: int = Field(description="How many times the run was taken over after a stop.")


class FlowStepOut(NativeOutput):
    seq: int
    step: str
    item_index: int | None = Field(description="The for_each element; null for the step.")
    branch_of: str | None = Field(description="The failed step whose on_failure branch ran this.")
    tool: str
    status: StepStatus
    attempts: int
    started_at: datetime
    finished_at: datetime | None
    latency_ms: float | None
    output: Any = Field(description="The tool's result, redacted; null when there is none.")
    output_truncated: bool
    error: str | None
    detail: dict[str, Any]


class FlowRunDetail(FlowRunOut):
    steps: list[FlowStepOut]


def _tools(spec: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for step in spec.get("steps", []):
        names.append(str(step.get("tool")))
        branch = step.get("on_failure")
        if isinstance(branch, dict):
            names.extend(str(s.get("tool")) for s in branch.get("steps", []))
    return list(dict.fromkeys(names))


def next_run_at(record: FlowRecord, now: datetime) -> datetime | None:
    trigger = record.spec.get("trigger") or {}
    if not record.enabled or trigger.get("type") != "schedule":
        return None
    try:
        schedule = CronSchedule.parse(str(trigger["cron"]), str(trigger.get("timezone", "UTC")))
    except (KeyError, ValueError):
        return None
    return schedule.next_due(max(now, record.created_at))


def flow_summary(record: FlowRecord, now: datetime) -> FlowSummary:
    spec = record.spec
    return FlowSummary(
        name=record.name,
        version=record.version,
        enabled=record.enabled,
        description=str(spec.get("description", "")),
        trigger=dict(spec.get("trigger") or {}),
        steps=len(spec.get("steps", [])),
        tools=_tools(spec),
        created_at=record.created_at,
        next_run_at=next_run_at(record, now),
    )


def run_out(run: FlowRun) -> FlowRunOut:
    return FlowRunOut(
        run_id=run.id,
        flow=run.flow_name,
        version=run.flow_version,
        status=run.status,
        trigger_type=run.trigger_type,
        trigger=dict(run.trigger),
        started_at=run.started_at,
        finished_at=run.finished_at,
        error=run.error,
        resumed=run.resumed,
    )


def step_out(step: FlowStepRecord) -> FlowStepOut:
    return FlowStepOut(
        seq=step.seq,
        step=step.step_id,
        item_index=step.item_index,
        branch_of=step.branch_of,
        tool=step.tool,
        status=step.status,
        attempts=step.attempts,
        started_at=step.started_at,
        finished_at=step.finished_at,
        latency_ms=step.latency_ms,
        output=step.output,
        output_truncated=step.output_truncated,
        error=step.error,
        detail=dict(step.detail),
    )


def run_detail(run: FlowRun, steps: list[FlowStepRecord]) -> FlowRunDetail:
    return FlowRunDetail(**run_out(run).model_dump(), steps=[step_out(s) for s in steps])
