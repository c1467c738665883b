"""Connecting the examples to a fastn-gen gateway with the official MCP Python client.

Shared by the three example scripts; not an example itself. Defaults match `make demo`:
the gateway at http://127.0.0.1:8000/mcp and the published demo key of tenant acme.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

DEFAULT_URL = "http://127.0.0.1:8000/mcp"
DEMO_KEY = "demo-acme-key"


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("FASTN_GATEWAY_URL", DEFAULT_URL),
        help="the gateway's MCP endpoint (default: $FASTN_GATEWAY_URL or %(default)s)",
    )
    parser.add_argument(
        "--key",
        default=os.environ.get("FASTN_API_KEY", DEMO_KEY),
        help="the tenant's API key (default: $FASTN_API_KEY, else the demo key of acme)",
    )


@asynccontextmanager
async def connect(url: str, key: str) -> AsyncIterator[Client]:
    """An MCP client authenticated as the tenant the key belongs to."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


class ToolFailed(Exception):
    """A tool answered with isError; the message is the gateway's explanation."""

    def __init__(self, name: str, result: types.CallToolResult) -> None:
        self.name = name
        self.structured = result.structured_content or {}
        super().__init__(text_of(result))


def text_of(result: types.CallToolResult) -> str:
    return " ".join(b.text for b in result.content if isinstance(b, types.TextContent))


async def call(
    client: Client, name: str, arguments: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The structured result of a tool call; raises ToolFailed on an isError result."""
    result = await client.call_tool(name, arguments or {})
    if result.is_error:
        raise ToolFailed(name, result)
    if result.structured_content is not None:
        return result.structured_content
    return {"text": text_of(result)}


def connection_problem(exc: BaseException) -> str | None:
    """Why the gateway could not be reached or refused us, if that is what ``exc`` means.

    The client raises transport errors inside exception groups; find the first one.
    """
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = connection_problem(inner)
            if found is not None:
                return found
        return None
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"the gateway answered HTTP {exc.response.status_code} (is the API key right?)"
    if isinstance(exc, MCPError):
        return f"the gateway refused the request: {exc} (is the API key right?)"
    if isinstance(exc, (httpx2.HTTPError, OSError)):
        return f"cannot reach the gateway: {exc}"
    return None


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
