"""Upstream streams probe idle connections by polling their socket: real loopback servers."""

from __future__ import annotations

import asyncio

import httpx2
from httpcore2._backends.auto import AutoBackend

from fastn_gen.gateway.http_pool import ClientPool
from fastn_gen.gateway.request_builder import PreparedRequest
from fastn_gen.gateway.upstream_streams import ProbedBackend, ProbedStream, socket_readable


async def _server(handler: object) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)  # type: ignore[arg-type]
    return server, server.sockets[0].getsockname()[1]


async def _probe_sees_the_peer_closing() -> None:
    peers: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer)

    server, port = await _server(hold)
    async with server:
        stream = await ProbedBackend(AutoBackend()).connect_tcp("127.0.0.1", port, timeout=5)
        assert isinstance(stream, ProbedStream)
        for _ in range(100):
            if peers:
                break
            await asyncio.sleep(0.01)
        assert stream.get_extra_info("is_readable") is False
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
        peers[0].close()
        for _ in range(100):
            if stream.get_extra_info("is_readable"):
                break
            await asyncio.sleep(0.01)
        assert stream.get_extra_info("is_readable") is True
        assert await stream.read(10) == b""
        await stream.aclose()
    assert socket_readable(None) is True


async def _pool_replaces_closed_connections() -> None:
    connections = 0
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        # Two requests per connection, then the server closes it while idle.
        for _ in range(2):
            if not await reader.readuntil(b"\r\n\r\n"):
                break
            writer.write(answer)
            await writer.drain()
        writer.close()

    server, port = await _server(serve)
    pool = ClientPool()
    async with server:
        url = f"http://127.0.0.1:{port}/x"
        for _ in range(6):
            response = await pool.send(PreparedRequest("GET", url, private_ok=True))
            assert (response.status, response.body) == (200, b"ok")
            await asyncio.sleep(0.05)  # lets the close arrive before the next request
        client = pool.client_for(httpx2.URL(url), private_ok=True)
        assert isinstance(client._transport._pool._network_backend, ProbedBackend)  # type: ignore[attr-defined]
        await pool.aclose()
    # Every closed connection was noticed while idle and replaced, none reused dead.
    assert connections == 3


def test_probe_sees_the_peer_closing() -> None:
    asyncio.run(_probe_sees_the_peer_closing())


def test_pool_reuses_connections_and_replaces_those_the_upstream_closed() -> None:
    asyncio.run(_pool_replaces_closed_connections())


async def _one_poll_per_turn() -> None:
    import socket

    from fastn_gen.gateway.upstream_streams import SocketWatch

    watch = SocketWatch()
    (a, peer_a), (b, peer_b) = socket.socketpair(), socket.socketpair()
    for sock in (a, b):
        sock.setblocking(False)
        watch.add(sock.fileno())
    peer_a.send(b"x")
    assert (watch.readable(a), watch.readable(b)) == (True, False)
    peer_b.send(b"y")
    # Same turn of the loop: the pass over the pool shares the first poll's answer.
    assert watch.readable(b) is False
    await asyncio.sleep(0)
    assert watch.readable(b) is True
    watch.discard(b.fileno())
    b.close()
    assert watch.readable(b) is True  # a closed socket is never kept
    for sock in (a, peer_a, peer_b):
        sock.close()


def test_idle_probes_share_one_poll_per_loop_turn() -> None:
    asyncio.run(_one_poll_per_turn())
