"""What ``fastn-gen tenants ...`` does to the tenants kept in the store.

Each operation validates like the tenants file would (connector names, credential
fields and references, variables, plans), writes in one store transaction, and
records a ``connection_change`` event for connections added, changed or removed, so
a tenant's event history shows changes made here as it shows those of the file.
On PostgreSQL every write also notifies the running gateways (see store_registry).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastn_gen.gateway.apikeys import generate_api_key, hash_api_key, key_id
from fastn_gen.gateway.tenancy import ConnectorCatalog, TenantRegistry, validate_tenants
from fastn_gen.gateway.tenant_rows import imports_from_file
from fastn_gen.gateway.tenants_model import PlanModel
from fastn_gen.store.base import Store
from fastn_gen.store.ids import new_event_id
from fastn_gen.store.records import Event
from fastn_gen.store.tenant_records import ApiKeyRow, ConnectionRow, ImportResult, TenantRow
from fastn_gen.store.tenant_rules import UnknownTenant

IMPORT_BATCH = 500


class TenantCommandError(Exception):
    """A command refused: the message says why (never a credential value)."""


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str  # shown once, stored nowhere
    key_id: str


def now() -> datetime:
    return datetime.now(UTC)


async def import_file(store: Store, path: Path, registry: TenantRegistry) -> ImportResult:
    """Import every tenant of a tenants file (already validated into ``registry``)."""
    items = imports_from_file(path, registry)
    totals = [0, 0, 0, 0, 0]
    at = now()
    for start in range(0, len(items), IMPORT_BATCH):
        done = await store.import_tenants(items[start : start + IMPORT_BATCH], at=at)
        for i, value in enumerate(
            (
                done.tenants_created,
                done.tenants_updated,
                done.keys_added,
                done.connections_written,
                done.connections_removed,
            )
        ):
            totals[i] += value
    return ImportResult(*totals)


def _check_plan(plan: str, plans: Mapping[str, PlanModel]) -> None:
    if plans and plan not in plans:
        raise TenantCommandError(
            f"plan {plan!r} is not defined (plans: {', '.join(sorted(plans))})"
        )


async def add_tenant(
    store: Store,
    tenant_id: str,
    *,
    plan: str = "default",
    display_name: str | None = None,
    plans: Mapping[str, PlanModel] | None = None,
    with_key: bool = True,
    toolset: dict[str, Any] | None = None,
) -> NewKey | None:
    entry: dict[str, Any] = {"id": tenant_id, "plan": plan}
    if toolset is not None:
        entry["toolset"] = toolset  # checked as the file checks it (no connections yet)
    issues = validate_tenants({"version": 1, "tenants": [entry]})
    if issues:
        raise TenantCommandError(
            "; ".join(str(issue).removeprefix("/tenants/0/") for issue in issues)
        )
    _check_plan(plan, plans or {})
    if await store.get_tenant(tenant_id) is not None:
        raise TenantCommandError(f"tenant {tenant_id!r} already exists")
    row = TenantRow(tenant_id, plan, display_name, toolset=toolset)
    await store.put_tenant(row, at=now())
    return await new_key(store, tenant_id) if with_key else None


async def new_key(
    store: Store,
    tenant_id: str,
    label: str | None = None,
    toolset: dict[str, Any] | None = None,
) -> NewKey:
    key, _ = generate_api_key(tenant_id)
    kid = key_id(key)
    assert kid is not None  # generated keys always carry their id
    if toolset is not None:
        from fastn_gen.gateway.toolset_admin import check_new_key_toolset

        record = await store.get_tenant(tenant_id)
        if record is None:
            raise TenantCommandError(f"no tenant {tenant_id!r} in the store")
        check_new_key_toolset(record, toolset, kid)
    row = ApiKeyRow(kid, tenant_id, hash_api_key(key), label, toolset=toolset)
    try:
        await store.add_api_key(row, at=now())
    except UnknownTenant:
        raise TenantCommandError(f"no tenant {tenant_id!r} in the store") from None
    return NewKey(key, kid)


def parse_pairs(pairs: Sequence[str], what: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise TenantCommandError(f"{what} must be written NAME=VALUE, got {name or pair!r}")
        found[name] = value
    return found


async def connect(
    store: Store,
    tenant_id: str,
    connector: str,
    *,
    name: str | None = None,
    credentials: Mapping[str, str],
    variables: Mapping[str, str],
    allow_plaintext: bool = False,
    catalog: ConnectorCatalog | None = None,
    plans: Mapping[str, PlanModel] | None = None,
) -> bool:
    """Add or replace one connection; True when it was added."""
    record = await store.get_tenant(tenant_id)
    if record is None:
        raise TenantCommandError(f"no tenant {tenant_id!r} in the store")
    entry: dict[str, Any] = {
        "connector": connector,
        "credentials": dict(credentials),
        "variables": dict(variables),
        "allow_plaintext": allow_plaintext,
    }
    if name is not None:
        entry["name"] = name
    document = {
        "version": 1,
        "tenants": [
            {
                "id": tenant_id,
                "allow_plaintext": record.tenant.allow_plaintext,
                "connections": [entry],
            }
        ],
    }
    issues = validate_tenants(document, catalog)
    if issues:
        details = "; ".join(
            f"{i.pointer.replace('/tenants/0/connections/0', 'connection')}: {i.message}"
            for i in issues
        )
        raise TenantCommandError(details)
    conn_name = name or connector
    limit = (plans or {}).get(record.tenant.plan)
    existing = {c.name for c in record.connections}
    allowed = limit.max_connections if limit is not None else None
    if allowed is not None and conn_name not in existing and len(existing) >= allowed:
        raise TenantCommandError(
            f"plan {record.tenant.plan!r} allows {allowed} connection(s); "
            f"tenant {tenant_id} has {len(existing)}"
        )
    row = ConnectionRow(
        tenant_id, conn_name, connector, dict(credentials), dict(variables), allow_plaintext
    )
    at = now()
    created = await store.put_connection(row, at=at)
    change = {"change": "added" if created else "changed", "connection": conn_name}
    await _record(store, tenant_id, connector, change, at)
    return created


async def disconnect(store: Store, tenant_id: str, name: str) -> str:
    """Remove the connection called ``name`` (or the one to connector ``name``)."""
    record = await store.get_tenant(tenant_id)
    if record is None:
        raise TenantCommandError(f"no tenant {tenant_id!r} in the store")
    found = next((c for c in record.connections if c.name == name), None)
    if found is None:
        found = next((c for c in record.connections if c.connector == name), None)
    if found is None:
        raise TenantCommandError(f"tenant {tenant_id} has no connection {name!r}")
    at = now()
    if await store.delete_connection(tenant_id, found.name, at=at):
        change = {"change": "removed", "connection": found.name}
        await _record(store, tenant_id, found.connector, change, at)
    return found.name


async def _record(
    store: Store, tenant_id: str, connector: str, change: dict[str, Any], at: datetime
) -> None:
    detail = {**change, "connector": connector, "source": "cli"}
    await store.record_event(
        Event(
            id=new_event_id(at),
            tenant_id=tenant_id,
            at=at,
            type="connection_change",
            status="success",
            connector=connector,
            detail=detail,
        )
    )
