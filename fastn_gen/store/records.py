"""Plain records the store reads and writes; shared by every store backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

EventType = Literal[
    "tool_call",  # a native or dynamic tool call, success or failure
    "connection_change",  # a connection added, removed or its credentials changed
    "credential_refresh",  # an OAuth token refreshed (or the refresh failed)
    "quota_refusal",  # a call refused by a usage limit before going upstream
    "auth_failure",  # a request with a missing, unknown or mismatched credential
    "flow_run",  # a flow run or step (flows)
]
EventStatus = Literal["success", "failure"]
Health = Literal["healthy", "degraded", "failing", "credentials_expired", "unknown"]


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded event. ``args_digest`` is a redacted digest, never the arguments."""

    id: str
    tenant_id: str
    at: datetime  # UTC, timezone-aware
    type: EventType
    status: EventStatus
    connector: str | None = None
    tool: str | None = None
    latency_ms: float | None = None
    upstream_status: int | None = None
    error: str | None = None  # already redacted
    args_digest: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # small, redacted, JSON-able


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters for ``Store.list_events``; ``cursor`` comes from the previous page."""

    since: datetime | None = None
    until: datetime | None = None
    status: EventStatus | None = None
    type: EventType | None = None
    connector: str | None = None
    tool: str | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class EventPage:
    events: tuple[Event, ...]
    next_cursor: str | None  # None on the last page


@dataclass(frozen=True, slots=True)
class CounterLimit:
    """One usage counter to increment, with the limit it must stay within.

    ``key`` names what is counted (``calls``, ``calls:slack``, ``rpm``...),
    ``period`` the window it resets on (e.g. ``2026-11`` or a minute stamp);
    ``limit`` None means count without limiting.
    """

    key: str
    period: str
    limit: int | None


@dataclass(frozen=True, slots=True)
class CounterRefusal:
    """The first counter that would exceed its limit; nothing was incremented."""

    key: str
    period: str
    limit: int
    used: int


@dataclass(frozen=True, slots=True)
class UsageRow:
    key: str
    period: str
    used: int


@dataclass(frozen=True, slots=True)
class IntegrationStatus:
    tenant_id: str
    connector: str
    health: Health
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None  # redacted
    consecutive_failures: int
    token_expires_at: datetime | None
    calls_ok: int
    calls_failed: int


@dataclass(frozen=True, slots=True)
class FlowRecord:
    tenant_id: str
    name: str
    version: int
    spec: dict[str, Any]
    enabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HealthChange:
    """An integration's health before and after one recorded outcome."""

    before: Health
    after: Health
    consecutive_failures: int

    @property
    def changed(self) -> bool:
        return self.before != self.after


# running: a process holds the run's lease and executes it; interrupted: its process
# stopped before the end (waiting to be resumed or failed); the other two are final.
FlowRunStatus = Literal["running", "interrupted", "succeeded", "failed"]
FlowStepStatus = Literal["running", "succeeded", "failed", "skipped"]
FINAL_RUN_STATUSES: frozenset[str] = frozenset({"succeeded", "failed"})


@dataclass(frozen=True, slots=True)
class FlowRun:
    """One run of one flow version. ``trigger_key`` is unique per flow: a scheduled due
    time, an event id or a fresh id for manual runs, so a trigger fires a run once."""

    tenant_id: str
    id: str
    flow_name: str
    flow_version: int
    trigger_type: str  # manual, schedule or event
    trigger_key: str
    trigger: dict[str, Any]  # what expressions see as ``trigger`` (redacted)
    status: FlowRunStatus
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    resumed: int = 0  # how many times another process took the run over
    owner: str | None = None  # the process holding the lease
    lease_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FlowStepRecord:
    """One step of a run (``item_index`` None), or one element of a for_each step.

    ``seq`` orders a run's records; a record is written when its step starts
    (``running``) and rewritten when it ends. ``output`` is redacted and bounded;
    ``output_truncated`` says it was too large to keep whole.
    """

    tenant_id: str
    run_id: str
    seq: int
    step_id: str
    tool: str
    status: FlowStepStatus
    started_at: datetime
    item_index: int | None = None
    branch_of: str | None = None  # the step whose on_failure branch this step is in
    attempts: int = 0
    finished_at: datetime | None = None
    latency_ms: float | None = None
    output: Any = None
    output_truncated: bool = False
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
