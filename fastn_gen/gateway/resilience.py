"""Retries and circuit breaking around upstream calls.

**Retries** are made only for operations that are safe to repeat (declared idempotent
or read-only) and only for failures that may pass: timeouts, refused or reset
connections, HTTP 429 and 5xx. The delay grows exponentially with full jitter, so many
callers failing at once do not retry in lockstep; a ``Retry-After`` the upstream sends
is honoured when it is short, and a long one ends the retries at once (the result says
when to try again). A retry budget per tenant and connector (a token bucket filled by
first attempts) caps retries at a fraction of the traffic, so a failing upstream does
not receive a multiple of the normal load.

**The circuit breaker**, one per tenant and connector, opens after consecutive calls
that failed at the upstream (timeouts, connection errors, 5xx, after their retries)
and then refuses that
tenant's calls to that connector at once for a cool-down period, instead of letting
each of them wait for a timeout. After the cool-down one call is let through as a
probe: its success closes the circuit, its failure opens it again. Other tenants and
other connectors are not affected.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from fastn_gen.gateway.outcome import (
    ERR_CONNECT,
    ERR_HTTP,
    ERR_TIMEOUT,
    ERR_TRANSPORT,
    ToolOutcome,
    error_outcome,
)
from fastn_gen.runtime.operation import Operation

ERR_CIRCUIT_OPEN = "circuit_open"

# Failures that say the upstream (or the way to it) is unwell, not the request.
_UNWELL = frozenset({ERR_TIMEOUT, ERR_CONNECT, ERR_TRANSPORT})
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})

Clock = Callable[[], float]
Key = tuple[str, str]  # (tenant id, connector name)


@dataclass(frozen=True, slots=True)
class ResilienceOptions:
    max_attempts: int = 3  # 1 turns retries off
    base_delay_s: float = 0.1
    max_delay_s: float = 2.0
    max_retry_after_s: float = 5.0  # a longer Retry-After is reported, not waited for
    budget_ratio: float = 0.2  # retries per first attempt, on average
    budget_burst: float = 10.0  # retries available before any traffic earned them
    breaker_failures: int = 5  # consecutive upstream failures that open the circuit; 0: never
    breaker_cooldown_s: float = 30.0


def upstream_failed(outcome: ToolOutcome) -> bool:
    """Whether the outcome counts against the upstream's health (for the breaker)."""
    if outcome.error in _UNWELL:
        return True
    return outcome.error == ERR_HTTP and (outcome.upstream_status or 0) >= 500


def retryable(outcome: ToolOutcome) -> bool:
    if outcome.error in _UNWELL:
        return True
    return outcome.error == ERR_HTTP and outcome.upstream_status in _RETRY_STATUS


def safe_to_repeat(operation: Operation) -> bool:
    return operation.idempotent or operation.read_only


@dataclass(slots=True)
class RetryBudget:
    """A token bucket: each first attempt adds ``ratio`` tokens, each retry takes one."""

    ratio: float
    burst: float
    tokens: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def deposit(self) -> None:
        self.tokens = min(self.burst, self.tokens + self.ratio)

    def withdraw(self) -> bool:
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass(slots=True)
class CircuitBreaker:
    failures_to_open: int
    cooldown_s: float
    consecutive_failures: int = 0
    opened_at: float | None = None
    probe_started: float | None = None

    def refusal(self, now: float) -> float | None:
        """Seconds until calls are let through again, or None to let this call through."""
        if self.opened_at is None:
            return None
        remaining = self.opened_at + self.cooldown_s - now
        if remaining > 0:
            return remaining
        if self.probe_started is not None and now - self.probe_started < self.cooldown_s:
            # Half-open: one probe at a time; the others wait for its verdict (a probe
            # abandoned by its caller is replaced after a cool-down).
            return self.probe_started + self.cooldown_s - now
        self.probe_started = now
        return None

    def record(self, failed: bool, now: float) -> None:
        if not failed:
            self.consecutive_failures = 0
            self.opened_at = None
            self.probe_started = None
            return
        self.consecutive_failures += 1
        if self.probe_started is not None or (
            self.failures_to_open > 0 and self.consecutive_failures >= self.failures_to_open
        ):
            self.opened_at = now
            self.probe_started = None

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None


class Resilience:
    """Runs one call's attempts with retries, a retry budget and a circuit breaker."""

    def __init__(
        self,
        options: ResilienceOptions | None = None,
        *,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.options = options or ResilienceOptions()
        self._clock = clock
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._breakers: dict[Key, CircuitBreaker] = {}
        self._budgets: dict[Key, RetryBudget] = {}
        self.retries = 0
        self.short_circuited = 0

    def breaker(self, key: Key) -> CircuitBreaker:
        found = self._breakers.get(key)
        if found is None:
            o = self.options
            found = self._breakers[key] = CircuitBreaker(o.breaker_failures, o.breaker_cooldown_s)
        return found

    def _budget(self, key: Key) -> RetryBudget:
        found = self._budgets.get(key)
        if found is None:
            o = self.options
            found = self._budgets[key] = RetryBudget(o.budget_ratio, o.budget_burst)
        return found

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number ``attempt`` (1-based); None: do not retry."""
        o = self.options
        if retry_after is not None:
            if retry_after > o.max_retry_after_s:
                return None
            return retry_after + self._rng.uniform(0, o.base_delay_s)
        ceiling = min(o.max_delay_s, o.base_delay_s * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)

    async def run(
        self,
        tenant_id: str,
        connector: str,
        operation: Operation,
        attempt: Callable[[], Awaitable[ToolOutcome]],
    ) -> ToolOutcome:
        key = (tenant_id, connector)
        breaker = self.breaker(key)
        wait = breaker.refusal(self._clock())
        if wait is not None:
            self.short_circuited += 1
            return error_outcome(
                f"Upstream error: {connector} is failing for this tenant "
                f"({breaker.consecutive_failures} failures in a row); calls are paused for "
                f"{wait:.0f} s so they do not wait for timeouts (circuit open)",
                ERR_CIRCUIT_OPEN,
                0.0,
            )
        budget = self._budget(key)
        budget.deposit()
        repeatable = safe_to_repeat(operation) and self.options.max_attempts > 1
        attempts = 0
        while True:
            attempts += 1
            outcome = await attempt()
            if (
                not outcome.is_error
                or not repeatable
                or attempts >= self.options.max_attempts
                or breaker.is_open
                or not retryable(outcome)
            ):
                break
            pause = self.delay(attempts, outcome.retry_after)
            if pause is None or not budget.withdraw():
                break
            self.retries += 1
            await self._sleep(pause)
        breaker.record(upstream_failed(outcome), self._clock())
        if attempts > 1 and outcome.is_error:
            outcome = replace(outcome, text=f"{outcome.text} (after {attempts} attempts)")
        return outcome


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
