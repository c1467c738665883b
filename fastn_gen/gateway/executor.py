"""Run one tool call against its upstream API with the tenant's credentials.

``execute`` takes validated arguments and the tenant's connection, never the inbound
MCP request: the only headers an upstream sees are those built from the operation's
arguments and from the connection's credentials. An MCP client's ``Authorization``
header (its gateway key) therefore cannot reach an upstream from here.

Upstream problems (HTTP errors, ``ok: false`` answers, timeouts, refused connections,
redirects, missing credentials) come back as ``ToolOutcome(is_error=True)`` with a
readable message from which every credential of the call has been redacted; only a
bug raises.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx2

from fastn_gen.gateway.auth_inject import AuthError, auth_material
from fastn_gen.gateway.credentials import CredentialError, resolve_credentials
from fastn_gen.gateway.egress import EgressRefused
from fastn_gen.gateway.http_pool import (
    ClientPool,
    ResponseTooLarge,
    TotalTimeout,
    UpstreamOptions,
    UpstreamResponse,
)
from fastn_gen.gateway.oauth import OAuthContext, OAuthError, OAuthTokens
from fastn_gen.gateway.outcome import (
    ERR_ARGUMENTS,
    ERR_CONNECT,
    ERR_CREDENTIALS,
    ERR_EGRESS,
    ERR_HTTP,
    ERR_OAUTH,
    ERR_REDIRECT,
    ERR_TIMEOUT,
    ERR_TOO_LARGE,
    ERR_TRANSPORT,
    ToolOutcome,
    error_outcome,
    scrub_outcome,
    success_outcome,
    upstream_message,
)
from fastn_gen.gateway.redact import Redactor
from fastn_gen.gateway.request_builder import PreparedRequest, RequestBuildError, build_request
from fastn_gen.gateway.resilience import Resilience, parse_retry_after
from fastn_gen.gateway.secrets import OAuthToken, SecretStore
from fastn_gen.gateway.tenancy import Connection, Tenant
from fastn_gen.runtime.operation import ConnectorSpec, Operation

__all__ = ["Executor", "ToolOutcome", "UpstreamOptions"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Send:
    """What every attempt of one call shares."""

    request: PreparedRequest
    connector: ConnectorSpec
    credentials: Mapping[str, str]
    describe: str
    started: float
    authenticate: bool


class _Failed(Exception):
    """Internal: ends a call early with a ready outcome."""

    def __init__(self, outcome: ToolOutcome) -> None:
        self.outcome = outcome


class Executor:
    """Sends tool calls upstream over pooled clients (one per upstream origin).

    ``secret_store`` resolves ``secret:`` references and keeps refreshed OAuth tokens;
    when None, each tenant's own store (set by :class:`TenantRegistry`) is used.
    ``environ`` defaults to the live process environment, read at every call.
    With ``resilience``, calls are retried and circuit-broken (:mod:`.resilience`).
    """

    def __init__(
        self,
        options: UpstreamOptions | None = None,
        *,
        secret_store: SecretStore | None = None,
        environ: Mapping[str, str] | None = None,
        resilience: Resilience | None = None,
    ) -> None:
        self.pool = ClientPool(options)
        self.resilience = resilience
        self.oauth = OAuthTokens(self.pool)
        self._secret_store = secret_store
        self._environ = environ

    async def aclose(self) -> None:
        await self.pool.aclose()

    async def execute(
        self,
        tenant: Tenant,
        connection: Connection,
        connector: ConnectorSpec,
        operation: Operation,
        arguments: dict[str, Any],
    ) -> ToolOutcome:
        async def attempt() -> ToolOutcome:
            return await self._execute_once(tenant, connection, connector, operation, arguments)

        if self.resilience is None:
            return await attempt()
        return await self.resilience.run(tenant.id, connector.name, operation, attempt)

    async def _execute_once(
        self,
        tenant: Tenant,
        connection: Connection,
        connector: ConnectorSpec,
        operation: Operation,
        arguments: dict[str, Any],
    ) -> ToolOutcome:
        started = time.perf_counter()
        describe = f"{connector.name} ({operation.operation_id})"
        redact = Redactor()
        try:
            if connection.connector != connector.name:
                # Would send one connector's credentials to another's upstream.
                raise _Failed(
                    error_outcome(
                        f"connection {connection.name} is for {connection.connector}, "
                        f"not {connector.name}",
                        ERR_CREDENTIALS,
                        _ms(started),
                    )
                )
            try:
                request = build_request(connector, operation, connection.variables, arguments)
            except RequestBuildError as exc:
                raise _Failed(
                    error_outcome(
                        f"Invalid request for {operation.tool}: {exc}", ERR_ARGUMENTS, _ms(started)
                    )
                ) from None

            store = self._secret_store if self._secret_store is not None else tenant.secret_store
            authenticate = operation.requires_auth and connector.auth.kind != "none"
            credentials: dict[str, str] = {}
            if authenticate:
                try:
                    credentials = resolve_credentials(tenant, connection, store, self._environ)
                except CredentialError as exc:
                    raise _Failed(
                        error_outcome(
                            f"Cannot call {describe}: {exc}", ERR_CREDENTIALS, _ms(started)
                        )
                    ) from None
            redact = Redactor(credentials.values())

            oauth_ctx: OAuthContext | None = None
            token: OAuthToken | None = None
            if authenticate and connector.auth.kind == "oauth2":
                oauth_ctx = OAuthContext(
                    tenant.id, connection.name, connector, connection.variables, credentials, store
                )
                token = await self._oauth_token(oauth_ctx, None, describe, started)
            send = _Send(request, connector, credentials, describe, started, authenticate)
            response, redact = await self._send_authenticated(send, token, redact)
            if (
                response.status == 401
                and oauth_ctx is not None
                and token is not None
                and self.oauth.can_refresh(oauth_ctx, token)
            ):
                # The provider revoked or expired the token early: refresh once, retry once.
                token = await self._oauth_token(oauth_ctx, token.access_token, describe, started)
                response, redact = await self._send_authenticated(send, token, redact)
            outcome = self._outcome(response, connector, describe, redact, _ms(started))
        except _Failed as failed:
            outcome = failed.outcome
        if outcome.is_error:
            # Every error path already redacts; this pass guards the ones added later.
            outcome = replace(outcome, text=redact(outcome.text))
        self._log(tenant, operation, outcome, redact)
        return outcome

    async def _oauth_token(
        self, ctx: OAuthContext, stale: str | None, describe: str, started: float
    ) -> OAuthToken:
        try:
            if stale is None:
                return await self.oauth.current(ctx)
            return await self.oauth.refresh(ctx, stale)
        except OAuthError as exc:
            raise _Failed(
                error_outcome(
                    f"OAuth token for {describe} unavailable: {exc}", ERR_OAUTH, _ms(started)
                )
            ) from None

    async def _send_authenticated(
        self, send: _Send, token: OAuthToken | None, redact: Redactor
    ) -> tuple[UpstreamResponse, Redactor]:
        request = send.request
        if send.authenticate:
            try:
                material = auth_material(
                    send.connector.auth, send.credentials, token.access_token if token else None
                )
            except AuthError as exc:
                raise _Failed(
                    error_outcome(
                        f"Cannot call {send.describe}: {exc}", ERR_CREDENTIALS, _ms(send.started)
                    )
                ) from None
            request = material.apply(request)
            redact = redact.with_secrets(material.secrets)
        return await self._send(request, send.describe, redact, send.started), redact

    async def _send(
        self, request: PreparedRequest, describe: str, redact: Redactor, started: float
    ) -> UpstreamResponse:
        timeouts = self.pool.options
        try:
            return await self.pool.send(request)
        except httpx2.ConnectTimeout:
            message = f"timed out after {timeouts.connect_timeout:g} s connecting to {describe}"
            kind = ERR_TIMEOUT
        except TotalTimeout as exc:
            message = f"{describe} sent {exc}"
            kind = ERR_TIMEOUT
        except httpx2.TimeoutException:
            message = f"timed out after {timeouts.read_timeout:g} s waiting for {describe}"
            kind = ERR_TIMEOUT
        except httpx2.ConnectError as exc:
            refused = isinstance(exc.__cause__, EgressRefused)
            verb = "refused to" if refused else "could not"
            message = f"{verb} connect to {describe}: {_reason(exc)}"
            kind = ERR_EGRESS if refused else ERR_CONNECT
        except ResponseTooLarge as exc:
            message = f"response from {describe} is larger than {exc.limit} bytes"
            kind = ERR_TOO_LARGE
        except httpx2.InvalidURL as exc:
            # From the arguments (a query too long for a URL): repeating cannot help.
            message = f"request to {describe} cannot be sent: {_reason(exc)}"
            kind = ERR_ARGUMENTS
        except httpx2.HTTPError as exc:
            message = f"request to {describe} failed: {_reason(exc)}"
            kind = ERR_TRANSPORT
        raise _Failed(error_outcome(redact(f"Upstream error: {message}"), kind, _ms(started)))

    def _outcome(
        self,
        response: UpstreamResponse,
        connector: ConnectorSpec,
        describe: str,
        redact: Redactor,
        latency_ms: float,
    ) -> ToolOutcome:
        status = response.status
        if 200 <= status < 300:
            succeeded = success_outcome(
                response,
                latency_ms,
                ok_field=connector.response_ok_field,
                error_field=connector.response_error_field,
                describe=describe,
                redact=redact,
            )
            return scrub_outcome(succeeded, redact)
        head = f"Upstream error: HTTP {status} {response.reason}".rstrip() + f" from {describe}"
        if 300 <= status < 400:
            location = response.headers.get("location", "")
            target = httpx2.URL(location).host if location else ""
            detail = f"redirect{' to ' + target if target else ''} not followed"
            return error_outcome(redact(f"{head}: {detail}"), ERR_REDIRECT, latency_ms, status)
        message = upstream_message(response)
        retry = response.headers.get("retry-after")
        if status == 429 and retry:
            message += f" (retry after {retry} s)"
        text = f"{head}: {message}" if message else head
        outcome = error_outcome(redact(text), ERR_HTTP, latency_ms, status)
        if status in (429, 503):
            outcome = replace(outcome, retry_after=parse_retry_after(retry))
        return outcome

    @staticmethod
    def _log(tenant: Tenant, operation: Operation, outcome: ToolOutcome, redact: Redactor) -> None:
        # The path template, never the concrete URL: query strings may carry keys.
        if outcome.is_error:
            logger.info(
                "%s %s for tenant %s failed (%s, status %s, %.1f ms): %s",
                operation.method,
                operation.path,
                tenant.id,
                outcome.error,
                outcome.upstream_status,
                outcome.latency_ms,
                redact(outcome.text),
            )
        else:
            logger.debug(
                "%s %s for tenant %s: %s in %.1f ms",
                operation.method,
                operation.path,
                tenant.id,
                outcome.upstream_status,
                outcome.latency_ms,
            )


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _reason(exc: BaseException) -> str:
    """The most specific cause: "Connection refused" rather than "All attempts failed"."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno:
            return os.strerror(current.errno)
        current = current.__cause__ or current.__context__
    return (str(exc) or type(exc).__name__)[:200]
