"""Decisions both backends share, so SQLite and PostgreSQL answer alike.

Health is derived on read from the stored counters rather than stored, so changing the
thresholds needs no migration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fastn_gen.store.records import CounterLimit, CounterRefusal, EventQuery, Health

DEGRADED_AFTER = 1  # consecutive failures from which a connection is "degraded"
FAILING_AFTER = 3  # ... and from which it is "failing"
MAX_PAGE = 1000


def derive_health(*, consecutive_failures: int, credentials_expired: bool, seen: bool) -> Health:
    if credentials_expired:
        return "credentials_expired"
    if not seen:
        return "unknown"  # only a token expiry was recorded, no call or check yet
    if consecutive_failures >= FAILING_AFTER:
        return "failing"
    if consecutive_failures >= DEGRADED_AFTER:
        return "degraded"
    return "healthy"


def merge_counters(counters: Sequence[CounterLimit]) -> list[CounterLimit]:
    """One entry per (key, period), keeping the tightest limit, in first-seen order.

    Naming the same counter twice must not count a call twice.
    """
    merged: dict[tuple[str, str], CounterLimit] = {}
    for counter in counters:
        slot = (counter.key, counter.period)
        known = merged.get(slot)
        if known is None or known.limit is None:
            merged[slot] = counter
        elif counter.limit is not None and counter.limit < known.limit:
            merged[slot] = counter
    return list(merged.values())


def first_refusal(
    counters: Sequence[CounterLimit], used: Mapping[tuple[str, str], int], amount: int
) -> CounterRefusal | None:
    """The first counter (in the caller's order) that ``amount`` more would push past."""
    for counter in counters:
        current = used.get((counter.key, counter.period), 0)
        if counter.limit is not None and current + amount > counter.limit:
            return CounterRefusal(counter.key, counter.period, counter.limit, current)
    return None


def check_amount(amount: int) -> None:
    if amount < 0:
        raise ValueError(f"consume amount must not be negative, got {amount}")


def page_size(query: EventQuery) -> int:
    if query.limit < 1:
        raise ValueError(f"events page limit must be at least 1, got {query.limit}")
    return min(query.limit, MAX_PAGE)


MAX_ERROR_CHARS = 1000


def clip_error(error: str | None) -> str | None:
    """Bound what one failure stores; the caller has already redacted it."""
    if error is None or len(error) <= MAX_ERROR_CHARS:
        return error
    return error[: MAX_ERROR_CHARS - 1] + "…"
