"""The MCP request handlers: ``tools/list`` and ``tools/call`` for the current tenant.

The same handlers serve streamable HTTP (both protocol eras) and stdio; the tenant is
read from :mod:`fastn_gen.gateway.context`, where authentication put it.
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
from fastn_gen.gateway.catalog import Catalog, ToolEntry
from fastn_gen.gateway.context import current_tenant
from fastn_gen.gateway.executor import Executor
from fastn_gen.gateway.tenancy import Tenant

logger = logging.getLogger(__name__)

SERVER_NAME = "fastn-gen"
# A tenant's list depends on its connections, so a shared cache must never reuse it.
TOOLS_LIST_CACHE = CacheHint(ttl_ms=0, scope="private")


def unknown_tool(name: str) -> MCPError:
    """The one error for a tool that does not exist or is not this tenant's.

    Identical in both cases so a caller cannot learn which tools other tenants have.
    """
    return MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {name}")


def describe_validation_error(tool: str, exc: ValidationError) -> str:
    """``Invalid arguments for <tool>: <field>: <problem>; ...`` without echoing values."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in err["loc"]) or "arguments"
        problems.append(f"{where}: {err['msg']}")
    return f"Invalid arguments for {tool}: " + "; ".join(problems)


def _error_result(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


class GatewayHandlers:
    """Answers ``tools/list`` and ``tools/call`` from a :class:`Catalog`."""

    def __init__(self, catalog: Catalog, executor: Executor) -> None:
        self.catalog = catalog
        self.executor = executor
        self._lists: dict[frozenset[str], types.ListToolsResult] = {}

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
        key = frozenset(tenant.connected_connectors())
        result = self._lists.get(key)
        if result is None:
            result = types.ListToolsResult(
                tools=list(self.catalog.tools_for(key)),
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
        entry = self.catalog.visible(name, tenant.connected_connectors())
        return entry.input_schema if entry is not None else None

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tenant = self._tenant()
        entry = self._entry(tenant, params.name)
        connection = tenant.connection_for(entry.connector.name)
        if connection is None:
            raise unknown_tool(params.name)
        try:
            validated = entry.input_model().model_validate(params.arguments or {})
        except ValidationError as exc:
            return _error_result(describe_validation_error(params.name, exc))
        try:
            outcome = await self.executor.execute(
                tenant, connection, entry.connector, entry.operation, validated.to_arguments()
            )
        except Exception:
            # The executor reports upstream failures as outcomes; anything raised is a
            # bug, and must still not take the connection down.
            logger.exception("tool %s failed for tenant %s", params.name, tenant.id)
            return _error_result(f"{params.name} failed: internal error in the gateway")
        logger.debug(
            "tool %s tenant %s: status %s in %.1f ms%s",
            params.name,
            tenant.id,
            outcome.upstream_status,
            outcome.latency_ms,
            " (error)" if outcome.is_error else "",
        )
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=outcome.text)],
            structured_content=outcome.structured,
            is_error=outcome.is_error,
        )


def build_server(handlers: GatewayHandlers) -> Server[Any]:
    """A low-level MCP server wired to ``handlers``."""
    return Server(
        SERVER_NAME,
        version=__version__,
        title="fastn-gen gateway",
        cache_hints={"tools/list": TOOLS_LIST_CACHE},
        get_tool_input_schema=handlers.tool_input_schema,
        on_list_tools=handlers.list_tools,
        on_call_tool=handlers.call_tool,
    )
