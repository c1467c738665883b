"""The configuration being served, and every part that holds it (for a live reload)."""

from __future__ import annotations

from dataclasses import dataclass

from fastn_gen.gateway.auth import TenantAuth
from fastn_gen.gateway.catalog import Catalog
from fastn_gen.gateway.handlers import GatewayHandlers
from fastn_gen.gateway.services import Services
from fastn_gen.gateway.tenancy import TenantRegistry


@dataclass
class Serving:
    """The catalog and tenants being served, and every part that holds them.

    The native tools, flows, admin console and metrics read both through
    ``services``; the handlers hold the catalog and their cached lists, the auth
    middleware the tenants (and the anonymous tenant), the OAuth scope check the
    kinds of the tools.
    """

    catalog: Catalog
    registry: TenantRegistry
    handlers: GatewayHandlers
    services: Services | None = None
    auth: TenantAuth | None = None
    anonymous_tenant: str | None = None

    def swap(self, catalog: Catalog, registry: TenantRegistry) -> None:
        """Serve ``catalog`` and ``registry`` from now on. Synchronous on purpose."""
        if catalog is not self.catalog:
            self.handlers.use_catalog(catalog)
            resource = self.auth.resource if self.auth is not None else None
            if resource is not None:
                native = self.handlers.native.tools if self.handlers.native is not None else ()
                resource.use_tools([*native, *(entry.tool for entry in catalog.tools.values())])
        if self.services is not None:
            self.services.catalog = catalog
            self.services.registry = registry
        if self.auth is not None and registry is not self.registry:
            self.auth.registry = registry
            if self.anonymous_tenant is not None:
                self.auth.anonymous = registry.get(self.anonymous_tenant)
        self.catalog, self.registry = catalog, registry
