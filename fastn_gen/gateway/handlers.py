"""The MCP request handlers: tools and resources for the current tenant.

The same handlers serve streamable HTTP (both protocol eras) and stdio; the tenant is
read from :mod:`fastn_gen.gateway.context`, where authentication put it.

With :class:`Services` (the store, quotas, recording) the handlers also serve the
native tools, listed before the tenant's connector tools, and the tenant's resources;
every tool call is then counted against the tenant's limits and recorded. Without it
(in-process tests of the tool path alone) only connector tools are served.

Every path to a tool asks the request's view (:mod:`fastn_gen.gateway.tool_views`), so
a tool outside the tenant's or API key's toolset is unknown everywhere; in search mode
the view lists ``fastn_search_tools`` and ``fastn_call_tool`` instead of the connector
tools, and ``fastn_call_tool`` runs through the same ``_call`` as a direct call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.caching import CacheHint
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from fastn_gen import __version__
from fastn_gen.gateway.accounts import (
    AccountRefusal,
    AccountTools,
    choose_account,
)
from fastn_gen.gateway.calls import describe_validation_error, error_result, outcome_result
from fastn_gen.gateway.catalog import Catalog, CatalogError, ToolEntry
from fastn_gen.gateway.context import current_tenant
from fastn_gen.gateway.executor import Executor
from fastn_gen.gateway.services import Services
from fastn_gen.gateway.tenancy import Connection, Tenant
from fastn_gen.gateway.tool_changes import TenantEventBus
from fastn_gen.gateway.tool_list import ToolLists
from fastn_gen.gateway.tool_list_http import slot_of
from fastn_gen.gateway.tool_views import ToolView, ToolViews
from fastn_gen.native.meta_tools import META_NAMES, META_TOOLS, MetaTools
from fastn_gen.native.registry import NativeTools
from fastn_gen.native.resources import TenantResources

__all__ = ["GatewayHandlers", "build_server", "describe_validation_error", "unknown_tool"]

logger = logging.getLogger(__name__)

SERVER_NAME = "fastn-gen"
# A tenant's lists and resources depend on its connections and its own data, so a
# shared cache must never reuse them, and they change with every call.
PRIVATE = CacheHint(ttl_ms=0, scope="private")
TOOLS_LIST_CACHE = PRIVATE


def unknown_tool(name: str) -> MCPError:
    """The one error for a tool that does not exist or is not this tenant's.

    Identical in both cases so a caller cannot learn which tools other tenants have.
    """
    return MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {name}")


class GatewayHandlers:
    """Answers ``tools/*`` from a :class:`Catalog` (and ``resources/*`` with services)."""

    def __init__(
        self,
        catalog: Catalog,
        executor: Executor,
        services: Services | None = None,
        *,
        output_schemas: bool = False,
    ) -> None:
        self.catalog = catalog
        self.executor = executor
        self.services = services
        self.native: NativeTools | None = None
        self.resources: TenantResources | None = None
        if services is not None:
            self.native = NativeTools(services)
            self.resources = TenantResources(self.native)
        clash = sorted(
            name
            for name in catalog.tools
            if name in META_NAMES or (self.native is not None and name in self.native)
        )
        if clash:
            raise CatalogError(
                f"connector tools {', '.join(clash)} have the names of native tools; "
                "rename them in their connector specs"
            )
        self._native_tools: tuple[types.Tool, ...] = self.native.tools if self.native else ()
        # Connector tools' output schemas in tools/list; a reloaded catalog is loaded
        # with them too when set.
        self.output_schemas = output_schemas
        self._use(catalog)
        # subscriptions/listen streams, each scoped to its tenant (tool_changes).
        self.events = TenantEventBus()

    def use_catalog(self, catalog: Catalog) -> None:
        """Serve ``catalog`` from now on (a live reload); every cached list is dropped."""
        self._use(catalog)

    def _use(self, catalog: Catalog) -> None:
        self.catalog = catalog
        # Lists and schemas of tenants with several accounts of a connector.
        self.accounts = AccountTools(catalog)
        # Per (connectors, toolset, accounts): the list and the callable names.
        self.views = ToolViews(
            catalog, self._native_tools, META_TOOLS, TOOLS_LIST_CACHE, self.accounts
        )
        # Search mode's fastn_search_tools and fastn_call_tool (native/meta_tools).
        self.meta = MetaTools(self._native_tools, catalog, self.views.facts)
        # Each view's list as the SDK serialises it and as cached wire bytes.
        self.lists = ToolLists(catalog, TOOLS_LIST_CACHE, output_schemas=self.output_schemas)
        self._empty_list = self.lists.empty_result()

    def _tenant(self) -> Tenant:
        tenant = current_tenant()
        if tenant is None:
            # Unreachable behind the auth middleware; refuse rather than serve anyone.
            raise MCPError(code=types.INVALID_REQUEST, message="Not authenticated")
        return tenant

    def _entry(self, tenant: Tenant, name: str) -> ToolEntry:
        entry = self.catalog.visible(name, tenant.connected_connectors())
        if entry is None:
            raise unknown_tool(name)
        return entry

    async def list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        tenant = self._tenant()
        view = self.views.for_tenant(tenant)
        logger.debug("tools/list for tenant %s: %d tools", tenant.id, len(view.listed.tools))
        slot = slot_of(ctx.request)
        if slot is not None:
            # HTTP: the cached bytes go into the SDK's response (tool_list_http).
            slot.items = self.lists.wire_tools(view, ctx.protocol_version)
            return self._empty_list
        return self.lists.result(view)

    def tool_input_schema(self, name: str) -> Mapping[str, Any] | None:
        """The SDK's ``get_tool_input_schema`` hook, scoped to the current tenant.

        Without it the SDK runs the whole ``tools/list`` handler on every 2026-07-28
        ``tools/call``. A tool the tenant cannot see answers None, exactly like an
        unknown one, so header validation cannot reveal other tenants' tools.
        """
        tenant = current_tenant()
        if tenant is None:
            return None
        view = self.views.for_tenant(tenant)
        if view.search and name in self.meta:
            return self.meta.input_schema(name)
        if name not in view.callable:
            return None
        if self.native is not None and name in self.native:
            return self.native.input_schema(name)
        entry = self.catalog.visible(name, tenant.connected_connectors())
        return self.accounts.input_schema(tenant, entry) if entry is not None else None

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tenant = self._tenant()
        view = self.views.for_tenant(tenant)
        if view.search and params.name in self.meta:

            async def dispatch(
                name: str, arguments: Mapping[str, Any] | None
            ) -> types.CallToolResult:
                return await self._call(tenant, view, name, arguments)

            return await self.meta.call(
                params.name, params.arguments, view.callable, dispatch, self.tool_input_schema
            )
        return await self._call(tenant, view, params.name, params.arguments)

    async def _call(
        self, tenant: Tenant, view: ToolView, name: str, arguments: Mapping[str, Any] | None
    ) -> types.CallToolResult:
        """A call of ``name``, direct or through ``fastn_call_tool`` (the same path)."""
        if name not in view.callable:
            raise unknown_tool(name)
        if self.native is not None and name in self.native:
            return await self.native.call(tenant, name, arguments)
        entry = self._entry(tenant, name)
        if self.services is not None:
            # An account argument, if any, picks one of several connections (accounts).
            done = await self.services.calls.call_for_client(tenant, entry, arguments)
            if done is None:
                raise unknown_tool(name)
            return done[0]
        choice = choose_account(tenant, entry, arguments)
        if choice is None:
            raise unknown_tool(name)
        if isinstance(choice, AccountRefusal):
            return error_result(choice.message, choice.structured())
        return await self._call_unrecorded(tenant, entry, choice.connection, choice.arguments)

    async def _call_unrecorded(
        self,
        tenant: Tenant,
        entry: ToolEntry,
        connection: Connection,
        arguments: Mapping[str, Any] | None,
    ) -> types.CallToolResult:
        try:
            validated = entry.input_model().model_validate(arguments or {})
        except ValidationError as exc:
            return error_result(describe_validation_error(entry.name, exc))
        try:
            outcome = await self.executor.execute(
                tenant, connection, entry.connector, entry.operation, validated.to_arguments()
            )
        except Exception:
            logger.exception("tool %s failed for tenant %s", entry.name, tenant.id)
            return error_result(f"{entry.name} failed: internal error in the gateway")
        return outcome_result(outcome)

    # -- resources --------------------------------------------------------------------

    def _tenant_resources(self) -> tuple[Tenant, TenantResources]:
        tenant = self._tenant()
        if self.resources is None:
            raise MCPError(code=types.METHOD_NOT_FOUND, message="Resources are not served")
        return tenant, self.resources

    async def list_resources(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        tenant, resources = self._tenant_resources()
        return resources.list(tenant)

    async def list_resource_templates(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        self._tenant_resources()
        return TenantResources.templates()

    async def read_resource(
        self, ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        tenant, resources = self._tenant_resources()
        return await resources.read(tenant, params.uri)


def build_server(handlers: GatewayHandlers) -> Server[Any]:
    """A low-level MCP server wired to ``handlers``."""
    if handlers.resources is None:
        return Server(
            SERVER_NAME,
            version=__version__,
            title="fastn-gen gateway",
            cache_hints={"tools/list": TOOLS_LIST_CACHE},
            get_tool_input_schema=handlers.tool_input_schema,
            on_list_tools=handlers.list_tools,
            on_call_tool=handlers.call_tool,
            on_subscriptions_listen=handlers.events.handler(),
        )
    return Server(
        SERVER_NAME,
        version=__version__,
        title="fastn-gen gateway",
        cache_hints={
            "tools/list": TOOLS_LIST_CACHE,
            "resources/list": PRIVATE,
            "resources/templates/list": PRIVATE,
            "resources/read": PRIVATE,
        },
        get_tool_input_schema=handlers.tool_input_schema,
        on_list_tools=handlers.list_tools,
        on_call_tool=handlers.call_tool,
        on_subscriptions_listen=handlers.events.handler(),
        on_list_resources=handlers.list_resources,
        on_list_resource_templates=handlers.list_resource_templates,
        on_read_resource=handlers.read_resource,
    )
