"""OAuth 2.1 resource-server mode: JWT access tokens from a configured issuer.

Besides API keys, the gateway accepts access tokens issued by the operator's
authorization server (the MCP authorization spec's resource-server role). A token is
accepted only when all of these hold:

- it is a JWS signed with an asymmetric algorithm by a key of the issuer's JWKS
  (fetched from ``jwks_uri``, cached, re-fetched when an unknown ``kid`` appears);
- it is unexpired (``exp`` is required; ``nbf`` is honoured), with a small leeway;
- ``iss`` is the configured issuer;
- ``aud`` is the gateway's canonical URL (``audience``): a token issued for any other
  resource is refused, so tokens cannot be passed through from another service;
- the ``tenant_claim`` names a configured tenant.

Scopes decide what a token may do (:mod:`.scopes`). The protected-resource metadata
(RFC 9728) tells clients which authorization server to use and which scopes exist.

Configured in the tenants file::

    oauth:
      issuer: https://auth.example.com
      jwks_uri: https://auth.example.com/.well-known/jwks.json
      audience: https://mcp.example.com/mcp
      tenant_claim: org
      scopes: {read: mcp:read, write: mcp:write, destructive: mcp:admin}
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcp.server.auth.handlers.metadata import ProtectedResourceMetadataHandler
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import cors_middleware
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl
from starlette.routing import Route

from fastn_gen.gateway.oauth_config import OAuthResourceModel

if TYPE_CHECKING:
    import jwt

    from fastn_gen.gateway.tenancy import Tenant, TenantRegistry

logger = logging.getLogger(__name__)

METADATA_PATH = "/.well-known/oauth-protected-resource"


class TokenRejected(Exception):
    """Why a token was refused; safe to show (never contains the token)."""


class IssuerUnavailable(Exception):
    """The issuer's keys cannot be fetched, so no token can be checked now."""


class JwksCache:
    """The issuer's signing keys by ``kid``, fetched on demand and kept for ``ttl_s``."""

    def __init__(
        self,
        uri: str,
        *,
        ttl_s: float = 300.0,
        min_refresh_s: float = 10.0,
        timeout_s: float = 5.0,
        clock: Any = time.monotonic,
    ) -> None:
        self.uri = uri
        self.ttl_s = ttl_s
        self.min_refresh_s = min_refresh_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def key(self, kid: str | None) -> jwt.PyJWK:
        if self._stale():
            await self._refresh(force=False)
        found = self._lookup(kid)
        if found is None and self._may_refetch():
            # A rotated key: the issuer published it after our last fetch.
            await self._refresh(force=True)
            found = self._lookup(kid)
        if found is None:
            raise TokenRejected("token signed by a key the issuer does not publish")
        return found

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            # Without a kid only an unambiguous key set can be used.
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at > self.ttl_s

    def _may_refetch(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at > self.min_refresh_s

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            if not force and not self._stale():
                return  # another caller refreshed while we waited
            if force and not self._may_refetch():
                return
            # Imported here: only a gateway with OAuth configured pays for them.
            import httpx
            import jwt

            try:
                async with httpx.AsyncClient(
                    timeout=self.timeout_s, follow_redirects=False, trust_env=False
                ) as client:
                    response = await client.get(self.uri, headers={"Accept": "application/json"})
                response.raise_for_status()
                keyset = jwt.PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                if self._keys:
                    logger.warning("JWKS refresh failed, keeping the old keys: %s", exc)
                    self._fetched_at = self._clock()
                    return
                raise IssuerUnavailable(f"cannot fetch the issuer's keys: {exc}") from None
            self._keys = {k.key_id: k for k in keyset.keys}
            self._fetched_at = self._clock()
            self.fetches += 1


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token acts for, and what it may do."""

    tenant: Tenant
    scopes: frozenset[str]
    subject: str | None
    client_id: str | None


def token_scopes(claims: dict[str, Any]) -> frozenset[str]:
    """RFC 9068 ``scope`` (space-separated), or the ``scp`` list some issuers use."""
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list):
        return frozenset(s for s in raw if isinstance(s, str))
    return frozenset()


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


class JwtVerifier:
    """Verifies access tokens; also an ``mcp.server.auth`` ``TokenVerifier``."""

    def __init__(self, config: OAuthResourceModel, keys: JwksCache | None = None) -> None:
        self.config = config
        self.keys = keys or JwksCache(str(config.jwks_uri))

    async def claims(self, token: str) -> dict[str, Any]:
        """The verified claims, or :class:`TokenRejected` / :class:`IssuerUnavailable`."""
        import jwt

        c = self.config
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("malformed token") from None
        alg = header.get("alg")
        if alg not in c.algorithms:
            raise TokenRejected(f"token algorithm {str(alg)[:16]!r} is not accepted")
        key = await self.keys.key(header.get("kid"))
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=c.audiences,
                issuer=c.issuer,
                leeway=c.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("token expired") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected(f"token was not issued for this resource ({c.audience})") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("token was not issued by the configured issuer") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("token is not valid yet") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"token has no {exc.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("token signature does not verify") from None
        except jwt.PyJWTError:
            raise TokenRejected("token is invalid") from None

    async def principal(self, token: str, registry: TenantRegistry) -> Principal:
        claims = await self.claims(token)
        tenant_id = claims.get(self.config.tenant_claim)
        tenant = await registry.find(tenant_id) if isinstance(tenant_id, str) else None
        if tenant is None:
            raise TokenRejected("token names no tenant of this gateway")
        client = claims.get("client_id", claims.get("azp"))
        subject = claims.get("sub")
        return Principal(
            tenant,
            token_scopes(claims),
            subject if isinstance(subject, str) else None,
            client if isinstance(client, str) else None,
        )

    async def verify_token(self, token: str) -> AccessToken | None:
        """The SDK's ``TokenVerifier`` protocol."""
        try:
            claims = await self.claims(token)
        except (TokenRejected, IssuerUnavailable):
            return None
        client = claims.get("client_id", claims.get("azp", ""))
        return AccessToken(
            token=token,
            client_id=str(client),
            scopes=sorted(token_scopes(claims)),
            expires_at=int(claims["exp"]),
            resource=self.config.audience,
            subject=claims.get("sub"),
            claims={"iss": claims.get("iss")},
        )


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(
    config: OAuthResourceModel,
    *,
    error: str | None = None,
    description: str | None = None,
    scope: str | None = None,
) -> str:
    """A ``WWW-Authenticate`` value per RFC 6750 §3 and RFC 9728 §5.1."""
    parts = [f"resource_metadata={_quoted(config.metadata_url)}"]
    if error:
        parts.append(f"error={_quoted(error)}")
    if description:
        parts.append(f"error_description={_quoted(description)}")
    if scope:
        parts.append(f"scope={_quoted(scope)}")
    return "Bearer " + ", ".join(parts)


def metadata_routes(config: OAuthResourceModel) -> list[Route]:
    """RFC 9728 metadata at the path-suffixed URL and at the root well-known URL."""
    metadata = ProtectedResourceMetadata(
        resource=AnyHttpUrl(config.audience),
        authorization_servers=[AnyHttpUrl(config.issuer)],
        scopes_supported=config.scopes.supported,
        resource_name=config.resource_name or "fastn-gen MCP gateway",
        bearer_methods_supported=["header"],
        resource_signing_alg_values_supported=None,
    )
    handler = ProtectedResourceMetadataHandler(metadata)
    endpoint = cors_middleware(handler.handle, ["GET", "OPTIONS"])
    paths = dict.fromkeys([urlsplit(config.metadata_url).path or "/", METADATA_PATH])
    return [Route(path, endpoint=endpoint, methods=["GET", "OPTIONS"]) for path in paths]
