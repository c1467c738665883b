"""Usage limits, enforced before a call goes upstream.

Every call names the counters it increments: the tenant's monthly tool calls, the
connector's and the tool's (so usage can be shown per connector and tool), and the
per-minute request counters of whichever scopes have a rate limit. They are consumed in
one atomic :meth:`Store.consume`: all or nothing, so a refused call counts nowhere and
concurrent calls never over-admit.

Monthly limits count connector tool calls (the calls that reach an upstream API);
native tools count only in their own per-tool counter, so a tenant over its quota can
still look at its usage. ``requests_per_minute`` limits every tool call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastn_gen.gateway.limits import MONTHLY, PER_MINUTE, LimitName, Limits, ScopedLimits
from fastn_gen.gateway.tenancy import Tenant
from fastn_gen.store.base import Store
from fastn_gen.store.records import CounterLimit, CounterRefusal

Scope = Literal["tenant", "connector", "tool"]
Clock = Callable[[], datetime]

_KEY_PREFIX: dict[LimitName, str] = {MONTHLY: "calls", PER_MINUTE: "rpm"}


def utc_now() -> datetime:
    return datetime.now(UTC)


# -- periods ------------------------------------------------------------------------------


def month_period(now: datetime) -> str:
    return f"{now.year:04d}-{now.month:02d}"


def month_start(now: datetime) -> datetime:
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def month_reset(now: datetime) -> datetime:
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def minute_period(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def minute_reset(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)


def period_of(limit: LimitName, now: datetime) -> tuple[str, datetime]:
    """The period a counter of ``limit`` falls in at ``now``, and when it resets."""
    now = now.astimezone(UTC)
    if limit == PER_MINUTE:
        return minute_period(now), minute_reset(now)
    return month_period(now), month_reset(now)


# -- counters -----------------------------------------------------------------------------


def counter_key(limit: LimitName, scope: Scope, target: str | None) -> str:
    """``calls``, ``calls:connector:slack``, ``rpm:tool:slack_send_message``..."""
    prefix = _KEY_PREFIX[limit]
    return prefix if scope == "tenant" else f"{prefix}:{scope}:{target}"


@dataclass(frozen=True, slots=True)
class Quota:
    """One limit applying to a call: what it is called, where, and its counter."""

    limit: LimitName
    scope: Scope
    target: str | None  # the connector or tool; None for the tenant
    value: int | None  # None: counted, not limited
    period: str
    resets_at: datetime

    @property
    def key(self) -> str:
        return counter_key(self.limit, self.scope, self.target)

    @property
    def counter(self) -> CounterLimit:
        return CounterLimit(self.key, self.period, self.value)

    def describe(self) -> str:
        where = "the tenant" if self.scope == "tenant" else f"{self.scope} {self.target}"
        return f"{self.limit} for {where}"


def _quota(
    limit: LimitName, scope: Scope, target: str | None, value: int | None, now: datetime
) -> Quota:
    period, resets_at = period_of(limit, now)
    return Quota(limit, scope, target, value, period, resets_at)


def call_quotas(limits: Limits, connector: str | None, tool: str, now: datetime) -> list[Quota]:
    """The counters one call consumes, monthly ones first (they are the lasting refusal).

    ``connector`` is None for native tools. Per-minute counters exist only where a rate
    limit is set; monthly ones are always counted, for the usage summary.
    """
    scopes: list[tuple[Scope, str | None, ScopedLimits | Limits]] = []
    if connector is not None:
        scopes.append(("tenant", None, limits))
        scopes.append(("connector", connector, limits.connector(connector)))
    scopes.append(("tool", tool, limits.tool(tool)))
    monthly = [_quota(MONTHLY, s, t, lim.get(MONTHLY), now) for s, t, lim in scopes]
    rate_scopes = scopes if connector is not None else [("tenant", None, limits), *scopes]
    per_minute = [
        _quota(PER_MINUTE, s, t, lim.get(PER_MINUTE), now)
        for s, t, lim in rate_scopes
        if lim.get(PER_MINUTE) is not None
    ]
    return monthly + per_minute


# -- refusals -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuotaRefusal:
    quota: Quota
    limit: int
    used: int
    now: datetime

    @property
    def retry_after_s(self) -> int | None:
        """Seconds until the per-minute window resets (``Retry-After``); None for quotas."""
        if self.quota.limit != PER_MINUTE:
            return None
        return max(1, math.ceil((self.quota.resets_at - self.now).total_seconds()))

    @property
    def message(self) -> str:
        q = self.quota
        resets = iso(q.resets_at)
        if q.limit == PER_MINUTE:
            return (
                f"Rate limit exceeded: {q.describe()} is {self.limit} requests per minute "
                f"and {self.used} were made in the current minute; retry after "
                f"{self.retry_after_s} s (at {resets})."
            )
        return (
            f"Quota exceeded: {q.describe()} is {self.limit} tool calls per month and "
            f"{self.used} were used in {q.period}; the quota resets at {resets}."
        )

    def structured(self) -> dict[str, Any]:
        q = self.quota
        doc: dict[str, Any] = {
            "error": "rate_limited" if q.limit == PER_MINUTE else "quota_exceeded",
            "message": self.message,
            "limit": q.limit,
            "scope": q.scope,
            "target": q.target,
            "limit_value": self.limit,
            "used": self.used,
            "period": q.period,
            "resets_at": iso(q.resets_at),
        }
        if self.retry_after_s is not None:
            doc["retry_after_s"] = self.retry_after_s
        return doc


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _match(quotas: Sequence[Quota], refusal: CounterRefusal) -> Quota:
    for quota in quotas:
        if quota.key == refusal.key and quota.period == refusal.period:
            return quota
    raise LookupError(f"store refused a counter that was not asked for: {refusal.key}")


class QuotaEnforcer:
    """Consumes a call's counters in the store; answers a refusal or None."""

    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self.store = store
        self.clock = clock

    async def consume(
        self, tenant: Tenant, connector: str | None, tool: str
    ) -> QuotaRefusal | None:
        now = self.clock()
        quotas = call_quotas(tenant.limits, connector, tool, now)
        refusal = await self.store.consume(tenant.id, [q.counter for q in quotas])
        if refusal is None:
            return None
        return QuotaRefusal(_match(quotas, refusal), refusal.limit, refusal.used, now)
