"""Setting the toolset of a tenant kept in the store, or of one of its API keys.

A toolset given on the command line is checked exactly as the tenants file checks
it: the tenant, its connections, its unrevoked keys and the new toolset are written
out as a one-tenant tenants document and validated (``validate_tenants``), and the
problems found under a toolset are the refusal, each naming its field. A key's
toolset may only narrow its tenant's; a tenant's new toolset may not leave one of its
keys wider than itself (the file refuses both).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from fastn_gen.gateway.tenancy import validate_tenants
from fastn_gen.gateway.tenant_types import ConfigIssue
from fastn_gen.gateway.tenants_admin import TenantCommandError, now
from fastn_gen.store.base import Store
from fastn_gen.store.tenant_records import ApiKeyRow, TenantRecord

_TENANT_AT = "/tenants/0/toolset"
_KEY_AT = re.compile(r"^/tenants/0/api_keys/(\d+)/toolset(/|$)")


def read_toolset(inline: str | None, file: Path | None) -> dict[str, Any] | None:
    """The toolset given as JSON or YAML text, or in a file; None when neither is given."""
    if inline is not None and file is not None:
        raise TenantCommandError("give --toolset or --toolset-file, not both")
    if inline is None and file is None:
        return None
    source = "--toolset" if file is None else str(file)
    try:
        text = inline if file is None else file.read_text(encoding="utf-8")
        value = yaml.safe_load(text or "")
    except (OSError, yaml.YAMLError) as exc:
        raise TenantCommandError(f"{source}: not readable as JSON or YAML ({exc})") from None
    if not isinstance(value, dict):
        raise TenantCommandError(f"{source}: a toolset is a mapping, like {{access: read}}")
    return value


def toolset_document(
    tenant_id: str,
    toolset: Any,
    *,
    record: TenantRecord | None = None,
    keys: list[ApiKeyRow] | None = None,
) -> dict[str, Any]:
    """The tenants document holding this one tenant, as the file would write it."""
    tenant: dict[str, Any] = {"id": tenant_id}
    if record is not None:
        tenant["plan"] = record.tenant.plan
        tenant["allow_plaintext"] = record.tenant.allow_plaintext
        tenant["connections"] = [
            {
                "name": c.name,
                "connector": c.connector,
                "credentials": dict(c.credentials),
                "variables": dict(c.variables),
                "allow_plaintext": c.allow_plaintext,
            }
            for c in record.connections
        ]
    if toolset is not None:
        tenant["toolset"] = toolset
    tenant["api_keys"] = [
        {"id": k.key_id, "hash": k.hash, **({"toolset": k.toolset} if k.toolset else {})}
        for k in keys or ()
    ]
    return {"version": 1, "tenants": [tenant]}


def _where(issue: ConfigIssue, keys: list[ApiKeyRow]) -> str:
    """The issue's field, said without the document's tenant prefix."""
    if issue.pointer.startswith(_TENANT_AT):
        return issue.pointer[len("/tenants/0/") :]
    found = _KEY_AT.match(issue.pointer)
    if found is None:
        return issue.pointer
    kid = keys[int(found.group(1))].key_id
    return f"key {kid}: " + issue.pointer[len(f"/tenants/0/api_keys/{found.group(1)}/") :]


def toolset_issues(document: dict[str, Any], keys: list[ApiKeyRow]) -> set[str]:
    """The problems found under any toolset of the document, as messages."""
    return {
        f"{_where(issue, keys)}: {issue.message}"
        for issue in validate_tenants(document)
        if issue.pointer.startswith(_TENANT_AT) or _KEY_AT.match(issue.pointer)
    }


def refuse(problems: set[str]) -> None:
    if problems:
        raise TenantCommandError("toolset refused: " + "; ".join(sorted(problems)))


async def set_toolset(
    store: Store, tenant_id: str, toolset: dict[str, Any] | None, key: str | None = None
) -> None:
    """Set (None: clear) the toolset of ``tenant_id``, or of its API key ``key``."""
    record = await store.get_tenant(tenant_id)
    if record is None:
        raise TenantCommandError(f"no tenant {tenant_id!r} in the store")
    keys = [k for k in await store.list_api_keys(tenant_id) if k.revoked_at is None]
    if key is None:
        before = toolset_issues(toolset_document(tenant_id, record.tenant.toolset,
                                                 record=record, keys=keys), keys)  # fmt: skip
        after = toolset_issues(toolset_document(tenant_id, toolset, record=record, keys=keys), keys)
        # What this change makes wrong: the new toolset's problems, and keys it leaves
        # wider than the tenant (problems already there before are not this change's).
        refuse({p for p in after if p.startswith("toolset") or p not in before})
    else:
        index = next((i for i, k in enumerate(keys) if k.key_id == key), None)
        if index is None:
            raise TenantCommandError(f"tenant {tenant_id} has no unrevoked key {key!r}")
        changed = [*keys]
        changed[index] = ApiKeyRow(key, tenant_id, keys[index].hash, toolset=toolset)
        document = toolset_document(tenant_id, record.tenant.toolset, record=record, keys=changed)
        refuse({p for p in toolset_issues(document, changed) if p.startswith(f"key {key}: ")})
    if not await store.set_toolset(tenant_id, key, toolset, at=now()):
        raise TenantCommandError(f"tenant {tenant_id} changed meanwhile; try again")


def check_new_key_toolset(record: TenantRecord, toolset: dict[str, Any], kid: str) -> None:
    """Refuse a new key's toolset that the tenants file would refuse."""
    key = ApiKeyRow(kid, record.tenant.id, "scrypt$", toolset=toolset)
    document = toolset_document(record.tenant.id, record.tenant.toolset, record=record, keys=[key])
    mine = f"key {kid}: "  # not made yet: its id would mean nothing to the reader
    refuse(
        {
            "new key: " + p[len(mine) :]
            for p in toolset_issues(document, [key])
            if p.startswith(mine)
        }
    )


def toolset_text(toolset: dict[str, Any] | None) -> str:
    """A toolset on one line, for ``tenants list``."""
    return "-" if toolset is None else json.dumps(toolset, separators=(",", ":"), sort_keys=True)
