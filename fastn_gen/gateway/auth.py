"""Tenant authentication for the MCP endpoint, before the MCP layer sees the request.

``Authorization: Bearer <tenant API key>`` names the tenant. A missing or unknown key
is answered ``401`` here, so the SDK never parses an unauthenticated body. The inbound
``Authorization`` header is then removed from the request: nothing past this point
(handlers, executor, logs) can forward or record the tenant's gateway key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from fastn_gen.gateway.apikeys import key_id
from fastn_gen.gateway.context import serving_tenant
from fastn_gen.gateway.oauth_resource import Principal, looks_like_jwt
from fastn_gen.gateway.scopes import SCOPE_GRANTED, ResourceServer
from fastn_gen.gateway.tenancy import Tenant, TenantRegistry

logger = logging.getLogger(__name__)

REALM = 'Bearer realm="fastn-gen"'

# Told about a refused key that names a tenant: (tenant id, reason, detail).
RefusalRecorder = Callable[..., Awaitable[None]]


def unauthorized(message: str, *, invalid_token: bool) -> JSONResponse:
    # RFC 6750 §3: error="invalid_token" only when a token was presented.
    challenge = REALM + (', error="invalid_token"' if invalid_token else "")
    return JSONResponse(
        {"error": "unauthorized", "error_description": message},
        status_code=401,
        headers={"WWW-Authenticate": challenge},
    )


def bearer_key(authorization: str) -> str | None:
    scheme, _, key = authorization.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    return key


class TenantAuth:
    """ASGI middleware: authenticate, then run the app as that tenant.

    ``anonymous`` serves requests that carry no ``Authorization`` header as that
    tenant (for a single-user gateway on loopback). A request that does present a
    key is always checked, so a wrong key is never downgraded to anonymous.
    """

    def __init__(
        self,
        app: ASGIApp,
        registry: TenantRegistry,
        anonymous: Tenant | None = None,
        on_refused: RefusalRecorder | None = None,
        resource: ResourceServer | None = None,
    ) -> None:
        self.app = app
        self.registry = registry
        self.anonymous = anonymous
        self.on_refused = on_refused
        # OAuth resource-server mode: JWT access tokens besides API keys.
        self.resource = resource

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authorization = Headers(scope=scope).get("authorization")
        tenant: Tenant | None
        granted: frozenset[str] | None = None
        key = bearer_key(authorization) if authorization is not None else None
        if authorization is None:
            tenant = self.anonymous
            if tenant is None:
                await self._unauthorized("missing bearer token", invalid_token=False)(
                    scope, receive, send
                )
                return
        elif self.resource is not None and key is not None and looks_like_jwt(key):
            found = await self.resource.authenticate(key, self.registry)
            if not isinstance(found, Principal):
                await found(scope, receive, send)
                return
            tenant, granted = found.tenant, found.scopes
        else:
            # Off the loop for a file's keys (scrypt), from the store for the store's.
            tenant = await self.registry.resolve_key(key) if key is not None else None
            if tenant is None:
                await self._refused(key)
                await self._unauthorized("unknown API key", invalid_token=True)(
                    scope, receive, send
                )
                return
        scope = dict(scope)
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
        if granted is not None:
            scope[SCOPE_GRANTED] = granted
        with serving_tenant(tenant):
            await self.app(scope, receive, send)

    def _unauthorized(self, message: str, *, invalid_token: bool) -> Response:
        if self.resource is not None:
            # Points the client at the protected-resource metadata (RFC 9728).
            return self.resource.unauthorized(message, invalid_token=invalid_token)
        return unauthorized(message, invalid_token=invalid_token)

    async def _refused(self, key: str | None) -> None:
        """Log a refused key; record it for the tenant a generated key's id names.

        Any other key names no tenant, so there is nobody to record it for.
        """
        claimed = await self.registry.resolve_claimed(key) if key is not None else None
        if claimed is None:
            logger.info("refused request with an unknown API key")
            return
        logger.info("refused request with a wrong API key for tenant %s", claimed.id)
        if self.on_refused is not None:
            detail: dict[str, Any] = {"key_id": key_id(key) if key else None}
            await self.on_refused(
                claimed.id, "wrong API key (the key id is this tenant's)", **detail
            )
