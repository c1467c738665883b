"""Contender (c), the peer: FastMCP serving OpenAPI documents with its OpenAPI provider.

Runs in ``bench/.venv-peer`` (see ``bench/peer.py``). Each ``--spec NAME=PATH=BASE_URL``
becomes one ``OpenAPIProvider`` whose httpx2 client points at ``BASE_URL``; a document
the provider refuses (Swagger 2.0) is recorded in ``--status`` and left out. Served
like the other contenders: streamable HTTP at ``/mcp``, stateless, JSON responses,
uvicorn with default settings.

``python fastmcp_server.py --port N --spec stripe=spec3.json=http://127.0.0.1:M --status s.json``
"""

from __future__ import annotations

import argparse
import json
import time

T0 = time.perf_counter()

import httpx2  # noqa: E402
import uvicorn  # noqa: E402
from fastmcp import FastMCP  # noqa: E402
from fastmcp.server.providers.openapi import OpenAPIProvider  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--spec", action="append", default=[], help="NAME=PATH=BASE_URL")
    parser.add_argument("--status", required=True, help="where to write timings and refusals")
    args = parser.parse_args()
    status: dict[str, object] = {"import_s": time.perf_counter() - T0, "specs": {}}
    providers = []
    for item in args.spec:
        name, path, base_url = item.split("=", 2)
        t0 = time.perf_counter()
        with open(path, "rb") as f:
            document = json.load(f)
        t1 = time.perf_counter()
        client = httpx2.AsyncClient(
            base_url=base_url, headers={"Authorization": "Bearer sk_test_bench"}, timeout=30
        )
        entry: dict[str, object] = {"parse_s": t1 - t0}
        try:
            providers.append(OpenAPIProvider(openapi_spec=document, client=client))
            entry["construct_s"] = time.perf_counter() - t1
        except Exception as exc:  # the peer's refusal is a result, not a crash
            entry["refused"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        status["specs"][name] = entry  # type: ignore[index]
    server = FastMCP("fastmcp-peer", providers=providers)
    app = server.http_app(path="/mcp", json_response=True, stateless_http=True)
    status["ready_to_serve_s"] = time.perf_counter() - T0
    with open(args.status, "w") as f:
        json.dump(status, f)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
