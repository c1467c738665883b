"""Host and Origin allow-lists (DNS-rebinding protection)."""

from __future__ import annotations

from fastn_gen.gateway.origin import HostPolicy


def test_defaults_accept_only_loopback_names_with_the_bound_port() -> None:
    policy = HostPolicy.for_bind("127.0.0.1", 8000)
    for host in ("127.0.0.1:8000", "localhost:8000", "LOCALHOST:8000", "[::1]:8000"):
        assert policy.host_allowed(host), host
    for host in ("127.0.0.1:8001", "localhost", "evil.example:8000", "", None):
        assert not policy.host_allowed(host), host
    assert policy.origin_allowed(None)
    assert policy.origin_allowed("http://localhost:8000")
    assert not policy.origin_allowed("http://localhost:9999")
    assert not policy.origin_allowed("https://evil.example")
    assert not policy.origin_allowed("null")


def test_a_specific_bind_address_is_accepted_too() -> None:
    policy = HostPolicy.for_bind("10.0.0.5", 9000)
    assert policy.host_allowed("10.0.0.5:9000")
    assert policy.origin_allowed("http://10.0.0.5:9000")
    assert not HostPolicy.for_bind("0.0.0.0", 9000).host_allowed("0.0.0.0:9000")


def test_configured_lists_replace_the_defaults() -> None:
    policy = HostPolicy.for_bind(
        "0.0.0.0", 8000, ["mcp.example.com", "internal:*"], ["https://app.example.com"]
    )
    assert policy.host_allowed("mcp.example.com")
    assert policy.host_allowed("internal:8443")
    assert not policy.host_allowed("internal:")
    assert not policy.host_allowed("internal:80x")
    assert not policy.host_allowed("internal.evil:80")
    assert not policy.host_allowed("localhost:8000")
    assert policy.origin_allowed("https://app.example.com")
    assert not policy.origin_allowed("http://mcp.example.com")


def test_origins_default_to_the_configured_hosts() -> None:
    policy = HostPolicy.for_bind("0.0.0.0", 8000, ["mcp.example.com", "edge:*"])
    assert policy.allowed_origins == ("http://mcp.example.com",)


def test_a_star_accepts_any_host() -> None:
    policy = HostPolicy.for_bind("0.0.0.0", 8000, ["*"])
    assert policy.host_allowed("anything.example:1234")
    assert policy.origin_allowed(None)
    assert not policy.origin_allowed("https://evil.example")
