"""Upstream connections whose idle-connection probes share one poll per pool pass.

httpcore2 checks every pooled connection for a server-side close each time it hands out
or takes back a connection (``has_expired`` → ``get_extra_info("is_readable")``). The
anyio stream answers that by rebuilding its whole attribute table, a ``getpeername``
system call included, then polls that one socket. With 16 calls in flight that is about
30 probes per call and 1 ms of CPU (bench/runtime/profile_notes.md).

The streams here keep the raw socket from the connect, and one poller per backend
watches all of them: the first probe of a pass over the pool polls every socket at once
and the rest of that pass (the same turn of the event loop, when nothing can have been
read from them) use its answer. A socket that is already closed is always "readable",
as before, so a stale answer can never keep a dead connection.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2
from httpcore2 import AsyncNetworkBackend, AsyncNetworkStream
from httpcore2._backends.auto import AutoBackend


def socket_readable(sock: socket.socket | None) -> bool:
    """True when a read would not block: data, or the peer's close (or no socket)."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class SocketWatch:
    """Which of the registered sockets are readable, polled once per event-loop turn."""

    def __init__(self) -> None:
        self._poller = select.poll()
        self._registered: set[int] = set()
        self._readable: set[int] | None = None  # None: not polled in this turn yet

    def add(self, fd: int) -> None:
        self._poller.register(fd, select.POLLIN)
        self._registered.add(fd)

    def discard(self, fd: int) -> None:
        if fd in self._registered:
            self._registered.discard(fd)
            self._poller.unregister(fd)

    def readable(self, sock: socket.socket | None) -> bool:
        fd = -1 if sock is None else sock.fileno()
        if fd < 0 or fd not in self._registered:
            return socket_readable(sock)
        readable = self._readable
        if readable is None:
            readable = {found for found, _ in self._poller.poll(0)}
            try:
                asyncio.get_running_loop().call_soon(self._forget)
                self._readable = readable
            except RuntimeError:  # no running loop to end the turn: not kept
                pass
        return fd in readable

    def _forget(self) -> None:
        self._readable = None


class ProbedStream(AsyncNetworkStream):
    """Delegates to the backend's stream; answers ``is_readable`` from the raw socket."""

    def __init__(self, inner: AsyncNetworkStream, watch: SocketWatch | None = None) -> None:
        self._inner = inner
        self._watch = watch or SocketWatch()
        self._sock: socket.socket | None = inner.get_extra_info("socket")
        self._fd = self._sock.fileno() if self._sock is not None else -1
        if self._fd >= 0:
            self._watch.add(self._fd)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        self._watch.discard(self._fd)
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        self._watch.discard(self._fd)
        tls = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return ProbedStream(tls, self._watch)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return self._watch.readable(self._sock)
        return self._inner.get_extra_info(info)


class ProbedBackend(AsyncNetworkBackend):
    """Wraps another backend's streams in :class:`ProbedStream`."""

    def __init__(self, inner: AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or AutoBackend()
        self._watch = SocketWatch()

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
        return ProbedStream(stream, self._watch)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )
        return ProbedStream(stream, self._watch)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class BackendTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport with its connection pool on the given network backend."""

    def __init__(
        self, *, limits: httpx2.Limits, trust_env: bool, backend: AsyncNetworkBackend
    ) -> None:
        context = httpx2.create_ssl_context(trust_env=trust_env)
        super().__init__(verify=context, limits=limits, trust_env=trust_env)
        # httpx2 takes no network backend argument; its pool is rebuilt with the same
        # settings on ours (tests/security/test_egress.py fails if this stops working).
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=ProbedBackend(backend),
        )
