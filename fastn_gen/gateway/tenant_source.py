"""Where the gateway's tenants come from: the tenants file, or the store.

``--tenants-from store`` (or ``FASTN_TENANTS_FROM=store``, or ``tenants_from: store``
in the tenants file) serves the tenants kept in the store (``fastn-gen tenants ...``).
The tenants file still supplies plans, the data directory and OAuth settings, and must
then list no tenants of its own (import them instead), so no tenant is defined twice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from fastn_gen.gateway.services import store_location
from fastn_gen.gateway.store_registry import DEFAULT_CACHE_SIZE, DEFAULT_TTL_S, StoreTenantRegistry
from fastn_gen.gateway.tenancy import ConfigIssue, TenantConfigError, TenantRegistry
from fastn_gen.store.factory import store_from_url

TENANTS_FROM_ENV = "FASTN_TENANTS_FROM"
CACHE_TTL_ENV = "FASTN_TENANT_CACHE_TTL"
CACHE_SIZE_ENV = "FASTN_TENANT_CACHE_SIZE"
SOURCES = ("file", "store")


def chosen_source(
    registry: TenantRegistry, tenants_from: str | None, environ: Mapping[str, str] | None = None
) -> str:
    env = os.environ if environ is None else environ
    source = tenants_from or env.get(TENANTS_FROM_ENV) or registry.tenants_from
    if source not in SOURCES:
        raise TenantConfigError(
            registry.source,
            [ConfigIssue("", f"tenants come from 'file' or 'store', not {source!r}")],
        )
    return source


def select_registry(
    registry: TenantRegistry,
    tenants_from: str | None = None,
    store_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> TenantRegistry:
    """``registry`` itself, or a registry of the store's tenants with its plans."""
    if chosen_source(registry, tenants_from, environ) == "file":
        return registry
    if len(registry):
        raise TenantConfigError(
            registry.source,
            [
                ConfigIssue(
                    "/tenants",
                    f"tenants come from the store, but this file lists {len(registry)}: "
                    "import them (fastn-gen tenants import) and leave `tenants: []`",
                )
            ],
        )
    env = os.environ if environ is None else environ
    location = store_location(registry, store_url, env)
    store = store_from_url(location, data_dir=registry.data_dir)
    ttl = float(env.get(CACHE_TTL_ENV) or DEFAULT_TTL_S)
    size = int(env.get(CACHE_SIZE_ENV) or DEFAULT_CACHE_SIZE)
    return StoreTenantRegistry(store, registry, ttl_s=ttl, cache_size=size)
