"""An upstream that misbehaves on request, for the fault-injection and soak suites.

Paths choose the fault (each answers JSON unless said otherwise):

- ``/ok/<key>``: 200 ``{"ok": true, "key": ..., "n": <requests so far for key>}``;
- ``/status/<code>``: that status; ``?retry_after=N`` adds ``Retry-After: N``;
- ``/flaky/<key>/<failures>/<code>``: the first ``failures`` requests for ``key`` answer
  ``code``, later ones 200 (for retries that end in success);
- ``/reset/<key>``: the connection is reset (TCP RST) after the request is read;
- ``/close/<key>``: the connection is closed without an answer;
- ``/slow/<ms>``: the answer comes after ``ms`` milliseconds;
- ``/drip/<ms>/<count>``: headers at once, then one body byte every ``ms`` milliseconds;
- ``/huge/<bytes>``: a body that large (declared by ``Content-Length``);
- ``/stream/<bytes>``: a body that large, chunked, without ``Content-Length``;
- ``/html/<code>``: an HTML page with that status;
- ``/echo/...``: 200 with the request as received (method, raw path, query, headers);
- ``/leak/<code>``: that status, with a body and a header that echo the request's
  credentials back (Authorization header, query string), as careless APIs do;
- ``/redirect/<code>``: that 3xx status pointing at another host.

:class:`BlackholeListener` accepts no connection at all (its backlog is full), so
connecting to it times out.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


class _Server(ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True


class FaultUpstream:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.requests: list[tuple[str, str, list[tuple[str, str]]]] = []
        self._server: _Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, key: str) -> int:
        with self._lock:
            return self.counts[key]

    def _bump(self, key: str) -> int:
        with self._lock:
            self.counts[key] += 1
            return self.counts[key]

    def start(self) -> FaultUpstream:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with upstream._lock:
                    upstream.requests.append((self.command, self.path, list(self.headers.items())))
                upstream._dispatch(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- the faults -------------------------------------------------------------------

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        parts = split.path.strip("/").split("/")
        query = dict(parse_qsl(split.query))
        kind, args = parts[0], parts[1:]
        if kind == "ok":
            n = self._bump(args[0])
            _send(h, 200, {"ok": True, "key": args[0], "n": n})
        elif kind == "status":
            headers = [("Retry-After", query["retry_after"])] if "retry_after" in query else []
            code = int(args[0])
            _send(h, code, {"error": f"injected {code}"}, headers)
        elif kind == "flaky":
            key, failures, code = args[0], int(args[1]), int(args[2])
            n = self._bump(key)
            if n <= failures:
                _send(h, code, {"error": f"injected {code} ({n} of {failures})"})
            else:
                _send(h, 200, {"ok": True, "key": key, "n": n})
        elif kind == "reset":
            self._bump(args[0])
            _reset(h)
        elif kind == "close":
            self._bump(args[0])
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
        elif kind == "slow":
            time.sleep(int(args[0]) / 1000)
            _send(h, 200, {"ok": True, "slow_ms": int(args[0])})
        elif kind == "drip":
            _drip(h, int(args[0]) / 1000, int(args[1]))
        elif kind == "huge":
            _raw(h, 200, b"x" * int(args[0]), "application/octet-stream")
        elif kind == "stream":
            _chunked(h, int(args[0]))
        elif kind == "html":
            page = b"<html><body><h1>Bad Gateway</h1><p>nginx</p></body></html>"
            _raw(h, int(args[0]), page, "text/html")
        elif kind == "echo":
            _send(
                h,
                200,
                {"method": h.command, "raw_path": h.path, "headers": list(h.headers.items())},
            )
        elif kind == "leak":
            echoed = {
                "error": "invalid credentials",
                "received_authorization": h.headers.get("Authorization"),
                "received_query": split.query,
                "debug": f"request was {h.command} {h.path} with {dict(h.headers.items())}",
            }
            echo_header = [("X-Echo-Authorization", h.headers.get("Authorization") or "")]
            _send(h, int(args[0]), echoed, echo_header)
        elif kind == "redirect":
            _send(h, int(args[0]), {}, [("Location", "http://attacker.example/steal")])
        else:
            _send(h, 404, {"error": "no such fault"})


def _send(
    h: BaseHTTPRequestHandler,
    status: int,
    payload: Any,
    headers: list[tuple[str, str]] | None = None,
) -> None:
    _raw(h, status, json.dumps(payload).encode(), "application/json", headers)


def _raw(
    h: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str,
    headers: list[tuple[str, str]] | None = None,
) -> None:
    try:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        for name, value in headers or []:
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the gateway gave up first (a size limit or a timeout)


def _reset(h: BaseHTTPRequestHandler) -> None:
    # SO_LINGER with a zero timeout turns close() into a TCP RST.
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.close_connection = True
    h.connection.close()


def _drip(h: BaseHTTPRequestHandler, interval: float, count: int) -> None:
    try:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(count + 2))
        h.end_headers()
        h.wfile.write(b'"')
        h.wfile.flush()
        for _ in range(count):
            time.sleep(interval)
            h.wfile.write(b"x")
            h.wfile.flush()
        h.wfile.write(b'"')
    except (BrokenPipeError, ConnectionResetError):
        pass
    h.close_connection = True


def _chunked(h: BaseHTTPRequestHandler, size: int) -> None:
    try:
        h.send_response(200)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b"y" * 65536
        sent = 0
        while sent < size:
            part = chunk[: min(len(chunk), size - sent)]
            h.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            sent += len(part)
        h.wfile.write(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    h.close_connection = True


class BlackholeListener:
    """A listening socket that never accepts, with its backlog filled: connects hang."""

    def __init__(self) -> None:
        self._listener: socket.socket | None = None
        self._fillers: list[socket.socket] = []

    @property
    def port(self) -> int:
        assert self._listener is not None
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BlackholeListener:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        # Fill the accept queue; the kernel then drops further SYNs, so a connect()
        # waits for its timeout instead of being refused.
        for _ in range(8):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self._fillers.append(filler)
        return self

    def hangs(self, timeout: float = 0.5) -> bool:
        """Whether a new connection attempt times out (the precondition of its tests)."""
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.settimeout(timeout)
        try:
            probe.connect(("127.0.0.1", self.port))
        except TimeoutError:
            return True
        except OSError:
            return False
        finally:
            probe.close()
        return False

    def stop(self) -> None:
        for s in self._fillers:
            s.close()
        self._fillers.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
