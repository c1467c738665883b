"""A loopback reverse proxy in front of Prism that keeps each request with Prism's verdict.

The gateway's tool result carries only a short message, so the verdict is read here,
on the wire: Prism's status, its ``sl-violations`` header (set when the document
defines its own error response) and its problem-details body (when Prism makes one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from tests.upstreams.server import LoopbackServer, RecordedRequest, Reply

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "host",
}
ERRORS_PREFIX = "https://stoplight.io/prism/errors#"
MOCK_FAILED_STATUS = 424  # what the gateway is told instead of Prism's 5xx

# Verdicts. Request defects are bugs of the gateway or the generator; mock gaps are
# Prism failing to invent a response for a request it accepted.
OK = "ok"
INVALID = "validation"  # 422 with violations, or an sl-violations header
UNAUTHORIZED = "auth"  # the credential is missing or in the wrong place
UNROUTED = "routing"  # no path, method or server of the document matched
MOCK_GAP = "mock"  # accepted, but Prism had no response to give (no example, 406, 500)
DEFECTS = (INVALID, UNAUTHORIZED, UNROUTED)
_ROUTING = ("NO_PATH_MATCHED_ERROR", "NO_METHOD_MATCHED_ERROR", "NO_SERVER_MATCHED_ERROR")


def _header_violations(value: str) -> list[dict[str, Any]]:
    """``sl-violations``: a JSON list, or past 8 KB a truncated one after a notice."""
    try:
        found = json.loads(value)
        return found if isinstance(found, list) else []
    except ValueError:
        if '"location":["request"' not in value:
            return []  # only response violations fit in what was kept
        return [{"location": ["request"], "severity": "Error", "message": value[:500]}]


@dataclass(frozen=True)
class Exchange:
    request: RecordedRequest
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def problem_type(self) -> str:
        try:
            doc = json.loads(self.body)
        except ValueError:
            return ""
        kind = doc.get("type") if isinstance(doc, dict) else None
        return kind.removeprefix(ERRORS_PREFIX) if isinstance(kind, str) else ""

    def violations(self) -> list[dict[str, Any]]:
        """Prism's request violations, from the header or the problem body."""
        found: list[dict[str, Any]] = []
        for name, value in self.headers:
            if name.lower() == "sl-violations":
                found.extend(_header_violations(value))
        if self.problem_type == "UNPROCESSABLE_ENTITY":
            found.extend(json.loads(self.body).get("validation", []))
        # With --errors Prism also checks its own mock response against the document
        # (location "response..."): a vendor example that breaks its schema is no
        # fault of the request.
        return [
            v
            for v in found
            if v.get("severity", "Error") == "Error" and v.get("location", [""])[0] != "response"
        ]

    @property
    def verdict(self) -> str:
        if self.violations():
            return INVALID
        if self.problem_type == "UNAUTHORIZED" or (self.status == 401 and not self.problem_type):
            return UNAUTHORIZED
        if self.problem_type in _ROUTING or self.status == 415:
            return UNROUTED
        if self.status >= 400:
            return MOCK_GAP
        return OK

    def describe(self) -> str:
        request = f"{self.request.method} {self.request.raw_path}"
        found = "; ".join(
            f"{'.'.join(map(str, v.get('location', [])))}: {v.get('message')}"
            for v in self.violations()
        )
        return f"{request} -> {self.status} {self.problem_type} {found}".strip()


class RecordingProxy(LoopbackServer):
    """Forwards everything to ``target`` and records each exchange, in order."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target
        self.exchanges: list[Exchange] = []
        self._client = httpx.Client(timeout=60)

    def handle(self, request: RecordedRequest) -> Reply | None:
        headers = [(k, v) for k, v in request.headers if k.lower() not in _HOP_BY_HOP]
        response = self._client.request(
            request.method,
            self.target + request.raw_path,
            headers=headers,
            content=request.body or None,
        )
        kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _HOP_BY_HOP]
        exchange = Exchange(request, response.status_code, kept, response.content)
        with self._lock:
            self.exchanges.append(exchange)
        # Prism's 5xx answers are about its mock response (a vendor example that breaks
        # its own schema), never the request; passed on, they would make the gateway
        # retry the call and open its circuit breaker for the rest of the run.
        status = MOCK_FAILED_STATUS if response.status_code >= 500 else response.status_code
        return Reply(status, response.content, kept)

    def since(self, mark: int) -> list[Exchange]:
        with self._lock:
            return list(self.exchanges[mark:])

    def mark(self) -> int:
        with self._lock:
            return len(self.exchanges)

    def stop(self) -> None:
        super().stop()
        self._client.close()
