"""Retry policy, retry budget and circuit breaker, driven by a fake clock and sleep."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from fastn_gen.gateway.outcome import (
    ERR_ARGUMENTS,
    ERR_CONNECT,
    ERR_HTTP,
    ERR_TIMEOUT,
    ToolOutcome,
    error_outcome,
)
from fastn_gen.gateway.resilience import (
    ERR_CIRCUIT_OPEN,
    CircuitBreaker,
    Resilience,
    ResilienceOptions,
    RetryBudget,
    parse_retry_after,
)
from fastn_gen.runtime.operation import Operation

pytestmark = pytest.mark.anyio

READ = Operation("t_get", "get", "GET", "/x", (), None, True, False, True)
CREATE = Operation("t_create", "create", "POST", "/x", (), None, False, False, False)
PUT = Operation("t_put", "put", "PUT", "/x", (), None, False, True, True)
OK = ToolOutcome(False, "{}", {}, 200, 1.0)


def failure(status: int | None = 503, kind: str = ERR_HTTP, retry_after: float | None = None):
    outcome = error_outcome(f"HTTP {status}", kind, 1.0, status)
    return replace(outcome, retry_after=retry_after)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def resilience(clock: Clock, **options: float) -> Resilience:
    return Resilience(
        ResilienceOptions(**options),  # type: ignore[arg-type]
        clock=clock,
        rng=random.Random(7),
        sleep=clock.sleep,
    )


def scripted(*outcomes: ToolOutcome):
    calls: list[int] = []

    async def attempt() -> ToolOutcome:
        calls.append(1)
        return outcomes[min(len(calls), len(outcomes)) - 1]

    return attempt, calls


async def test_idempotent_call_is_retried_until_it_succeeds() -> None:
    clock = Clock()
    attempt, calls = scripted(failure(503), failure(502), OK)
    outcome = await resilience(clock).run("t", "c", READ, attempt)
    assert outcome == OK  # a success is not annotated
    assert len(calls) == 3 and len(clock.slept) == 2


@pytest.mark.parametrize("operation", [CREATE], ids=["POST"])
async def test_non_idempotent_call_is_never_retried(operation: Operation) -> None:
    clock = Clock()
    attempt, calls = scripted(failure(503), OK)
    outcome = await resilience(clock).run("t", "c", operation, attempt)
    assert outcome.is_error and len(calls) == 1 and clock.slept == []


async def test_put_is_idempotent_and_retried() -> None:
    attempt, calls = scripted(failure(kind=ERR_TIMEOUT, status=None), OK)
    assert not (await resilience(Clock()).run("t", "c", PUT, attempt)).is_error
    assert len(calls) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_client_errors_are_not_retried(status: int) -> None:
    attempt, calls = scripted(failure(status), OK)
    outcome = await resilience(Clock()).run("t", "c", READ, attempt)
    assert outcome.upstream_status == status and len(calls) == 1


async def test_attempts_are_capped_and_the_result_says_how_many() -> None:
    attempt, calls = scripted(failure(kind=ERR_CONNECT, status=None))
    outcome = await resilience(Clock(), max_attempts=4).run("t", "c", READ, attempt)
    assert len(calls) == 4 and outcome.text.endswith("(after 4 attempts)")


async def test_backoff_grows_exponentially_with_full_jitter() -> None:
    r = resilience(Clock(), base_delay_s=0.1, max_delay_s=0.35)
    for attempt, ceiling in [(1, 0.1), (2, 0.2), (3, 0.35), (4, 0.35)]:
        delays = [r.delay(attempt, None) for _ in range(200)]
        assert all(d is not None and 0 <= d <= ceiling for d in delays)
        assert max(d for d in delays if d is not None) > ceiling * 0.8  # spread, not fixed


async def test_short_retry_after_is_honoured_and_a_long_one_ends_retries() -> None:
    clock = Clock()
    attempt, calls = scripted(failure(429, retry_after=2), OK)
    assert not (await resilience(clock).run("t", "c", READ, attempt)).is_error
    assert 2.0 <= clock.slept[0] <= 2.1
    clock = Clock()
    attempt, calls = scripted(failure(429, retry_after=120), OK)
    outcome = await resilience(clock, max_retry_after_s=5).run("t", "c", READ, attempt)
    assert outcome.upstream_status == 429 and len(calls) == 1 and clock.slept == []


async def test_retry_budget_limits_retries_to_a_share_of_traffic() -> None:
    clock = Clock()
    r = resilience(clock, budget_burst=2, budget_ratio=0.5, breaker_failures=0)
    attempt, calls = scripted(failure(503))
    for _ in range(3):
        await r.run("t", "c", READ, attempt)
    # Burst of 2 tokens (+0.5 per call, capped at 2): 2 retries in the first call, then
    # one more once a token has been earned back.
    assert r.retries == 3
    budget = RetryBudget(ratio=0.2, burst=1)
    assert budget.withdraw() and not budget.withdraw()
    for _ in range(5):
        budget.deposit()
    assert budget.withdraw()


async def test_breaker_opens_per_tenant_and_connector_and_refuses_at_once() -> None:
    clock = Clock()
    r = resilience(clock, breaker_failures=3, breaker_cooldown_s=30)
    broken, calls = scripted(failure(500))
    for _ in range(3):
        await r.run("acme", "slack", CREATE, broken)
    assert len(calls) == 3
    refused = await r.run("acme", "slack", CREATE, broken)
    assert refused.error == ERR_CIRCUIT_OPEN and len(calls) == 3
    assert "circuit open" in refused.text and "30 s" in refused.text
    healthy, healthy_calls = scripted(OK)
    assert (await r.run("globex", "slack", CREATE, healthy)) == OK  # another tenant
    assert (await r.run("acme", "shopify", CREATE, healthy)) == OK  # another connector
    assert len(healthy_calls) == 2


async def test_breaker_counts_upstream_failures_only() -> None:
    r = resilience(Clock(), breaker_failures=2)
    bad_args, _ = scripted(failure(None, kind=ERR_ARGUMENTS))
    not_found, _ = scripted(failure(404))
    for attempt in (bad_args, not_found, bad_args, not_found):
        await r.run("t", "c", CREATE, attempt)
    assert not r.breaker(("t", "c")).is_open


async def test_half_open_lets_one_probe_through_and_its_verdict_decides() -> None:
    breaker = CircuitBreaker(failures_to_open=2, cooldown_s=10)
    breaker.record(True, 0)
    breaker.record(True, 1)
    assert breaker.refusal(5) == pytest.approx(6)
    assert breaker.refusal(11) is None  # the probe
    assert breaker.refusal(11.5) is not None  # others wait for its verdict
    breaker.record(True, 12)  # the probe failed: open again for a full cool-down
    assert breaker.refusal(21) == pytest.approx(1)
    assert breaker.refusal(22) is None
    breaker.record(False, 22)
    assert not breaker.is_open and breaker.refusal(22) is None


async def test_an_abandoned_probe_is_replaced_after_a_cool_down() -> None:
    breaker = CircuitBreaker(failures_to_open=1, cooldown_s=10)
    breaker.record(True, 0)
    assert breaker.refusal(10) is None  # probe started, then its caller went away
    assert breaker.refusal(15) is not None
    assert breaker.refusal(20) is None


def test_retry_after_parses_seconds_and_http_dates() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 7 ") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    for junk in (None, "", "soon", "-5", "1.5e9"):
        assert parse_retry_after(junk) is None
