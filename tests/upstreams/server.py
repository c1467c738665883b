"""A threaded loopback HTTP server that records requests and answers via ``handle``."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    raw_path: str  # exactly as sent on the request line, query included
    path: str  # raw path without the query (still percent-encoded)
    query: list[tuple[str, str]]  # decoded, in order, duplicates kept
    headers: list[tuple[str, str]]  # in order, duplicates kept, names as sent
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def header_names(self) -> set[str]:
        return {k.lower() for k, _ in self.headers}

    def query_dict(self) -> dict[str, str]:
        return dict(self.query)

    def form(self) -> list[tuple[str, str]]:
        return parse_qsl(self.body.decode(), keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def params(self) -> dict[str, Any]:
        """Arguments as an API reads them: query, then a JSON or form body."""
        found: dict[str, Any] = dict(self.query)
        content_type = self.header("content-type") or ""
        if self.body and "json" in content_type:
            doc = self.json()
            if isinstance(doc, dict):
                found.update(doc)
        elif self.body and "x-www-form-urlencoded" in content_type:
            found.update(self.form())
        return found


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay_s: float = 0.0

    @classmethod
    def json(cls, payload: Any, status: int = 200, **kw: Any) -> Reply:
        reply = cls(status, json.dumps(payload).encode(), **kw)
        reply.headers.append(("Content-Type", "application/json; charset=utf-8"))
        return reply

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> Reply:
        return cls(status, text.encode(), [("Content-Type", f"{content_type}; charset=utf-8")])


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops connections when tests open dozens at once.
    request_queue_size = 128
    daemon_threads = True


class LoopbackServer:
    """Subclasses implement :meth:`handle`; ``None`` drops the connection unanswered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def handle(self, request: RecordedRequest) -> Reply | None:
        raise NotImplementedError

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def start(self) -> LoopbackServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                request = RecordedRequest(
                    method=self.command,
                    raw_path=self.path,
                    path=split.path,
                    query=parse_qsl(split.query, keep_blank_values=True),
                    headers=list(self.headers.items()),
                    body=body,
                )
                with server._lock:
                    server._requests.append(request)
                reply = server.handle(request)
                if reply is None:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if reply.delay_s:
                    threading.Event().wait(reply.delay_s)
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        self._server = _Server(("127.0.0.1", 0), Handler)
        # A short poll interval keeps stop() (which waits for the loop) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
