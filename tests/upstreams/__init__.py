"""Real HTTP services on loopback that behave like the upstream APIs the gateway calls.

Each runs a threaded ``http.server`` on an ephemeral port of 127.0.0.1 and records
every request it receives (method, raw path, query, headers, body), so tests can
assert exactly what went over the wire.
"""

from tests.upstreams.echo import EchoUpstream
from tests.upstreams.oauth import OAuthUpstream
from tests.upstreams.server import LoopbackServer, RecordedRequest, Reply
from tests.upstreams.shopify import SHOPIFY_API_PATH, ShopifyUpstream
from tests.upstreams.slack import SlackUpstream

__all__ = [
    "SHOPIFY_API_PATH",
    "EchoUpstream",
    "LoopbackServer",
    "OAuthUpstream",
    "RecordedRequest",
    "Reply",
    "ShopifyUpstream",
    "SlackUpstream",
]
