"""Checks and SQL pieces both backends share for tenants, keys and connections."""

from __future__ import annotations

import re
from collections.abc import Sequence

from fastn_gen.store.errors import StoreError
from fastn_gen.store.tenant_records import ALL_TENANTS, ApiKeyRow, ChangeKind, TenantImport

MAX_TENANT_PAGE = 1000
# Above this many tenants in one import, one "everything changed" notice replaces one
# notice per tenant.
NOTIFY_EACH_UP_TO = 100

TENANT_COLUMNS = "id, plan, display_name, limits, allow_plaintext, created_at, updated_at, toolset"
KEY_COLUMNS = "key_id, tenant_id, hash, label, created_at, revoked_at, toolset"
CONNECTION_COLUMNS = (
    "tenant_id, name, connector, credentials, variables, allow_plaintext, updated_at"
)
_SCHEME = re.compile(r"^(scrypt|sha256)\$")


class UnknownTenant(StoreError, LookupError):
    """A key or connection was given for a tenant the store does not have."""


class KeyIdTaken(StoreError):
    """An API key id is already used (key ids are unique across all tenants)."""


def key_scheme(key: ApiKeyRow) -> str:
    found = _SCHEME.match(key.hash)
    if found is None:
        raise StoreError(f"API key {key.key_id}: the hash must be scrypt$... or sha256$...")
    return found.group(1)


def tenant_page(limit: int) -> int:
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return min(limit, MAX_TENANT_PAGE)


def change_notice(kind: ChangeKind, tenant_id: str) -> str:
    """The payload of a change notification: ``<kind>:<tenant id>``."""
    return f"{kind}:{tenant_id}"


def import_notices(batch: Sequence[TenantImport]) -> list[str]:
    if len(batch) > NOTIFY_EACH_UP_TO:
        return [change_notice("tenant", ALL_TENANTS)]
    return [change_notice("tenant", item.tenant.id) for item in batch]


def check_import(batch: Sequence[TenantImport]) -> None:
    """Every key and connection belongs to its tenant; tenant and key ids are unique."""
    tenants: set[str] = set()
    key_ids: set[str] = set()
    for item in batch:
        tid = item.tenant.id
        if tid in tenants:
            raise StoreError(f"tenant {tid!r} appears twice in one import")
        tenants.add(tid)
        for key in item.keys:
            key_scheme(key)
            if key.tenant_id != tid:
                raise StoreError(f"API key {key.key_id} is given under tenant {tid!r}")
            if key.key_id in key_ids:
                raise KeyIdTaken(f"API key id {key.key_id!r} appears twice in one import")
            key_ids.add(key.key_id)
        names = [c.name for c in item.connections]
        if any(c.tenant_id != tid for c in item.connections) or len(set(names)) != len(names):
            raise StoreError(f"tenant {tid!r}: connections must be its own, each name once")
