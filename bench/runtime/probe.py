"""Cold-start probe: the first successful ``tools/list`` after a server is launched.

Started before the server so its own imports are not counted: prints ``ready``, waits
for a line on stdin (sent right after the server process is spawned), then retries a
connection with the official client until ``tools/list`` answers. Prints a JSON line
with the wall-clock times (``time.time()``) of the first accepted connection and of
the completed listing.

``python probe.py URL MODE [BEARER_KEY]``
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from urllib.parse import urlsplit

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

TIMEOUT_S = 1800.0


def _accepting(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


async def first_list(url: str, mode: str, key: str | None) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    while not _accepting(host, port):
        await asyncio.sleep(0.01)
    accepted_at = time.time()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    attempts = 0
    while True:
        attempts += 1
        try:
            async with httpx2.AsyncClient(headers=headers, timeout=TIMEOUT_S) as http:
                transport = streamable_http_client(url, http_client=http)
                async with Client(transport, mode=mode, cache=None) as client:
                    listed = await client.list_tools()
            break
        except Exception:
            # Accepting connections before the app is ready (lifespan still running).
            if attempts > 500:
                raise
            await asyncio.sleep(0.02)
    return {
        "accepted_at": accepted_at,
        "listed_at": time.time(),
        "tools": len(listed.tools),
        "attempts": attempts,
    }


def main() -> None:
    url, mode = sys.argv[1], sys.argv[2]
    key = sys.argv[3] if len(sys.argv) > 3 else None
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(asyncio.run(first_list(url, mode, key))), flush=True)


if __name__ == "__main__":
    main()
