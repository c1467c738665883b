"""Contender (b), the SDK floor: a bare ``mcp`` low-level server with one tool.

The tool makes the same upstream call the gateway makes for
``stripe_retrieve_customer`` (``GET /v1/customers/{customer}`` with a bearer key, over
a pooled httpx client) and answers the JSON as text and structured content. It is
advertised with the gateway's own tool entry (name, input and output schema, read from
the generated manifest.json and output_schemas.json), so clients do the same work for both. Served like the
gateway: streamable HTTP, stateless, JSON responses, uvicorn with default settings.

It gets the one environment fix the gateway has (``fastn_gen.gateway.http_pool``):
httpcore's per-request ``import sniffio`` fails fast when sniffio is not installed, so
the floor does not pay a sys.path search the gateway avoids.

``python sdk_server.py --port N --upstream URL --tool tool.json``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import mcp_types as types
import uvicorn
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.routing import Route

if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]


def build_app(upstream: str, tool: types.Tool) -> Starlette:
    client = httpx.AsyncClient(base_url=upstream, timeout=30)
    listed = types.ListToolsResult(tools=[tool])

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return listed

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        customer = str((params.arguments or {})["customer"])
        response = await client.get(
            f"/v1/customers/{quote(customer, safe='')}",
            headers={"Authorization": "Bearer sk_test_bench"},
        )
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=response.text)],
            structured_content=response.json(),
            is_error=response.status_code >= 400,
        )

    server: Server[Any] = Server(
        "sdk-floor",
        get_tool_input_schema=lambda name: tool.input_schema if name == tool.name else None,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    manager = StreamableHTTPSessionManager(app=server, stateless=True, json_response=True)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with manager.run():
            yield
        await client.aclose()

    return Starlette(
        routes=[Route("/mcp", endpoint=StreamableHTTPASGIApp(manager))], lifespan=lifespan
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--tool", type=Path, required=True, help="a manifest tool entry")
    args = parser.parse_args()
    raw = json.loads(args.tool.read_text())
    tool = types.Tool(
        name=raw["name"],
        title=raw.get("title"),
        description=raw.get("description"),
        input_schema=raw["input_schema"],
        output_schema=raw.get("output_schema"),
    )
    app = build_app(args.upstream, tool)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
