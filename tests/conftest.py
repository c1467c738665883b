"""Fixtures shared by every suite: the loopback upstreams."""

pytest_plugins = ("tests.upstreams.fixtures",)
