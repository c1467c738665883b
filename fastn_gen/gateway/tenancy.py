"""Tenants by id and by API key: the registry a gateway serves from.

It is built from ``tenants.yaml`` (checked by :mod:`.tenants_validation`, every
mistake reported together in one :class:`TenantConfigError`) or directly from
tenants; the runtime shapes (tenants, connections, credential references) are in
:mod:`.tenant_types`, and are re-exported here.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path

import anyio.to_thread

from fastn_gen.collector import collector_paused
from fastn_gen.gateway.apikeys import (
    DEFAULT_CACHE_SIZE,
    ApiKeyIndex,
    KeyEntry,
    KeyIndexStats,
    generate_api_key,
    hash_api_key,
    key_id,
)
from fastn_gen.gateway.secrets import SecretStore
from fastn_gen.gateway.tenant_types import (
    ConfigIssue,
    Connection,
    ConnectorCatalog,
    ConnectorRequirements,
    CredentialRef,
    Tenant,
    TenantConfigError,
)
from fastn_gen.gateway.tenants_model import PlanModel
from fastn_gen.gateway.tenants_validation import build_registry_parts, validate_tenants

__all__ = [
    "ConfigIssue",
    "Connection",
    "ConnectorCatalog",
    "ConnectorRequirements",
    "CredentialRef",
    "Tenant",
    "TenantConfigError",
    "TenantRegistry",
    "generate_api_key",
    "hash_api_key",
    "validate_tenants",
]

logger = logging.getLogger(__name__)


# -- the registry -----------------------------------------------------------------------


class TenantRegistry:
    """Tenants by id and by API key. Immutable once built; reload by building another."""

    def __init__(
        self,
        tenants: Iterable[Tenant],
        keys: Iterable[KeyEntry] = (),
        *,
        plans: Mapping[str, PlanModel] | None = None,
        data_dir: Path | None = None,
        secret_store: SecretStore | None = None,
        source: str = "<memory>",
        key_cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._tenants: dict[str, Tenant] = {}
        for tenant in tenants:
            if tenant.id in self._tenants:
                raise ValueError(f"tenant {tenant.id!r} given twice")
            self._tenants[tenant.id] = tenant
        keys = list(keys)
        self._keys = ApiKeyIndex(keys, key_cache_size)
        self.plans: dict[str, PlanModel] = dict(plans or {})
        # Generated keys name their entry by id: which tenant an id belongs to lets a
        # failed attempt with a known id be recorded for that tenant.
        self._key_owner = {k.key_id: k.tenant_id for k in keys if k.hash.scheme == "scrypt"}
        # The tenant as served for each key: carrying the key's id and toolset.
        self._as_key: dict[str, Tenant] = {}
        for k in keys:
            owner = self._tenants.get(k.tenant_id)
            if owner is not None:
                self._as_key[k.key_id] = dataclasses.replace(
                    owner, api_key_id=k.key_id, toolset=k.toolset or owner.toolset
                )
        self.data_dir = data_dir
        self.secret_store = secret_store
        self.source = source
        # What the file says serves the tenants: "file" (these), or "store".
        self.tenants_from = "file"

    @classmethod
    def load(
        cls,
        path: Path | str,
        catalog: ConnectorCatalog | None = None,
        environ: Mapping[str, str] | None = None,
        tools: Collection[str] | None = None,
    ) -> TenantRegistry:
        """Read and validate ``path``; raises :class:`TenantConfigError` listing every issue.

        ``catalog`` (connector name → requirements or spec) enables the checks that need
        to know the connectors: names, credential fields, variables; ``tools`` (every
        tool name) the check of per-tool limits.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TenantConfigError(
                str(path), [ConfigIssue("", f"cannot read: {exc.strerror}")]
            ) from None
        return cls.from_text(
            text,
            source=str(path),
            base_dir=path.absolute().parent,
            catalog=catalog,
            environ=environ,
            tools=tools,
        )

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        source: str = "<memory>",
        base_dir: Path | None = None,
        catalog: ConnectorCatalog | None = None,
        environ: Mapping[str, str] | None = None,
        tools: Collection[str] | None = None,
    ) -> TenantRegistry:
        # Loading allocates a few objects per tenant and no reference cycles: the cyclic
        # collector would rescan them all again and again (most of the CPU time of a
        # 100,000-tenant file).
        with collector_paused():
            loaded = build_registry_parts(text, source, base_dir, catalog, environ, tools)
            registry = cls(
                loaded.tenants,
                loaded.keys,
                plans=loaded.plans,
                data_dir=loaded.data_dir,
                secret_store=loaded.store,
                source=source,
            )
        registry.tenants_from = loaded.tenants_from
        for description in registry.unset_environment(environ):
            logger.warning("%s: %s is not set; calls needing it will fail", source, description)
        return registry

    @property
    def key_stats(self) -> KeyIndexStats:
        return self._keys.stats

    def authenticate(self, presented_key: str) -> Tenant | None:
        entry = self._keys.lookup_entry(presented_key)
        return self._as_key.get(entry.key_id) if entry is not None else None

    def get(self, tenant_id: str) -> Tenant | None:
        return self._tenants.get(tenant_id)

    def as_key(self, key_id: str) -> Tenant | None:
        """The tenant as served for requests made with the key ``key_id``."""
        return self._as_key.get(key_id)

    def claimed_tenant(self, presented_key: str) -> Tenant | None:
        """The tenant a generated key names by its id, whether or not the key is valid.

        For attributing a refused key to the tenant it targets; never for granting access.
        """
        claimed = key_id(presented_key)
        owner = self._key_owner.get(claimed) if claimed is not None else None
        return self._tenants.get(owner) if owner is not None else None

    # -- what the gateway calls (``StoreTenantRegistry`` answers from the store) -------
    async def start(self) -> None:
        """Nothing to open for a file's tenants."""

    async def aclose(self) -> None:
        """Nothing to close for a file's tenants."""

    async def resolve_key(self, presented_key: str) -> Tenant | None:
        known, entry = self._keys.cached(presented_key)
        if known:  # checked before: no thread hop for a dictionary look-up
            # As served for that key: its toolset narrows the tenant's (as authenticate).
            return self._as_key.get(entry.key_id) if entry is not None else None
        # In a worker thread: the first check of a generated key runs scrypt (~50 ms),
        # which must not stall every other request on the loop.
        return await anyio.to_thread.run_sync(self.authenticate, presented_key)

    async def find(self, tenant_id: str) -> Tenant | None:
        return self.get(tenant_id)

    async def resolve_claimed(self, presented_key: str) -> Tenant | None:
        return self.claimed_tenant(presented_key)

    @property
    def tenants(self) -> tuple[Tenant, ...]:
        return tuple(self._tenants.values())

    def __len__(self) -> int:
        return len(self._tenants)

    def __iter__(self) -> Iterator[Tenant]:
        return iter(self._tenants.values())

    def unset_environment(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """Descriptions of ``${VAR}`` references whose variable is unset (names only)."""
        env = os.environ if environ is None else environ
        found = []
        for tenant in self._tenants.values():
            for conn in tenant.connections.values():
                for fld, ref in conn.credentials.items():
                    if ref.kind == "env" and not env.get(ref.target):
                        found.append(
                            f"tenant {tenant.id} connection {conn.name} credential {fld!r}: "
                            f"{ref.describe()}"
                        )
        return found
