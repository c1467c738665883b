"""What an OAuth access token may do, enforced before the MCP layer runs a request.

API keys act with the tenant's full rights. An OAuth access token (resource-server
mode, :mod:`.oauth_resource`) acts only within its scopes:

- every request needs the read scope;
- ``tools/call`` of a tool that is not read-only also needs the write scope, and of a
  destructive one the destructive scope (the write scope unless configured).

A token that lacks a scope is answered ``403`` with ``WWW-Authenticate: Bearer
error="insufficient_scope", scope="..."`` listing every scope the request needs, so
the client can ask the user to grant more (step-up authorization) and retry.
Whether a tool is read-only or destructive comes from its MCP annotations; a tool
without annotations counts as destructive, as the MCP defaults say.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from fastn_gen.gateway.body_limit import SCOPE_MESSAGE
from fastn_gen.gateway.oauth_config import OAuthResourceModel
from fastn_gen.gateway.oauth_resource import (
    IssuerUnavailable,
    JwtVerifier,
    Principal,
    TokenRejected,
    challenge,
)
from fastn_gen.gateway.tenancy import TenantRegistry

logger = logging.getLogger(__name__)

# The scopes an OAuth token was granted; absent for API keys (full rights).
SCOPE_GRANTED = "fastn.granted_scopes"

READ, WRITE, DESTRUCTIVE = "read", "write", "destructive"


def tool_kind(annotations: types.ToolAnnotations | None) -> str:
    if annotations is not None and annotations.read_only_hint:
        return READ
    if annotations is not None and annotations.destructive_hint is False:
        return WRITE
    return DESTRUCTIVE


@dataclass(frozen=True)
class ResourceServer:
    """OAuth resource-server mode, ready to serve: config, verifier, tool kinds."""

    config: OAuthResourceModel
    verifier: JwtVerifier
    tool_kinds: dict[str, str]

    @classmethod
    def create(cls, config: OAuthResourceModel, tools: Iterable[types.Tool]) -> ResourceServer:
        kinds = {tool.name: tool_kind(tool.annotations) for tool in tools}
        return cls(config, JwtVerifier(config), kinds)

    def use_tools(self, tools: Iterable[types.Tool]) -> None:
        """Classify ``tools`` from now on (a live reload changed the catalog).

        In place, without an await: every holder sees the new kinds at once, and a new
        write tool never passes as an unknown (read-only) name.
        """
        kinds = {tool.name: tool_kind(tool.annotations) for tool in tools}
        self.tool_kinds.clear()
        self.tool_kinds.update(kinds)

    def required_scopes(self, message: Any) -> list[str]:
        """Every scope the JSON-RPC message (or batch) needs, in a stable order."""
        s = self.config.scopes
        needed = [s.read]
        for item in message if isinstance(message, list) else [message]:
            if not isinstance(item, dict) or item.get("method") != "tools/call":
                continue
            params = item.get("params")
            name = params.get("name") if isinstance(params, dict) else None
            # An unknown name needs no more than read: the call is refused as unknown.
            kind = self.tool_kinds.get(name, READ) if isinstance(name, str) else READ
            if kind in (WRITE, DESTRUCTIVE):
                needed.append(s.write)
            if kind == DESTRUCTIVE:
                needed.append(s.destructive_scope)
        return list(dict.fromkeys(needed))

    def unauthorized(self, description: str, *, invalid_token: bool) -> Response:
        return JSONResponse(
            {
                "error": "invalid_token" if invalid_token else "unauthorized",
                "error_description": description,
            },
            status_code=401,
            headers={
                "WWW-Authenticate": challenge(
                    self.config,
                    error="invalid_token" if invalid_token else None,
                    description=description if invalid_token else None,
                    scope=self.config.scopes.read,
                )
            },
        )

    def insufficient_scope(self, needed: list[str]) -> Response:
        description = "this request needs the scopes " + " ".join(needed)
        return JSONResponse(
            {"error": "insufficient_scope", "error_description": description},
            status_code=403,
            headers={
                "WWW-Authenticate": challenge(
                    self.config,
                    error="insufficient_scope",
                    description=description,
                    scope=" ".join(needed),
                )
            },
        )

    async def authenticate(self, token: str, registry: TenantRegistry) -> Principal | Response:
        """The token's principal, or the response refusing it."""
        try:
            return await self.verifier.principal(token, registry)
        except TokenRejected as exc:
            logger.info("refused OAuth access token: %s", exc)
            return self.unauthorized(str(exc), invalid_token=True)
        except IssuerUnavailable as exc:
            logger.warning("cannot verify OAuth access tokens: %s", exc)
            return JSONResponse(
                {"error": "temporarily_unavailable", "error_description": str(exc)},
                status_code=503,
                headers={"Retry-After": "5"},
            )


class ScopeGuard:
    """ASGI middleware: refuses requests whose token lacks a needed scope (403).

    Runs after :class:`.body_limit.RequestGuard`, which parsed the body.
    """

    def __init__(self, app: ASGIApp, resource: ResourceServer) -> None:
        self.app = app
        self.resource = resource

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        granted = scope.get(SCOPE_GRANTED)
        if scope["type"] == "http" and granted is not None:
            needed = self.resource.required_scopes(scope.get(SCOPE_MESSAGE))
            if not set(needed) <= granted:
                await self.resource.insufficient_scope(needed)(scope, receive, send)
                return
        await self.app(scope, receive, send)
