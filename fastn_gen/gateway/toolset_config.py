"""Toolsets in ``tenants.yaml``: checked against the tenant, then resolved once at load.

A tenant's ``toolset`` may name only connectors it has connected; an API key's
``toolset`` may name only connectors and tags inside its tenant's, and no wider
``access``. Problems come back as (JSON pointer, message) like every other check of
the file.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from fastn_gen.gateway.tenants_model import ApiKeyModel, ToolsetModel
from fastn_gen.gateway.toolsets import ACCESS_ORDER, FULL, ToolFilter, Toolset, tool_filter

Problem = tuple[str, str]


def filter_of(model: ToolsetModel) -> ToolFilter:
    return tool_filter(model.connectors, model.tags, model.access, model.include, model.exclude)


def tenant_toolset(model: ToolsetModel | None) -> Toolset:
    if model is None:
        return FULL
    return Toolset((filter_of(model),), model.mode or "all")


def key_toolsets(tenant: Toolset, keys: Collection[ApiKeyModel]) -> dict[str, Toolset]:
    """The effective toolset of every key that sets one of its own, by key id."""
    return {
        key.id: tenant.narrowed(filter_of(key.toolset), key.toolset.mode)
        for key in keys
        if key.toolset is not None
    }


def _unknown_connectors(
    at: str, model: ToolsetModel, connected: Collection[str], tenant_id: str
) -> list[Problem]:
    return [
        (f"{at}/connectors/{i}", f"connector {name!r} is not connected by tenant {tenant_id}")
        for i, name in enumerate(model.connectors or ())
        if name not in connected
    ]


def _unknown_tags(at: str, model: ToolsetModel, tags: Collection[str] | None) -> list[Problem]:
    if tags is None:
        return []
    return [
        (f"{at}/tags/{i}", f"no tool has the tag {tag!r}")
        for i, tag in enumerate(model.tags or ())
        if tag not in tags
    ]


def _outside(at: str, field: str, values: list[str] | None, allowed: list[str]) -> list[Problem]:
    listed = ", ".join(allowed) or "none"
    return [
        (
            f"{at}/{field}/{i}",
            f"{value!r} is outside the tenant's toolset ({field}: {listed}); "
            "a key's toolset can only narrow its tenant's",
        )
        for i, value in enumerate(values or ())
        if value not in allowed
    ]


def toolset_problems(
    at: str,
    tenant_id: str,
    tenant: ToolsetModel | None,
    keys: Mapping[int, ApiKeyModel],
    connected: Collection[str],
    tags: Collection[str] | None = None,
) -> list[Problem]:
    """Every problem with a tenant's toolset and its keys' (``at`` is the tenant)."""
    found: list[Problem] = []
    if tenant is not None:
        found += _unknown_connectors(f"{at}/toolset", tenant, connected, tenant_id)
        found += _unknown_tags(f"{at}/toolset", tenant, tags)
    for index, key in keys.items():
        model = key.toolset
        if model is None:
            continue
        kat = f"{at}/api_keys/{index}/toolset"
        found += _unknown_connectors(kat, model, connected, tenant_id)
        found += _unknown_tags(kat, model, tags)
        if tenant is None:
            continue
        if tenant.connectors is not None:
            inside = [c for c in model.connectors or () if c in connected]
            found += _outside(kat, "connectors", inside, tenant.connectors)
        if tenant.tags is not None:
            found += _outside(kat, "tags", model.tags, tenant.tags)
        wide, narrow = model.access or "all", tenant.access or "all"
        if model.access is not None and ACCESS_ORDER[wide] > ACCESS_ORDER[narrow]:
            found.append(
                (
                    f"{kat}/access",
                    f"access {wide!r} is wider than the tenant's ({narrow!r}); "
                    "a key's toolset can only narrow its tenant's",
                )
            )
    return found
