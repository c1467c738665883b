"""Upstream connections whose idle-connection probe is one poll of a remembered socket.

httpcore checks every pooled connection for a server-side close each time it hands out
or takes back a connection (``has_expired`` → ``get_extra_info("is_readable")``). The
anyio stream answers that by rebuilding its whole attribute table, a ``getpeername``
system call included, before polling the socket. With 16 calls in flight that is about
30 probes per call and 1 ms of CPU (bench/runtime/profile_notes.md). The streams here
keep the raw socket from the connect and poll it directly: the same answer, for the
same connections, without the rest.
"""

from __future__ import annotations

import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
from httpcore import AsyncNetworkBackend, AsyncNetworkStream
from httpcore._backends.auto import AutoBackend


def socket_readable(sock: socket.socket | None) -> bool:
    """True when a read would not block: data, or the peer's close (or no socket)."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class ProbedStream(AsyncNetworkStream):
    """Delegates to the backend's stream; answers ``is_readable`` from the raw socket."""

    def __init__(self, inner: AsyncNetworkStream) -> None:
        self._inner = inner
        self._sock: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        tls = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return ProbedStream(tls)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return socket_readable(self._sock)
        return self._inner.get_extra_info(info)


class ProbedBackend(AsyncNetworkBackend):
    """Wraps another backend's streams in :class:`ProbedStream`."""

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
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return ProbedStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )
        return ProbedStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class BackendTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool on the given network backend."""

    def __init__(
        self, *, limits: httpx.Limits, trust_env: bool, backend: AsyncNetworkBackend
    ) -> None:
        super().__init__(limits=limits, trust_env=trust_env)
        # httpx takes no network backend argument; its pool is rebuilt with the same
        # settings on ours (tests/security/test_egress.py fails if this stops working).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=trust_env),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=ProbedBackend(backend),
        )
