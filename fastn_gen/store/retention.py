"""What ``prune_older_than`` deletes, shared by every backend.

Retention removes, across tenants, rows that only grow: events before a cutoff, usage
counters whose period ended by the cutoff, and finished flow runs (with their steps)
that finished before it. Usage periods are text (``2026-11`` for a month,
``2026-11-30T12:05`` for a minute, see ``fastn_gen.gateway.quotas``); a counter goes
only once its whole period lies before the cutoff, so with a cutoff no later than now
the current month's and minute's counters (what quotas and the usage summary read)
always stay. Counters of any other period format are never touched. Runs still
``running`` or ``interrupted`` stay whatever their age: they may yet be resumed.

Deletes run in batches of at most ``batch_size`` rows, each its own transaction, so a
large backlog never holds a write lock for long nor builds one huge transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

DEFAULT_BATCH = 5000
MAX_BATCH = 100_000

# Periods by shape: LIKE's ``_`` is any one character.
MONTH_SHAPE = "____-__"
MINUTE_SHAPE = "____-__-__T__:__"
FINISHED = "status IN ('succeeded', 'failed')"


@dataclass(frozen=True, slots=True)
class PruneCounts:
    """Rows deleted (or, on a dry run, that would be)."""

    events: int = 0
    usage: int = 0
    flow_runs: int = 0
    flow_steps: int = 0

    @property
    def total(self) -> int:
        return self.events + self.usage + self.flow_runs + self.flow_steps

    def as_dict(self) -> dict[str, int]:
        return {
            "events": self.events,
            "usage": self.usage,
            "flow_runs": self.flow_runs,
            "flow_steps": self.flow_steps,
        }


def usage_cutoffs(before: datetime) -> tuple[str, str]:
    """(month, minute): periods below these ended by ``before``."""
    moment = before.astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}", moment.strftime("%Y-%m-%dT%H:%M")


def usage_condition(mark: str) -> str:
    """Ended periods; parameters (minute, month, minute). The leading range lets an
    index on ``period`` find the rows: a month below the month cutoff is also below
    the minute cutoff, which starts with it."""
    return (
        f"period < {mark} AND ((period LIKE '{MONTH_SHAPE}' AND period < {mark}) "
        f"OR (period LIKE '{MINUTE_SHAPE}' AND period < {mark}))"
    )


def usage_params(before: datetime) -> tuple[str, str, str]:
    month, minute = usage_cutoffs(before)
    return minute, month, minute


def check_batch(batch_size: int) -> int:
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be 1-{MAX_BATCH}, got {batch_size}")
    return batch_size
