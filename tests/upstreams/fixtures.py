"""Pytest fixtures starting each loopback upstream for one test.

Register with ``pytest_plugins = ("tests.upstreams.fixtures",)`` in a conftest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.upstreams.echo import EchoUpstream
from tests.upstreams.oauth import OAuthUpstream
from tests.upstreams.shopify import ShopifyUpstream
from tests.upstreams.slack import SlackUpstream


@pytest.fixture
def slack_upstream() -> Iterator[SlackUpstream]:
    server = SlackUpstream()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def shopify_upstream() -> Iterator[ShopifyUpstream]:
    server = ShopifyUpstream()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def oauth_upstream() -> Iterator[OAuthUpstream]:
    server = OAuthUpstream()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def echo_upstream() -> Iterator[EchoUpstream]:
    server = EchoUpstream()
    server.start()
    yield server
    server.stop()
