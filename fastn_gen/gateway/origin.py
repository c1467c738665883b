"""Host and Origin validation for the MCP endpoint (DNS-rebinding protection).

A web page can make a browser send requests to a gateway on the user's machine by
pointing a hostname it controls at 127.0.0.1. Such requests carry that hostname in
``Host`` and the page's origin in ``Origin``, so both are checked against allow-lists
before anything else runs. By default only the loopback names with the bound port are
accepted; a gateway reached through other names must list them.

Entries match case-insensitively: exact values, ``name:*`` for any port, or ``*`` to
accept anything (only for deployments where a proxy already checks these headers).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


def authority(host: str, port: int) -> str:
    name = f"[{host}]" if ":" in host else host
    return f"{name}:{port}"


def _matches(value: str, allowed: Iterable[str]) -> bool:
    value = value.lower()
    for entry in allowed:
        entry = entry.lower()
        if entry == "*" or entry == value:
            return True
        if (
            entry.endswith(":*")
            and value.startswith(entry[:-1])
            and value[len(entry) - 1 :].isdigit()
        ):
            return True
    return False


@dataclass(frozen=True, slots=True)
class HostPolicy:
    allowed_hosts: tuple[str, ...]
    allowed_origins: tuple[str, ...]

    @classmethod
    def for_bind(
        cls,
        host: str,
        port: int,
        allowed_hosts: Iterable[str] | None = None,
        allowed_origins: Iterable[str] | None = None,
    ) -> HostPolicy:
        """The configured lists, or defaults derived from the bound address."""
        defaults = [authority(h, port) for h in LOOPBACK_HOSTS]
        if host not in LOOPBACK_HOSTS and host not in WILDCARD_BINDS:
            defaults.append(authority(host, port))
        hosts = tuple(allowed_hosts) if allowed_hosts else tuple(defaults)
        origins = (
            tuple(allowed_origins)
            if allowed_origins
            else tuple(f"http://{a}" for a in hosts if a != "*" and not a.endswith(":*"))
        )
        return cls(allowed_hosts=hosts, allowed_origins=origins)

    def host_allowed(self, host: str | None) -> bool:
        return bool(host) and _matches(host or "", self.allowed_hosts)

    def origin_allowed(self, origin: str | None) -> bool:
        # Clients other than browsers send no Origin; browsers always do cross-origin.
        return not origin or _matches(origin, self.allowed_origins)


class HostOriginGuard:
    """ASGI middleware refusing requests whose Host or Origin is not allowed."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host")
        origin = headers.get("origin")
        if not self.policy.host_allowed(host):
            logger.warning("refused request with Host %r (not in allowed hosts)", host)
            response = _refusal(421, "Host header not allowed")
        elif not self.policy.origin_allowed(origin):
            logger.warning("refused request with Origin %r (not in allowed origins)", origin)
            response = _refusal(403, "Origin not allowed")
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


def _refusal(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": "forbidden", "error_description": message}, status_code=status)
