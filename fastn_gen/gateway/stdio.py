"""Serve one tenant over stdio, with the same handlers as the HTTP endpoint.

A stdio server is started by its one user (an editor or desktop client launching a
subprocess), so there is no key to check: the tenant is chosen on the command line.
The SDK's loop answers both handshake-era clients and 2026-07-28 clients.
"""

from __future__ import annotations

from pathlib import Path

from mcp.server.stdio import stdio_server

from fastn_gen.gateway.catalog import Catalog
from fastn_gen.gateway.context import serving_tenant
from fastn_gen.gateway.executor import Executor
from fastn_gen.gateway.handlers import GatewayHandlers, build_server
from fastn_gen.gateway.services import Services
from fastn_gen.gateway.tenancy import TenantRegistry


class UnknownTenantError(Exception):
    pass


async def serve_stdio(
    generated_dir: Path,
    registry: TenantRegistry,
    tenant_id: str,
    executor: Executor | None = None,
    *,
    services: Services | None = None,
    list_output_schemas: bool = False,
) -> None:
    """Serve ``tenant_id``'s tools on stdin/stdout until the client closes stdin.

    With ``services`` (built on the same executor) the store is opened here and closed,
    after everything recorded is written, when the client goes away.
    """
    await registry.start()  # tenants from the store: connect (a file's: nothing to do)
    tenant = await registry.find(tenant_id)
    if tenant is None:
        await registry.aclose()
        raise UnknownTenantError(f"tenant {tenant_id!r} is not configured")
    catalog = (
        services.catalog
        if services is not None
        else Catalog.load(generated_dir, output_schemas=list_output_schemas)
    )
    executor = services.executor if services is not None else executor or Executor()
    if services is not None:
        # A client's session, not a server: manual and event-triggered flows run here,
        # scheduled ones and the resumption of interrupted runs are the HTTP gateway's.
        services.schedule_flows = False
    handlers = GatewayHandlers(catalog, executor, services, output_schemas=list_output_schemas)
    server = build_server(handlers)
    try:
        if services is not None:
            await services.open()
        # Set before the transport starts its reader task, which inherits it.
        with serving_tenant(tenant):
            async with stdio_server() as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        try:
            if services is not None:
                await services.aclose()
        finally:
            try:
                await executor.aclose()
            finally:
                await registry.aclose()
