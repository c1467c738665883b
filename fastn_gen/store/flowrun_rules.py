"""Flow-run statements and checks both backends share (see ``Store`` for the contract)."""

from __future__ import annotations

from fastn_gen.store.records import FlowRun, FlowStepRecord

MAX_RUNS_PAGE = 1000

RUN_COLUMNS = (
    "tenant_id, id, flow_name, flow_version, trigger_type, trigger_key, trigger, status, "
    "started_at, finished_at, error, resumed, owner, lease_expires_at"
)
STEP_COLUMNS = (
    "tenant_id, run_id, seq, step_id, item_index, branch_of, tool, status, attempts, "
    "started_at, finished_at, latency_ms, output, output_truncated, error, detail"
)
# A run another process may take over: not finished, and its lease has run out.
UNFINISHED = "status IN ('running', 'interrupted')"


def not_own_running(mark: str) -> str:
    """... and not one the claimer is running itself (a late lease renewal is no stop)."""
    return f"NOT (owner IS NOT NULL AND owner = {mark} AND status = 'running')"


# The latest version of every enabled flow (of every tenant), for the scheduler.
ENABLED_FLOWS = (
    "SELECT f.tenant_id, f.name, v.version, v.spec, f.enabled, v.created_at "
    "FROM flows f JOIN flow_versions v ON v.tenant_id = f.tenant_id AND v.name = f.name "
    "AND v.version = f.latest_version WHERE f.enabled "
)


def runs_limit(limit: int) -> int:
    if limit < 1:
        raise ValueError(f"flow runs limit must be at least 1, got {limit}")
    return min(limit, MAX_RUNS_PAGE)


def check_new_run(run: FlowRun) -> None:
    if run.status != "running" or run.owner is None or run.lease_expires_at is None:
        raise ValueError("a new flow run starts running, with an owner and a lease")


def check_step(step: FlowStepRecord) -> None:
    if step.seq < 0:
        raise ValueError(f"flow step seq must not be negative, got {step.seq}")
