"""A loopback stand-in for Stripe's API, cheap enough never to be the bottleneck.

A raw asyncio HTTP/1.1 server (keep-alive, no framework): ``GET /v1/customers/{id}``
answers a realistic customer object that validates against spec3's ``customer``
schema; anything else answers Stripe's 404 error shape. Responses are assembled from
pre-encoded bytes, so one answer costs a few microseconds of the upstream's CPU.

``python upstream.py serve --port N`` serves until killed (prints ``ready`` once bound);
``python upstream.py ceiling --port N`` measures the requests/s it sustains with raw
keep-alive connections (the most any contender could reach through it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

CUSTOMER_PATH = "/v1/customers/"
CUSTOMER_ID = "cus_NffrFeUfNV2Hib"

ADDRESS: dict[str, object] = {
    "city": "South San Francisco",
    "country": "US",
    "line1": "354 Oyster Point Blvd",
    "line2": None,
    "postal_code": "94080",
    "state": "CA",
}

# Stripe's documented customer, with an address, metadata and invoice settings filled
# in, as a typical customer record looks (about 1.2 KB of JSON).
CUSTOMER: dict[str, object] = {
    "id": CUSTOMER_ID,
    "object": "customer",
    "address": dict(ADDRESS),
    "balance": 0,
    "created": 1680893993,
    "currency": "usd",
    "default_source": None,
    "delinquent": False,
    "description": "Enterprise plan, billed annually",
    "discount": None,
    "email": "jennyrosen@example.com",
    "invoice_prefix": "0759376C",
    "invoice_settings": {
        "custom_fields": None,
        "default_payment_method": "pm_1NtzSJ2eZvKYlo2CJmRBiDVb",
        "footer": None,
        "rendering_options": None,
    },
    "livemode": False,
    "metadata": {
        "account_manager": "r.ortiz",
        "crm_id": "0013600000X7kQp",
        "segment": "mid-market",
    },
    "name": "Jenny Rosen",
    "next_invoice_sequence": 14,
    "phone": "+14155550123",
    "preferred_locales": ["en-US"],
    "shipping": {
        "address": dict(ADDRESS),
        "name": "Jenny Rosen",
        "phone": "+14155550123",
    },
    "tax_exempt": "none",
    "test_clock": None,
}

_BODY_HEAD, _BODY_TAIL = (
    json.dumps({**CUSTOMER, "id": "\0"}, separators=(",", ":")).encode().split(b'"\\u0000"')
)
_NOT_FOUND = json.dumps(
    {
        "error": {
            "code": "resource_missing",
            "message": "Unrecognized request URL. Please see https://stripe.com/docs.",
            "type": "invalid_request_error",
        }
    }
).encode()


def customer_body(customer_id: str) -> bytes:
    return _BODY_HEAD + json.dumps(customer_id).encode() + _BODY_TAIL


def _response(status: bytes, body: bytes, close: bool) -> bytes:
    head = (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
        b"Request-Id: req_bench\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
    )
    if close:
        head += b"Connection: close\r\n"
    return head + b"\r\n" + body


class _Http11(asyncio.Protocol):
    """One connection: parse requests as they arrive, answer each in order."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            lines = head.split("\r\n")
            length = 0
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value.strip() or 0)
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
            if len(self.buffer) < end + 4 + length:
                return  # the body has not fully arrived
            self.buffer = self.buffer[end + 4 + length :]
            self._answer(lines[0], close)
            if close:
                return

    def _answer(self, request_line: str, close: bool) -> None:
        method, _, rest = request_line.partition(" ")
        target = rest.rpartition(" ")[0]
        path = target.partition("?")[0]
        transport = self.transport
        assert transport is not None
        customer = path[len(CUSTOMER_PATH) :]
        if method == "GET" and path.startswith(CUSTOMER_PATH) and customer and "/" not in customer:
            transport.write(_response(b"200 OK", customer_body(customer), close))
        else:
            transport.write(_response(b"404 Not Found", _NOT_FOUND, close))
        if close:
            transport.close()


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http11, host, port, backlog=1024, reuse_address=True)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


async def _hammer(host: str, port: int, deadline: float) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {CUSTOMER_PATH}{CUSTOMER_ID} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    done = 0
    while time.perf_counter() < deadline:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        done += 1
    writer.close()
    return done


async def ceiling(host: str, port: int, seconds: float, connections: int) -> float:
    """Requests/s over ``connections`` keep-alive connections, one request in flight each."""
    start = time.perf_counter()
    counts = await asyncio.gather(
        *(_hammer(host, port, start + seconds) for _ in range(connections))
    )
    return sum(counts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["serve", "ceiling"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if args.mode == "serve":
        try:
            asyncio.run(serve(args.host, args.port))
        except KeyboardInterrupt:
            pass
        return
    rate = asyncio.run(ceiling(args.host, args.port, args.seconds, args.connections))
    json.dump({"requests_per_s": rate, "connections": args.connections}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
