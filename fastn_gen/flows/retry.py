"""How long a step waits before its next attempt (exponential backoff, capped)."""

from __future__ import annotations

from fastn_gen.native.flow_spec import RetryPolicy

NO_RETRY = RetryPolicy(max_attempts=1)


def backoff_s(
    policy: RetryPolicy, failed_attempt: int, retry_after_s: float | None = None
) -> float:
    """The wait after attempt ``failed_attempt`` (1-based) failed.

    ``backoff_s`` after the first failure, then times ``multiplier`` each time, never
    more than ``max_backoff_s``; when the tool said when to come back (a rate limit's
    reset, an upstream's ``Retry-After``) and that is later, that wait instead, within
    the same cap.
    """
    wait = policy.backoff_s * policy.multiplier ** (failed_attempt - 1)
    if retry_after_s is not None:
        wait = max(wait, retry_after_s)
    return min(wait, policy.max_backoff_s)


def schedule(policy: RetryPolicy) -> list[float]:
    """Every wait a step with ``policy`` may go through (for docs and tests)."""
    return [backoff_s(policy, attempt) for attempt in range(1, policy.max_attempts)]
