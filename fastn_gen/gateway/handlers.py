"""The MCP request handlers: tools and resources for the current tenant.

The same handlers serve streamable HTTP (both protocol eras) and stdio; the tenant is
read from :mod:`fastn_gen.gateway.context`, where authentication put it.

With :class:`Services` (the store, quotas, recording) the handlers also serve the
native tools, listed before the tenant's connector tools, and the tenant's resources;
every tool call is then counted against the tenant's limits and recorded. Without it
(in-process tests of the tool path alone) only connector tools are served.
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
    account_shape,
    choose_account,
)
from fastn_gen.gateway.calls import describe_validation_error, error_result, outcome_result
from fastn_gen.gateway.catalog import Catalog, CatalogError, ToolEntry
from fastn_gen.gateway.context import current_tenant
from fastn_gen.gateway.executor import Executor
from fastn_gen.gateway.services import Services
from fastn_gen.gateway.tenancy import Connection, Tenant
from fastn_gen.gateway.tool_changes import TenantEventBus
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
        self, catalog: Catalog, executor: Executor, services: Services | None = None
    ) -> None:
        self.catalog = catalog
        self.executor = executor
        self.services = services
        self.native: NativeTools | None = None
        self.resources: TenantResources | None = None
        if services is not None:
            self.native = NativeTools(services)
            self.resources = TenantResources(self.native)
            clash = sorted(name for name in catalog.tools if name in self.native)
            if clash:
                raise CatalogError(
                    f"connector tools {', '.join(clash)} have the names of native tools; "
                    "rename them in their connector specs"
                )
        self._native_tools: tuple[types.Tool, ...] = self.native.tools if self.native else ()
        self._lists: dict[frozenset[str], types.ListToolsResult] = {}
        # Lists and schemas of tenants with several accounts of a connector.
        self.accounts = AccountTools(catalog)
        # subscriptions/listen streams, each scoped to its tenant (tool_changes).
        self.events = TenantEventBus()

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
        shape = account_shape(tenant)
        if shape:
            return self.accounts.listing(tenant, shape, self._native_tools, TOOLS_LIST_CACHE)
        key = frozenset(tenant.connected_connectors())
        result = self._lists.get(key)
        if result is None:
            result = types.ListToolsResult(
                tools=[*self._native_tools, *self.catalog.tools_for(key)],
                ttl_ms=TOOLS_LIST_CACHE.ttl_ms,
                cache_scope=TOOLS_LIST_CACHE.scope,
            )
            self._lists[key] = result
        logger.debug("tools/list for tenant %s: %d tools", tenant.id, len(result.tools))
        return result

    def tool_input_schema(self, name: str) -> Mapping[str, Any] | None:
        """The SDK's ``get_tool_input_schema`` hook, scoped to the current tenant.

        Without it the SDK runs the whole ``tools/list`` handler on every 2026-07-28
        ``tools/call``. A tool the tenant cannot see answers None, exactly like an
        unknown one, so header validation cannot reveal other tenants' tools.
        """
        tenant = current_tenant()
        if tenant is None:
            return None
        if self.native is not None and name in self.native:
            return self.native.input_schema(name)
        entry = self.catalog.visible(name, tenant.connected_connectors())
        return self.accounts.input_schema(tenant, entry) if entry is not None else None

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tenant = self._tenant()
        if self.native is not None and params.name in self.native:
            return await self.native.call(tenant, params.name, params.arguments)
        entry = self._entry(tenant, params.name)
        if self.services is not None:
            done = await self.services.calls.call_for_client(tenant, entry, params.arguments)
            if done is None:
                raise unknown_tool(params.name)
            return done[0]
        choice = choose_account(tenant, entry, params.arguments)
        if choice is None:
            raise unknown_tool(params.name)
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
