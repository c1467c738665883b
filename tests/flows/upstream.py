"""Slack for the flows suites: faults on chosen channels, and gates that hold requests.

On top of :class:`FaultySlack` (``C500`` answers HTTP 500, ``CSLOW`` answers late), a
gate holds every request for one API method until the test opens it, so a test can
stop a gateway while a flow step is waiting for its upstream.
"""

from __future__ import annotations

import threading

from tests.upstreams.faulty import FaultySlack
from tests.upstreams.server import RecordedRequest, Reply
from tests.upstreams.shopify import ShopifyUpstream

GATE_TIMEOUT_S = 30.0


class GatedSlack(FaultySlack):
    def __init__(self) -> None:
        super().__init__(slow_s=3.0)
        self._gates: dict[str, threading.Event] = {}
        self._arrived: dict[str, threading.Event] = {}

    def close_gate(self, method: str) -> None:
        """Hold requests to ``/api/<method>`` until :meth:`open_gate`."""
        self._gates[method] = threading.Event()
        self._arrived[method] = threading.Event()

    def open_gate(self, method: str) -> None:
        gate = self._gates.pop(method, None)
        if gate is not None:
            gate.set()

    def wait_arrival(self, method: str, timeout: float = 15.0) -> bool:
        """True once a request reached the closed gate of ``method``."""
        return self._arrived[method].wait(timeout)

    def handle(self, request: RecordedRequest) -> Reply | None:
        method = request.path.removeprefix("/api/")
        gate = self._gates.get(method)
        if gate is not None:
            self._arrived[method].set()
            gate.wait(GATE_TIMEOUT_S)
        return super().handle(request)

    def posted(self, channel: str) -> list[str]:
        """The texts of the messages posted to ``channel``, oldest first."""
        return [m["text"] for m in self.messages.get(channel, [])]


class RevocableShopify(ShopifyUpstream):
    """Shopify whose tokens can be withdrawn again (its answer is then HTTP 401)."""

    def revoke_token(self, token: str) -> None:
        self._tokens.pop(token, None)
