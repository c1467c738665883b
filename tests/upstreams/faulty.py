"""Slack whose answers can fail on purpose: an HTTP 500, or no answer in time.

Messages to channel ``C500`` are answered with HTTP 500, messages to ``CSLOW`` after
``slow_s`` seconds (longer than the gateway's upstream timeout in the tests using it).
Every other request is answered as :class:`SlackUpstream` answers it.
"""

from __future__ import annotations

from tests.upstreams.server import RecordedRequest, Reply
from tests.upstreams.slack import SlackUpstream

FAILING_CHANNEL = "C500"
SLOW_CHANNEL = "CSLOW"


class FaultySlack(SlackUpstream):
    def __init__(self, slow_s: float = 3.0) -> None:
        super().__init__()
        self.slow_s = slow_s

    def handle(self, request: RecordedRequest) -> Reply | None:
        channel = request.params().get("channel")
        if channel == FAILING_CHANNEL:
            return Reply.json({"ok": False, "error": "internal_error"}, status=500)
        if channel == SLOW_CHANNEL:
            reply = super().handle(request) or Reply.json({"ok": True})
            reply.delay_s = self.slow_s
            return reply
        return super().handle(request)
