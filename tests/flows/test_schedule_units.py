"""Due times of cron schedules, backoff waits, resume plans, stored outputs, options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fastn_gen.flows.cron import CronSchedule
from fastn_gen.flows.options import FlowOptions
from fastn_gen.flows.outputs import MAX_STORED_CHARS, stored_output
from fastn_gen.flows.resume import plan_resume
from fastn_gen.flows.retry import backoff_s, schedule
from fastn_gen.native.flow_spec import FlowSpec, RetryPolicy
from fastn_gen.store.records import FlowStepRecord, FlowStepStatus

T = datetime(2026, 3, 27, 0, 0, tzinfo=UTC)


def due(expression: str, zone: str, start: datetime, days: float) -> list[str]:
    plan = CronSchedule.parse(expression, zone)
    found = plan.due_times(start, start + timedelta(days=days))
    return [moment.astimezone(plan.zone).isoformat() for moment in found]


def test_due_times_are_whole_minutes_after_the_start() -> None:
    start = datetime(2026, 11, 30, 8, 7, 30, tzinfo=UTC)
    assert due("*/15 * * * *", "UTC", start, 1 / 24) == [
        "2026-11-30T08:15:00+00:00",
        "2026-11-30T08:30:00+00:00",
        "2026-11-30T08:45:00+00:00",
        "2026-11-30T09:00:00+00:00",
    ]
    # A due time equal to the start is not "after" it.
    assert due("0 9 * * *", "UTC", datetime(2026, 11, 30, 9, tzinfo=UTC), 1)[0].startswith(
        "2026-12-01T09:00"
    )


def test_weekdays_months_and_the_either_rule_for_days() -> None:
    start = datetime(2026, 11, 27, tzinfo=UTC)  # a Friday
    assert due("0 9 * * MON-FRI", "Europe/Paris", start, 4) == [
        "2026-11-27T09:00:00+01:00",
        "2026-11-30T09:00:00+01:00",
    ]
    # Day of month and day of week both given: either matches (classic cron).
    assert due("0 0 13 * FRI", "UTC", datetime(2026, 12, 1, tzinfo=UTC), 30) == [
        "2026-12-04T00:00:00+00:00",
        "2026-12-11T00:00:00+00:00",
        "2026-12-13T00:00:00+00:00",  # a Sunday, but the 13th
        "2026-12-18T00:00:00+00:00",
        "2026-12-25T00:00:00+00:00",
    ]
    assert CronSchedule.parse("0 0 29 2 *").next_due(T) == datetime(2028, 2, 29, tzinfo=UTC)
    assert CronSchedule.parse("@weekly").next_due(T) == datetime(2026, 3, 29, tzinfo=UTC)
    assert due("5/20 10 1 JAN,JUL *", "UTC", datetime(2026, 6, 30, tzinfo=UTC), 2) == [
        "2026-07-01T10:05:00+00:00",
        "2026-07-01T10:25:00+00:00",
        "2026-07-01T10:45:00+00:00",
    ]


def test_clock_changes() -> None:
    # Spring forward (Paris, 29 March 02:00 -> 03:00): 02:30 does not exist that day and
    # fires at 03:00; an hourly schedule follows the wall clock.
    assert due("30 2 * * *", "Europe/Paris", T, 4) == [
        "2026-03-27T02:30:00+01:00",
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]
    # Fall back (25 October 03:00 -> 02:00): 02:30 happens twice and fires once...
    autumn = datetime(2026, 10, 24, 12, tzinfo=UTC)
    assert due("30 2 * * *", "Europe/Paris", autumn, 1) == ["2026-10-25T02:30:00+02:00"]
    # ...while a schedule for every half hour fires in both passes of that hour.
    assert due("*/30 * * * *", "Europe/Paris", datetime(2026, 10, 25, 0, tzinfo=UTC), 2 / 24) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]


def test_an_invalid_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="hour field"):
        CronSchedule.parse("0 24 * * *")
    with pytest.raises(Exception, match="Mars"):
        CronSchedule.parse("0 0 * * *", "Mars/Olympus")


def test_backoff_grows_is_capped_and_honours_retry_after() -> None:
    policy = RetryPolicy(max_attempts=5, backoff_s=1, multiplier=3, max_backoff_s=20)
    assert schedule(policy) == [1, 3, 9, 20]
    assert backoff_s(policy, 1, retry_after_s=7) == 7  # the tool said when to come back
    assert backoff_s(policy, 3, retry_after_s=7) == 9  # the backoff is longer already
    assert backoff_s(policy, 1, retry_after_s=600) == 20  # never beyond the cap
    assert schedule(RetryPolicy(max_attempts=1)) == []


FLOW = FlowSpec.model_validate(
    {
        "name": "f",
        "trigger": {"type": "manual"},
        "steps": [
            {"id": "read", "tool": "slack_list_channels"},
            {"id": "post", "tool": "slack_send_message", "on_failure": "continue"},
            {
                "id": "last",
                "tool": "slack_list_channels",
                "on_failure": {"steps": [{"id": "tell", "tool": "slack_send_message"}]},
            },
        ],
    }
)


def record(seq: int, step: str, status: FlowStepStatus, **fields: Any) -> FlowStepRecord:
    tool = {"read": "slack_list_channels", "last": "slack_list_channels"}.get(
        step, "slack_send_message"
    )
    return FlowStepRecord("acme", "R", seq, step, tool, status, T, **fields)


def idempotent(tool: str) -> bool:
    return tool == "slack_list_channels"


def test_resume_after_finished_steps_reuses_their_outputs() -> None:
    plan = plan_resume(
        FLOW, [record(0, "read", "succeeded", output={"n": 1}, attempts=1)], idempotent
    )
    assert (plan.start, plan.next_seq, plan.ended) == (1, 1, None)
    assert plan.steps["read"] == {
        "status": "succeeded",
        "result": {"n": 1},
        "error": None,
        "attempts": 1,
    }


def test_resume_reruns_an_idempotent_step_in_flight_only() -> None:
    records = [
        record(0, "read", "succeeded"),
        record(1, "post", "failed"),
        record(2, "last", "running"),
    ]
    plan = plan_resume(FLOW, records, idempotent)
    assert (plan.start, plan.ended, [r.seq for r in plan.stale]) == (2, None, [2])
    unsafe = plan_resume(
        FLOW, [record(0, "read", "succeeded"), record(1, "post", "running")], idempotent
    )
    assert unsafe.ended is not None and unsafe.ended.status == "failed"
    assert "post: slack_send_message may already have run" in (unsafe.ended.error or "")


def test_resume_refuses_what_cannot_be_rebuilt_or_finishes_what_ended() -> None:
    too_big = plan_resume(FLOW, [record(0, "read", "succeeded", output_truncated=True)], idempotent)
    assert too_big.ended is not None and "too large" in (too_big.ended.error or "")
    in_branch = [
        record(0, "read", "succeeded"),
        record(1, "post", "succeeded"),
        record(2, "last", "failed"),
        record(3, "tell", "running", branch_of="last"),
    ]
    ended = plan_resume(FLOW, in_branch, idempotent).ended
    assert ended is not None and "on_failure branch of step last" in (ended.error or "")
    stopped = plan_resume(FLOW, [record(0, "read", "failed", error="boom")], idempotent).ended
    assert stopped is not None and stopped.error == "step read failed: boom"
    done = [
        record(0, "read", "succeeded"),
        record(1, "post", "failed"),
        record(2, "last", "succeeded"),
    ]
    finished = plan_resume(FLOW, done, idempotent).ended
    assert finished is not None and finished.status == "succeeded"
    assert plan_resume(FLOW, [], idempotent).start == 0


def test_stored_outputs_are_redacted_and_bounded() -> None:
    token = "xoxb-" + "1234567890-" * 3
    value = {
        "ok": True,
        "access_token": "abc",
        "nested": [{"client_secret": "s", "text": f"use {token} now", "id": 7}],
        "api-key": "k",
    }
    stored, truncated = stored_output(value)
    assert not truncated
    assert stored == {
        "ok": True,
        "access_token": "[REDACTED]",
        "nested": [{"client_secret": "[REDACTED]", "text": "use [REDACTED] now", "id": 7}],
        "api-key": "[REDACTED]",
    }
    big, truncated = stored_output({"rows": ["x" * 100] * (MAX_STORED_CHARS // 100)})
    assert truncated and big["truncated"] is True and big["chars"] > MAX_STORED_CHARS


def test_options_from_the_environment() -> None:
    options = FlowOptions.from_env({"FASTN_FLOWS_LEASE_S": "2", "FASTN_FLOWS_TICK_S": "0.5"})
    assert (options.lease_s, options.tick_s, options.refresh_s) == (2.0, 0.5, 5.0)
    with pytest.raises(ValueError, match="FASTN_FLOWS_LEASE_S"):
        FlowOptions.from_env({"FASTN_FLOWS_LEASE_S": "soon"})
    with pytest.raises(ValueError, match="above 0"):
        FlowOptions.from_env({"FASTN_FLOWS_TICK_S": "0"})
