"""A tenant's effective usage limits: its plan's, with the tenant's overrides applied.

Plans and overrides are validated by :mod:`.tenants_model`; this module merges them
into one immutable value per tenant, built once when the tenants file is loaded, so
the call path only reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from fastn_gen.gateway.tenants_model import LimitsModel, PlanModel, ScopedLimitsModel

# The limit names, as written in tenants.yaml and shown in refusals and usage.
LimitName = Literal["tool_calls_per_month", "requests_per_minute"]
MONTHLY: Final = "tool_calls_per_month"
PER_MINUTE: Final = "requests_per_minute"
LIMIT_NAMES: tuple[LimitName, ...] = (MONTHLY, PER_MINUTE)


@dataclass(frozen=True, slots=True)
class ScopedLimits:
    tool_calls_per_month: int | None = None
    requests_per_minute: int | None = None

    def get(self, name: LimitName) -> int | None:
        value: int | None = getattr(self, name)
        return value

    @property
    def empty(self) -> bool:
        return self.tool_calls_per_month is None and self.requests_per_minute is None


@dataclass(frozen=True, slots=True)
class Limits:
    """What a tenant may use. None means unlimited."""

    tool_calls_per_month: int | None = None
    requests_per_minute: int | None = None
    per_connector: Mapping[str, ScopedLimits] = field(default_factory=dict)
    per_tool: Mapping[str, ScopedLimits] = field(default_factory=dict)

    def get(self, name: LimitName) -> int | None:
        value: int | None = getattr(self, name)
        return value

    def connector(self, name: str) -> ScopedLimits:
        return self.per_connector.get(name, NO_SCOPED_LIMITS)

    def tool(self, name: str) -> ScopedLimits:
        return self.per_tool.get(name, NO_SCOPED_LIMITS)


NO_SCOPED_LIMITS = ScopedLimits()
UNLIMITED = Limits()


def _overridden(
    base: int | None, override: LimitsModel | ScopedLimitsModel, name: str
) -> int | None:
    # A field present in the override wins, even when it is null (which lifts the limit).
    if name in override.model_fields_set:
        value: int | None = getattr(override, name)
        return value
    return base


def _scoped(base: ScopedLimits, override: ScopedLimitsModel | None) -> ScopedLimits:
    if override is None:
        return base
    return ScopedLimits(
        tool_calls_per_month=_overridden(base.tool_calls_per_month, override, MONTHLY),
        requests_per_minute=_overridden(base.requests_per_minute, override, PER_MINUTE),
    )


def _scoped_map(
    base: Mapping[str, ScopedLimits], override: Mapping[str, ScopedLimitsModel]
) -> dict[str, ScopedLimits]:
    merged = dict(base)
    for name, scoped in override.items():
        merged[name] = _scoped(merged.get(name, NO_SCOPED_LIMITS), scoped)
    return {name: value for name, value in sorted(merged.items()) if not value.empty}


def from_model(model: LimitsModel | None, base: Limits = UNLIMITED) -> Limits:
    """``model`` applied on top of ``base`` (a plan on top of nothing, overrides on a plan)."""
    if model is None:
        return base
    return Limits(
        tool_calls_per_month=_overridden(base.tool_calls_per_month, model, MONTHLY),
        requests_per_minute=_overridden(base.requests_per_minute, model, PER_MINUTE),
        per_connector=_scoped_map(base.per_connector, model.per_connector),
        per_tool=_scoped_map(base.per_tool, model.per_tool),
    )


def effective_limits(plan: PlanModel | None, overrides: LimitsModel | None) -> Limits:
    return from_model(overrides, from_model(plan))
