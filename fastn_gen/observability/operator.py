"""What the gateway adds for its operators: request ids, ``/metrics`` and ``/admin``.

``create_app`` calls :func:`with_request_ids` around the MCP endpoint and adds the
routes of :func:`operator_routes`; both are behind the same Host/Origin check as
``/mcp``.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Mount, Route, request_response
from starlette.types import ASGIApp

from fastn_gen.admin.keys import AdminKeys
from fastn_gen.gateway.origin import HostOriginGuard, HostPolicy
from fastn_gen.gateway.services import Services
from fastn_gen.observability.endpoint import MetricsEndpoint
from fastn_gen.observability.metrics import GatewayMetrics
from fastn_gen.observability.options import OperatorOptions
from fastn_gen.observability.request_id import RequestIdMiddleware

METRICS_PATH = "/metrics"
ADMIN_PATH = "/admin"


def with_request_ids(app: ASGIApp) -> ASGIApp:
    return RequestIdMiddleware(app)


def operator_routes(
    options: OperatorOptions,
    services: Services | None,
    policy: HostPolicy,
    collectors: Sequence[Collector] = (),
) -> list[BaseRoute]:
    """``/metrics`` and ``/admin``, when the gateway has its services (the store).

    ``collectors`` add metrics of their own (the live reload's counter)."""
    if services is None:
        return []
    keys = AdminKeys.from_hashes(options.admin_keys)
    routes: list[BaseRoute] = []
    if options.metrics_access != "off":
        metrics = GatewayMetrics(lambda: len(services.registry))
        services.recorder.observers.append(metrics.observe)
        for collector in collectors:
            metrics.registry.register(collector)
        endpoint = MetricsEndpoint(metrics, options.metrics_access, keys)
        guarded_metrics = HostOriginGuard(request_response(endpoint.__call__), policy)
        routes.append(Route(METRICS_PATH, endpoint=guarded_metrics, methods=["GET"]))
    from fastn_gen.admin.app import admin_app

    guarded = HostOriginGuard(admin_app(services, keys), policy)
    routes.append(Mount(ADMIN_PATH, app=guarded))
    return routes
