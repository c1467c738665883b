"""Where upstream requests may go: the connector's declared base URL, on public addresses.

A tenant's credential is only as safe as the host it is sent to. Requests are built
from the connector's declared base URL (variables substituted only from the values its
pattern allows, see :mod:`.request_builder`), redirects are never followed (see
:mod:`.http_pool`), and this module adds the last check, made when a connection is
opened: every address the host name resolves to must be a public one. Loopback,
private (RFC 1918, unique-local), link-local (cloud metadata at 169.254.169.254),
shared (CGNAT), multicast and reserved addresses are refused unless the connector is
marked ``self_hosted``.

The check runs inside the HTTP client's network backend, on the addresses the socket
then connects to, so DNS cannot answer a public address to the check and a private one
to the connection (DNS rebinding).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore2
import httpx2
from httpcore2 import AsyncNetworkBackend, AsyncNetworkStream
from httpcore2._backends.auto import AutoBackend

from fastn_gen.gateway.upstream_streams import BackendTransport

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class EgressRefused(httpcore2.ConnectError):
    """The destination is not one this connector may reach. Carries no credential."""


def is_public_address(address: str) -> bool:
    """True when ``address`` (an IP literal) is routable on the public internet."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:10.0.0.1 and 64:ff9b::10.0.0.1 reach the embedded IPv4 address.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast


def refused_addresses(addresses: Iterable[str]) -> list[str]:
    return [a for a in addresses if not is_public_address(a)]


def within_base(url: str, base: str) -> bool:
    """Whether ``url`` stays under the connector's base URL, on its host (a guard for
    refactors: paths are percent-encoded, so a tool argument cannot leave it)."""
    if url != base and not url.startswith(base + "/"):
        return False
    return httpx2.URL(url).host == _host_of(base)


@functools.lru_cache(maxsize=1024)
def _host_of(base: str) -> str:
    # Connectors' base URLs: a handful per gateway, parsed once each.
    return httpx2.URL(base).host


async def _resolve(host: str, port: int, timeout: float | None) -> list[str]:
    """The addresses ``host`` stands for (an IP literal stands for itself)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    problem: str | None = None
    try:
        with anyio.fail_after(timeout):
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        problem = "timed out"
    except OSError as exc:
        problem = exc.strerror or str(exc)
    if problem is not None:
        # Raised outside the handler: the resolver's error is not the useful cause.
        raise httpcore2.ConnectError(f"cannot resolve {host}: {problem}")
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class PublicOnlyBackend(AsyncNetworkBackend):
    """Resolves the host itself, refuses non-public answers, connects to a checked address."""

    def __init__(self, inner: AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or AutoBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        addresses = await _resolve(host, port, timeout)
        refused = refused_addresses(addresses)
        if refused:
            where = host if refused[0] == host else f"{host} resolves to {refused[0]}, which"
            raise EgressRefused(
                f"{where} is a private, loopback or link-local address; "
                "only connectors marked self_hosted may reach those"
            )
        last: Exception = httpcore2.ConnectError(f"no address for {host}")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                last = exc
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> AsyncNetworkStream:
        raise EgressRefused("unix sockets are not upstream destinations")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PublicOnlyTransport(BackendTransport):
    """httpx2's transport with its connection pool on :class:`PublicOnlyBackend`."""

    def __init__(self, *, limits: httpx2.Limits, trust_env: bool = False) -> None:
        super().__init__(limits=limits, trust_env=trust_env, backend=PublicOnlyBackend())
