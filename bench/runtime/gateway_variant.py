"""The gateway with experimental changes applied in-process, to measure them first.

``python gateway_variant.py PATCHES -- <fastn_gen.gateway.serve arguments>``, PATCHES
being a comma-separated subset of:

- ``auth-inline``: authenticate on the event loop instead of in a worker thread (what
  a key already in the verification cache could do; scrypt misses still need a thread);
- ``list-bytes``: answer a repeated ``tools/list`` with the bytes the SDK produced the
  first time (per API key, protocol version and request), only the JSON-RPC id spliced in;
- ``gc-freeze``: after start-up, move every object into the permanent GC generation so
  collections during serving do not walk the catalog;
- ``sniffio-known-missing``: record once that ``sniffio`` is not installed, so
  httpcore's per-request ``import sniffio`` fails fast instead of searching sys.path;
- ``sqlite-inline``: run the SQLite store's writes on the event loop instead of its
  writer thread (what a write costs without the thread hop; unsafe where another
  process can hold the database's write lock);
- ``consume-timing``: time every quota check (``QuotaEnforcer.consume``, queueing for
  the writer thread included) and, at shutdown, append its p50 and p90 to the file
  named by ``FASTN_CONSUME_TIMES``;
- ``switch-1ms``: ``sys.setswitchinterval(0.001)``: a worker thread (the store's
  writer) waiting for the GIL gets it after 1 ms instead of 5 while the loop is busy
  (``switch-0.5ms``: after 0.5 ms);
- ``none``: the gateway as it is (the baseline, started the same way).
"""

from __future__ import annotations

import gc
import json
import sys
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ToolsListReplay:
    """ASGI wrapper: the first ``tools/list`` answer per request shape, replayed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cache: dict[
            tuple[bytes, ...], tuple[int, list[tuple[bytes, bytes]], bytes, bytes]
        ] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request: Any = None
        if b'"tools/list"' in body:
            try:
                request = json.loads(body)
            except ValueError:
                request = None
        if not isinstance(request, dict) or request.get("method") != "tools/list":
            await self.app(scope, _replay(body), send)
            return
        headers = dict(scope["headers"])
        shape = json.dumps(request.get("params"), sort_keys=True).encode()
        key = (headers.get(b"authorization", b""), headers.get(b"mcp-protocol-version", b""), shape)
        rid = json.dumps(request.get("id")).encode()
        hit = self.cache.get(key)
        if hit is None:
            captured: list[Message] = []

            async def capture(message: Message) -> None:
                captured.append(message)

            await self.app(scope, _replay(body), capture)
            start = next(m for m in captured if m["type"] == "http.response.start")
            answer = b"".join(
                m.get("body", b"") for m in captured if m["type"] == "http.response.body"
            )
            head = b'{"jsonrpc":"2.0","id":' + rid + b","
            if start["status"] == 200 and answer.startswith(head):
                kept = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                self.cache[key] = (200, kept, b'{"jsonrpc":"2.0","id":', answer[len(head) - 1 :])
            for message in captured:
                await send(message)
            return
        status, kept, prefix, rest = hit
        payload = prefix + rid + rest
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*kept, (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def apply(patches: set[str]) -> None:
    if "sniffio-known-missing" in patches:
        try:
            import sniffio  # noqa: F401
        except ImportError:
            sys.modules["sniffio"] = None  # type: ignore[assignment]
    from fastn_gen.gateway import serve

    if "consume-timing" in patches:
        _consume_timing(serve)
    if "switch-1ms" in patches:
        sys.setswitchinterval(0.001)
    if "switch-0.5ms" in patches:
        sys.setswitchinterval(0.0005)
    if "sqlite-inline" in patches:
        from fastn_gen.store.sqlite_runner import SQLiteRunner

        async def write(self: Any, work: Any) -> Any:
            return self._transaction(work)

        SQLiteRunner.write = write  # type: ignore[method-assign]
    if "auth-inline" in patches:
        import types as pytypes

        from fastn_gen.gateway import auth

        async def run_sync(fn: Any, *args: Any) -> Any:
            return fn(*args)

        auth.anyio = pytypes.SimpleNamespace(to_thread=pytypes.SimpleNamespace(run_sync=run_sync))  # type: ignore[attr-defined]
    if "list-bytes" in patches:
        original = serve.create_app

        def create_app(*args: Any, **kwargs: Any) -> Any:
            app = original(*args, **kwargs)
            app.add_middleware(_Middleware)
            return app

        serve.create_app = create_app  # type: ignore[assignment]
    if "gc-freeze" in patches:
        run = serve.uvicorn.Server.run

        def frozen_run(self: Any, *args: Any, **kwargs: Any) -> Any:
            gc.collect()
            gc.freeze()
            return run(self, *args, **kwargs)

        serve.uvicorn.Server.run = frozen_run  # type: ignore[method-assign]


def _consume_timing(serve: Any) -> None:
    import os
    import statistics
    import time

    from fastn_gen.gateway.quotas import QuotaEnforcer

    times: list[float] = []
    consume = QuotaEnforcer.consume

    async def timed(self: Any, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return await consume(self, *args)
        finally:
            times.append((time.perf_counter() - started) * 1000)

    QuotaEnforcer.consume = timed  # type: ignore[method-assign]
    run = serve.uvicorn.Server.run

    def run_then_report(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return run(self, *args, **kwargs)
        finally:
            done = sorted(times)
            if done:
                with open(os.environ.get("FASTN_CONSUME_TIMES", os.devnull), "a") as out:
                    out.write(
                        f"{len(done)} quota checks: p50 {statistics.median(done):.2f} ms, "
                        f"p90 {done[int(len(done) * 0.9)]:.2f} ms\n"
                    )

    serve.uvicorn.Server.run = run_then_report


class _Middleware:
    def __init__(self, app: ASGIApp) -> None:
        self.inner = ToolsListReplay(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.inner(scope, receive, send)


def main() -> None:
    patches = set(sys.argv[1].split(",")) - {"none"}
    argv = sys.argv[sys.argv.index("--") + 1 :]
    apply(patches)
    from fastn_gen.gateway import serve

    sys.exit(serve.main(argv))


if __name__ == "__main__":
    main()
