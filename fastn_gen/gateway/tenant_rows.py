"""Between the tenants file's shapes and the store's rows.

``tenant_from_record`` builds the runtime :class:`Tenant` a request is served as from
what the store holds; ``imports_from_file`` turns a validated tenants file into the
rows ``fastn-gen tenants import`` writes (hashes and references only, as in the file).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from fastn_gen.gateway.limits import Limits, effective_limits
from fastn_gen.gateway.secrets import SecretStore
from fastn_gen.gateway.tenancy import Connection, CredentialRef, Tenant, TenantRegistry
from fastn_gen.gateway.tenants_model import (
    ApiKeyModel,
    ConnectionModel,
    LimitsModel,
    PlanModel,
    TenantModel,
    ToolsetModel,
)
from fastn_gen.gateway.toolset_config import filter_of, tenant_toolset
from fastn_gen.gateway.toolsets import FULL, Mode, ToolFilter, Toolset
from fastn_gen.store.tenant_records import (
    ApiKeyRow,
    ConnectionRow,
    TenantImport,
    TenantRecord,
    TenantRow,
)


def overrides_json(model: LimitsModel | None) -> dict[str, Any] | None:
    # exclude_unset: an absent field keeps the plan's value, an explicit null lifts it.
    return None if model is None else model.model_dump(mode="json", exclude_unset=True)


class LimitsResolver:
    """Effective limits per tenant; tenants of one plan without overrides share one value."""

    def __init__(self, plans: Mapping[str, PlanModel]) -> None:
        self._plans = dict(plans)
        self._shared = lru_cache(maxsize=256)(self._plan_only)

    def _plan_only(self, plan: str) -> Limits:
        return effective_limits(self._plans.get(plan), None)

    def __call__(self, plan: str, overrides: dict[str, Any] | None) -> Limits:
        if not overrides:
            return self._shared(plan)
        return effective_limits(self._plans.get(plan), LimitsModel.model_validate(overrides))


def toolset_json(model: ToolsetModel | None) -> dict[str, Any] | None:
    return None if model is None else model.model_dump(mode="json", exclude_none=True)


@lru_cache(maxsize=256)
def _toolset_of(text: str) -> Toolset:
    return tenant_toolset(ToolsetModel.model_validate_json(text))


def stored_toolset(value: dict[str, Any] | None) -> Toolset:
    """A tenant's toolset from its row; tenants with the same one share the object."""
    if value is None:
        return FULL
    return _toolset_of(json.dumps(value, sort_keys=True))


# A key's filter and chosen mode, which narrow its tenant's toolset.
KeyToolset = tuple[ToolFilter, Mode | None]


def key_toolset(value: dict[str, Any]) -> KeyToolset:
    model = ToolsetModel.model_validate(value)
    return filter_of(model), model.mode


def tenant_from_record(
    record: TenantRecord, limits: LimitsResolver, secret_store: SecretStore | None
) -> Tenant:
    row = record.tenant
    connections = {
        c.name: Connection(
            connector=c.connector,
            name=c.name,
            credentials={f: CredentialRef.parse(v) for f, v in sorted(c.credentials.items())},
            variables=dict(c.variables),
        )
        for c in record.connections
    }
    return Tenant(
        id=row.id,
        display_name=row.display_name or row.id,
        plan=row.plan,
        connections=connections,
        secret_store=secret_store,
        limits=limits(row.plan, row.limits),
        toolset=stored_toolset(row.toolset),
    )


def connection_row(tenant_id: str, model: ConnectionModel) -> ConnectionRow:
    return ConnectionRow(
        tenant_id=tenant_id,
        name=model.name or model.connector,
        connector=model.connector,
        credentials=dict(model.credentials),
        variables=dict(model.variables),
        allow_plaintext=model.allow_plaintext,
    )


def imports_from_file(path: Path, registry: TenantRegistry) -> list[TenantImport]:
    """The rows of every tenant of ``path``, which ``registry`` was loaded (and so
    validated) from; the raw document supplies what the registry does not keep."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found: list[TenantImport] = []
    for raw in data.get("tenants") or []:
        model = TenantModel.model_validate(raw)
        if registry.get(model.id) is None:  # not served: the file would not have loaded
            continue
        keys = tuple(
            ApiKeyRow(k.id, model.id, k.hash, label=k.label, toolset=toolset_json(k.toolset))
            for k in (ApiKeyModel.model_validate(item) for item in model.api_keys)
        )
        connections = tuple(
            connection_row(model.id, ConnectionModel.model_validate(item))
            for item in model.connections
        )
        row = TenantRow(
            model.id,
            plan=model.plan,
            display_name=model.display_name,
            limits=overrides_json(model.limits),
            allow_plaintext=model.allow_plaintext,
            toolset=toolset_json(model.toolset),
        )
        found.append(TenantImport(row, keys, connections))
    return found
