"""The gateway's ASGI application: ``/mcp`` (streamable HTTP) and ``/healthz``.

``/mcp`` is the SDK's streamable HTTP transport in stateless mode, behind two checks
that run before the MCP layer: Host/Origin (:mod:`.origin`), then the tenant's API key
(:mod:`.auth`). Stateless mode answers 2026-07-28 requests (sessionless by design) and
handshake-era clients (2025-11-25 and earlier) without server-side sessions, so any
replica can answer any request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass

from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from fastn_gen.gateway.auth import TenantAuth
from fastn_gen.gateway.body_limit import RequestGuard, RequestLimits
from fastn_gen.gateway.catalog import Catalog
from fastn_gen.gateway.executor import Executor
from fastn_gen.gateway.handlers import GatewayHandlers, build_server
from fastn_gen.gateway.oauth_config import OAuthResourceModel
from fastn_gen.gateway.oauth_resource import metadata_routes
from fastn_gen.gateway.oauth_shared import share_between_replicas
from fastn_gen.gateway.origin import LOOPBACK_HOSTS, HostOriginGuard, HostPolicy
from fastn_gen.gateway.reload import Reloader, ReloadOptions
from fastn_gen.gateway.scopes import ResourceServer, ScopeGuard
from fastn_gen.gateway.services import Services
from fastn_gen.gateway.serving import Serving
from fastn_gen.gateway.tenancy import Tenant, TenantRegistry
from fastn_gen.gateway.tool_changes import connect_registry
from fastn_gen.gateway.tool_list_http import ToolListSplice
from fastn_gen.observability.operator import operator_routes, with_request_ids
from fastn_gen.observability.options import OperatorOptions

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
HEALTH_PATH = "/healthz"


class GatewayConfigError(Exception):
    """The gateway was asked to serve in a way that is refused."""


@dataclass(frozen=True, slots=True)
class HttpOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    # Serve requests without credentials as this tenant (loopback binds only).
    anonymous_tenant: str | None = None
    # Plain JSON responses: no SSE framing per call, and nothing here streams.
    json_response: bool = True
    # Body size (413 above it) and JSON shape bounds, checked before the MCP layer.
    limits: RequestLimits = RequestLimits()
    # OAuth resource-server mode (JWT access tokens besides API keys).
    oauth: OAuthResourceModel | None = None
    # Logs, /metrics and the /admin console (fastn_gen.observability, fastn_gen.admin).
    operator: OperatorOptions = OperatorOptions()
    # Live reload of the tenants file and generated/ (SIGHUP, --watch); None: off.
    reload: ReloadOptions | None = None
    # Connector tools' outputSchema in tools/list (off: most of a large list's bytes).
    list_output_schemas: bool = False
    # Answer tools/list from cached bytes (tool_list_http); off: the SDK serialises it.
    list_bytes: bool = True


def anonymous_tenant(registry: TenantRegistry, options: HttpOptions) -> Tenant | None:
    """The tenant credential-less requests are served as, after the safety checks."""
    if options.anonymous_tenant is None:
        return None
    if options.host not in LOOPBACK_HOSTS:
        raise GatewayConfigError(
            f"anonymous mode serves tenant {options.anonymous_tenant!r} to anyone who can "
            f"connect; it is refused on {options.host}, bind to 127.0.0.1 instead"
        )
    tenant = registry.get(options.anonymous_tenant)
    if tenant is None:
        raise GatewayConfigError(f"anonymous tenant {options.anonymous_tenant!r} is not configured")
    logger.warning(
        "ANONYMOUS MODE: requests without an API key are served as tenant %r with its "
        "credentials. Anyone able to reach %s:%s acts as this tenant.",
        tenant.id,
        options.host,
        options.port,
    )
    return tenant


def _collectors(reloader: Reloader | None, services: Services | None) -> list[Collector]:
    """Metrics of the live reload and of retention, when this gateway has them."""
    found = [reloader.metrics()] if reloader is not None else []
    if services is not None and services.pruner is not None:
        found.append(services.pruner.metrics())
    return found


def create_app(
    catalog: Catalog,
    registry: TenantRegistry,
    executor: Executor,
    options: HttpOptions | None = None,
    services: Services | None = None,
) -> Starlette:
    """The ASGI app. With ``services`` (the store) it serves native tools and resources
    and records every call; the store is opened and closed by the app's lifespan."""
    options = options or HttpOptions()
    anonymous = anonymous_tenant(registry, options)
    policy = HostPolicy.for_bind(
        options.host, options.port, options.allowed_hosts, options.allowed_origins
    )
    handlers = GatewayHandlers(
        catalog, executor, services, output_schemas=options.list_output_schemas
    )
    connect_registry(handlers.events, registry)
    server = build_server(handlers)
    # Host/Origin are checked by HostOriginGuard before authentication, so the SDK's
    # own check (which would run after it) is left off.
    manager = StreamableHTTPSessionManager(
        app=server,
        stateless=True,
        json_response=options.json_response,
        security_settings=None,
        max_request_body_size=options.limits.max_body_bytes,
    )
    resource = None
    # tools/list answers from cached bytes, spliced into the SDK's own response.
    inner: ASGIApp = StreamableHTTPASGIApp(manager)
    if options.list_bytes:
        inner = ToolListSplice(inner)
    if options.oauth is not None:
        native = handlers.native.tools if handlers.native is not None else ()
        tools = [*native, *(entry.tool for entry in catalog.tools.values())]
        resource = ResourceServer.create(options.oauth, tools)
        inner = ScopeGuard(inner, resource)
    auth = TenantAuth(
        RequestGuard(inner, options.limits),
        registry,
        anonymous,
        on_refused=services.recorder.auth_failure if services is not None else None,
        resource=resource,
    )
    mcp_app = HostOriginGuard(auth, policy)
    # What a reload swaps; /healthz reads the configuration being served from it.
    serving = Serving(catalog, registry, handlers, services, auth, options.anonymous_tenant)
    reloader = Reloader(serving, options.reload) if options.reload is not None else None

    async def healthz(request: Request) -> JSONResponse:
        body: dict[str, object] = {
            "status": "ok",
            "tools": serving.catalog.tool_count,
            "connectors": len(serving.catalog.connectors),
            "tenants": len(serving.registry),
        }
        if reloader is not None:
            body["config"] = reloader.health()
        return JSONResponse(body)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            await registry.start()  # tenants from the store: connect, hear changes
            if services is not None:
                await services.open()
                share_between_replicas(executor.oauth, services.store)
            reloading: AbstractContextManager[None] = (
                reloader.running() if reloader is not None else nullcontext()
            )
            with reloading:
                async with manager.run():
                    yield
        finally:
            try:
                # After the MCP manager stopped: no call can record anything any more.
                if services is not None:
                    await services.aclose()
            finally:
                try:
                    await executor.aclose()
                finally:
                    await serving.registry.aclose()

    app = Starlette(
        routes=[
            # POST only (405 otherwise, as the SDK answers 2026-07-28 clients): stateless,
            # the gateway has no server-to-client stream, and the SDK would hold every
            # handshake-era client's GET open with nothing ever to send on it.
            Route(MCP_PATH, endpoint=with_request_ids(mcp_app), methods=["POST"]),
            Route(HEALTH_PATH, endpoint=healthz),
            *(metadata_routes(options.oauth) if options.oauth is not None else []),
            *operator_routes(
                options.operator,
                services,
                policy,
                _collectors(reloader, services),
            ),
        ],
        lifespan=lifespan,
    )
    app.state.reloader = reloader
    return app
