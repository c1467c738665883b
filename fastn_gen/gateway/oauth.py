"""OAuth 2.0 access tokens for oauth2 connections, refreshed when needed.

A token is refreshed (RFC 6749 §6: form POST ``grant_type=refresh_token``) when it
expires within a minute, or when the upstream answers 401 to it. One refresh runs at a
time per (tenant, connection): callers that queued behind it find the token already
replaced and use the new one, so a burst of calls costs the token endpoint one request
(providers that rotate refresh tokens would otherwise invalidate each other's results).
New tokens are persisted in the secrets store, so a restart does not lose a rotated
refresh token; if that write fails they are kept in memory and the failure is logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

import httpx2

from fastn_gen.gateway.http_pool import ClientPool, ResponseTooLarge
from fastn_gen.gateway.oauth_shared import RefreshBusy, SharedTokens
from fastn_gen.gateway.outcome import parse_json, upstream_message
from fastn_gen.gateway.redact import Redactor
from fastn_gen.gateway.request_builder import (
    PreparedRequest,
    RequestBuildError,
    substitute_variables,
)
from fastn_gen.gateway.secrets import OAuthToken, SecretStore, SecretStoreError
from fastn_gen.runtime.operation import ConnectorSpec

logger = logging.getLogger(__name__)

REFRESH_MARGIN_S = 60.0


class OAuthError(Exception):
    """A token could not be obtained. Messages are redacted."""


class RefreshObserver(Protocol):
    """Told about every refresh attempt (the gateway records them as events)."""

    async def refresh_succeeded(self, ctx: OAuthContext, token: OAuthToken) -> None: ...

    async def refresh_failed(self, ctx: OAuthContext, error: str) -> None: ...


@dataclass(frozen=True, slots=True)
class OAuthContext:
    """One connection's OAuth setting for one call."""

    tenant_id: str
    connection: str
    connector: ConnectorSpec
    variables: Mapping[str, str]
    credentials: Mapping[str, str]
    store: SecretStore | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.tenant_id, self.connection)

    @property
    def token_endpoint(self) -> str | None:
        return self.connector.auth.refresh_url or self.connector.auth.token_url


class OAuthTokens:
    def __init__(
        self,
        pool: ClientPool,
        *,
        margin_s: float = REFRESH_MARGIN_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool = pool
        self._margin = margin_s
        self._clock = clock
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        # Tokens refreshed here whose write to the secrets store failed.
        self._unpersisted: dict[tuple[str, str], OAuthToken] = {}
        self.refresh_count = 0
        self.observer: RefreshObserver | None = None
        # Several replicas on one store: tokens read from it, refreshed under its lease.
        self.shared: SharedTokens | None = None

    def _lock(self, key: tuple[str, str]) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def _load(self, ctx: OAuthContext) -> OAuthToken | None:
        held = self._unpersisted.get(ctx.key)
        if held is not None:
            return held
        if ctx.store is not None:
            try:
                stored = ctx.store.get_oauth_token(ctx.tenant_id, ctx.connection)
            except SecretStoreError as exc:
                logger.warning("oauth tokens for %s/%s unreadable: %s", *ctx.key, exc)
                stored = None
            if stored is not None:
                return stored
        access = ctx.credentials.get("access_token")
        if not access:
            return None
        return OAuthToken(access, ctx.credentials.get("refresh_token"), None)

    def can_refresh(self, ctx: OAuthContext, token: OAuthToken | None) -> bool:
        has_refresh = bool((token and token.refresh_token) or ctx.credentials.get("refresh_token"))
        return has_refresh and ctx.token_endpoint is not None

    async def _latest(self, ctx: OAuthContext) -> OAuthToken | None:
        """The replicas' shared token when there is one, else this process's."""
        if self.shared is not None:
            shared = await self.shared.load(ctx)
            if shared is not None:
                return shared
        return self._load(ctx)

    async def current(self, ctx: OAuthContext) -> OAuthToken:
        """A usable access token, refreshed first if it is missing or about to expire."""
        token = await self._latest(ctx)
        if token is None:
            if not self.can_refresh(ctx, None):
                raise OAuthError("the connection has no access_token and no refresh_token")
            return await self.refresh(ctx, stale=None)
        if token.expires_within(self._margin, self._clock()) and self.can_refresh(ctx, token):
            return await self.refresh(ctx, stale=token.access_token)
        return token

    async def refresh(self, ctx: OAuthContext, stale: str | None) -> OAuthToken:
        """Replace the token ``stale`` (None: there was none), unless already replaced."""
        try:
            async with self._lock(ctx.key), self._refreshing(ctx):
                current = await self._latest(ctx)
                if (
                    current is not None
                    and current.access_token != stale
                    and not current.expires_within(self._margin, self._clock())
                ):
                    return current
                refresh_token = (current.refresh_token if current else None) or ctx.credentials.get(
                    "refresh_token"
                )
                try:
                    if not refresh_token or ctx.token_endpoint is None:
                        raise OAuthError("the access token cannot be refreshed (no refresh_token)")
                    token = await self._request(ctx, refresh_token)
                except OAuthError as exc:
                    if self.observer is not None:
                        await self.observer.refresh_failed(ctx, str(exc))
                    raise
                self.refresh_count += 1
                self._persist(ctx, token)
                if self.shared is not None and not await self.shared.save(ctx, token):
                    logger.warning(
                        "refreshed oauth token for %s/%s not shared: no secrets key", *ctx.key
                    )
                if self.observer is not None:
                    await self.observer.refresh_succeeded(ctx, token)
                return token
        except RefreshBusy as exc:
            raise OAuthError(str(exc)) from None

    def _refreshing(self, ctx: OAuthContext) -> AbstractAsyncContextManager[None]:
        return self.shared.refreshing(ctx) if self.shared is not None else nullcontext()

    def _persist(self, ctx: OAuthContext, token: OAuthToken) -> None:
        if ctx.store is not None:
            try:
                ctx.store.set_oauth_token(ctx.tenant_id, ctx.connection, token)
                self._unpersisted.pop(ctx.key, None)
                return
            except (SecretStoreError, OSError) as exc:
                logger.warning(
                    "refreshed oauth token for %s/%s kept in memory only: %s", *ctx.key, exc
                )
        self._unpersisted[ctx.key] = token

    async def _request(self, ctx: OAuthContext, refresh_token: str) -> OAuthToken:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        for field in ("client_id", "client_secret"):
            if ctx.credentials.get(field):
                form[field] = ctx.credentials[field]
        redact = Redactor([refresh_token, *ctx.credentials.values()])
        endpoint = ctx.token_endpoint
        assert endpoint is not None
        try:
            url = substitute_variables(endpoint, ctx.connector, ctx.variables)
        except RequestBuildError as exc:
            raise OAuthError(f"token endpoint: {exc}") from None
        request = PreparedRequest(
            method="POST",
            url=url,
            headers=(
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept", "application/json"),
            ),
            content=urlencode(form).encode(),
            private_ok=ctx.connector.self_hosted,
        )
        try:
            response = await self._pool.send(request)
        except httpx2.TimeoutException:
            raise OAuthError("token endpoint timed out") from None
        except (httpx2.HTTPError, ResponseTooLarge) as exc:
            raise OAuthError(redact(f"token endpoint request failed: {exc}")) from None
        if not 200 <= response.status < 300:
            raise OAuthError(
                redact(
                    f"token endpoint answered HTTP {response.status}: {upstream_message(response)}"
                )
            )
        doc = _token_document(response.body, response.content_type)
        access = doc.get("access_token")
        if not isinstance(access, str) or not access:
            raise OAuthError("token endpoint answer has no access_token")
        new_refresh = doc.get("refresh_token")
        expires_in = doc.get("expires_in")
        expires_at: float | None = None
        try:
            if expires_in is not None:
                expires_at = self._clock() + float(expires_in)
        except (TypeError, ValueError):
            expires_at = None
        return OAuthToken(
            access_token=access,
            # Providers that do not rotate omit it: keep using the one we have.
            refresh_token=new_refresh
            if isinstance(new_refresh, str) and new_refresh
            else refresh_token,
            expires_at=expires_at,
        )


def _token_document(body: bytes, content_type: str) -> dict[str, Any]:
    is_json, doc = parse_json(body)
    if is_json and isinstance(doc, dict):
        return doc
    if "x-www-form-urlencoded" in content_type or (not is_json and b"=" in body):
        # Some providers (GitHub) answer form-encoded unless asked otherwise.
        return dict(parse_qsl(body.decode("utf-8", "replace")))
    return {}
