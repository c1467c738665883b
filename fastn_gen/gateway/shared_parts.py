"""Keep equal immutable parts of many tenants once.

A tenants file with 100,000 tenants typically has a handful of plans and a handful of
distinct connection sets (the same connector with the same ``${ENV}`` or ``secret:``
reference): sharing those objects makes the memory of loaded tenants grow with the
number of distinct sets, not with the number of tenants. Everything shared is frozen
and never mutated after loading.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from fastn_gen.gateway.limits import Limits, effective_limits
from fastn_gen.gateway.tenants_model import ConnectionModel, LimitsModel, PlanModel

C = TypeVar("C")
R = TypeVar("R")


class SharedParts(Generic[R]):
    """One object per distinct value: limits, credential references, connections."""

    def __init__(self, parse_ref: Callable[[str], R]) -> None:
        self._parse_ref = parse_ref
        self._limits: dict[tuple[str, str | None], Limits] = {}
        self._refs: dict[str, R] = {}
        self._connections: dict[tuple[Any, ...], Any] = {}
        self._sets: dict[tuple[Any, ...], dict[str, Any]] = {}

    def limits(
        self,
        plan_name: str,
        overrides: LimitsModel | None,
        plan: PlanModel | None,
    ) -> Limits:
        """The plan's limits with the tenant's overrides: one object per distinct pair."""
        key = (plan_name, overrides.model_dump_json() if overrides is not None else None)
        found = self._limits.get(key)
        if found is None:
            found = self._limits[key] = effective_limits(plan, overrides)
        return found

    def credential(self, text: str) -> R:
        found = self._refs.get(text)
        if found is None:
            found = self._refs[text] = self._parse_ref(text)
        return found

    def connections(
        self,
        models: Sequence[ConnectionModel],
        make: Callable[[ConnectionModel, Callable[[str], R]], C],
    ) -> dict[str, C]:
        """Connections by name; equal sets of connections are one (read-only) dict."""
        keys = tuple(_connection_key(m) for m in models)
        found = self._sets.get(keys)
        if found is not None:
            return found
        built: dict[str, C] = {}
        for key, model in zip(keys, models, strict=True):
            conn = self._connections.get(key)
            if conn is None:
                conn = self._connections[key] = make(model, self.credential)
            built[model.name or model.connector] = conn
        self._sets[keys] = built
        return built


def _connection_key(m: ConnectionModel) -> tuple[Any, ...]:
    return (
        m.connector,
        m.name,
        tuple(m.credentials.items()),
        tuple(m.variables.items()),
    )
