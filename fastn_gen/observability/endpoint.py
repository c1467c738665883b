"""``GET /metrics``: the Prometheus exposition, for loopback clients or an admin key.

With ``--metrics-access loopback`` (the default) a client connecting from a loopback
address is answered without credentials (a Prometheus or agent on the same host);
any other client must send ``Authorization: Bearer <admin key>``. With ``admin`` every
client needs the key. The client address is the TCP peer, or the address a proxy on
loopback forwarded (uvicorn's ``--forwarded-allow-ips`` default), so a reverse proxy
on the same host does not make every request look local.
"""

from __future__ import annotations

import ipaddress

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fastn_gen.admin.keys import AdminKeys
from fastn_gen.gateway.auth import bearer_key
from fastn_gen.observability.metrics import GatewayMetrics
from fastn_gen.observability.options import MetricsAccess


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MetricsEndpoint:
    def __init__(self, metrics: GatewayMetrics, access: MetricsAccess, keys: AdminKeys) -> None:
        self.metrics = metrics
        self.access = access
        self.keys = keys

    async def __call__(self, request: Request) -> Response:
        if not await self._allowed(request):
            return JSONResponse(
                {"error": "unauthorized", "error_description": "metrics need an admin key"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="fastn-gen-admin"'},
            )
        body, content_type = self.metrics.render()
        return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})

    async def _allowed(self, request: Request) -> bool:
        if self.access == "loopback" and is_loopback(
            request.client.host if request.client else None
        ):
            return True
        authorization = request.headers.get("authorization")
        key = bearer_key(authorization) if authorization else None
        if key is None:
            return False
        # A generated key's first check runs scrypt (~50 ms): off the event loop.
        return await anyio.to_thread.run_sync(self.keys.verify, key)
