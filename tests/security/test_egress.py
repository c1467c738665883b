"""Outbound requests go only to public addresses of the declared base URL, unless the
connector is self-hosted; redirects are not followed; variables cannot move the host."""

from __future__ import annotations

import pytest

from fastn_gen.gateway.egress import is_public_address, within_base
from fastn_gen.gateway.http_pool import ClientPool, UpstreamOptions
from fastn_gen.gateway.request_builder import (
    PreparedRequest,
    RequestBuildError,
    substitute_variables,
)
from fastn_gen.runtime.operation import AuthSpec, ConnectorSpec
from tests.security.deployment import SecurityDeployment, connect, text_of
from tests.upstreams.faults import FaultUpstream

pytestmark = pytest.mark.anyio

REFUSED = [
    "127.0.0.1", "127.8.9.10", "0.0.0.0", "10.1.2.3", "172.16.0.1", "172.31.255.255",
    "192.168.1.1", "169.254.169.254", "100.64.0.1", "224.0.0.1", "255.255.255.255",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "::ffff:10.0.0.1",
    "::ffff:127.0.0.1", "2002:a00:1::", "not-an-ip",
]  # fmt: skip
PUBLIC = ["8.8.8.8", "1.1.1.1", "140.82.112.3", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_private_loopback_link_local_and_reserved_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(address)


def test_request_urls_must_stay_under_the_base_url() -> None:
    base = "https://api.example.com/v1"
    assert within_base(base + "/users/1", base)
    assert not within_base("https://api.example.com/v10/x", base)
    assert not within_base("https://api.example.com.evil.test/v1/x", base)


@pytest.mark.parametrize("value", ["evil.test/x", "a@evil.test", "127.0.0.1:22", "a b", ""])
def test_variables_cannot_carry_anything_but_a_plain_label(value: str) -> None:
    spec = ConnectorSpec(
        name="svc", title="", description="", base_url="https://{host}.example.com",
        auth=AuthSpec("none"), variables=(("host", ".*"),),
    )  # fmt: skip
    with pytest.raises(RequestBuildError):
        substitute_variables(spec.base_url, spec, {"host": value})


async def test_public_only_pool_refuses_loopback_before_any_byte_is_sent() -> None:
    upstream = FaultUpstream().start()
    pool = ClientPool(UpstreamOptions(public_only=True))
    try:
        for url in (f"{upstream.url}/ok/a", f"http://localhost:{upstream.port}/ok/a"):
            with pytest.raises(Exception, match="only connectors marked self_hosted"):
                await pool.send(PreparedRequest("GET", url))
        assert upstream.count("a") == 0
        allowed = await pool.send(PreparedRequest("GET", f"{upstream.url}/ok/a", private_ok=True))
        assert allowed.status == 200 and upstream.count("a") == 1
    finally:
        await pool.aclose()
        upstream.stop()


async def test_gateway_refuses_private_destinations_of_connectors_not_self_hosted(
    security: SecurityDeployment,
) -> None:
    async with connect(security.gateway.url, security.creds.keys["alpha"]) as client:
        refused = await client.call_tool("private_ok", {"key": "egress-private"})
        by_variable = await client.call_tool("hostvar_ok", {"key": "egress-hostvar"})
        allowed = await client.call_tool("stable_ok", {"key": "egress-stable"})
    for result in (refused, by_variable):
        assert result.is_error
        assert "private, loopback or link-local" in text_of(result)
        assert "self_hosted" in text_of(result)
    assert not allowed.is_error
    # Nothing reached the upstream for the refused calls; the self-hosted one did.
    assert security.faults.count("egress-private") == 0
    assert security.faults.count("egress-hostvar") == 0
    assert security.faults.count("egress-stable") == 1


async def test_redirects_are_reported_not_followed(security: SecurityDeployment) -> None:
    async with connect(security.gateway.url, security.creds.keys["alpha"]) as client:
        for code in (301, 302, 307, 308):
            result = await client.call_tool("faults_redirect", {"code": code})
            assert result.is_error
            assert "redirect to attacker.example not followed" in text_of(result)
        await client.call_tool("faults_ok", {"key": "after-redirects"})  # ends the streak
