"""OAuth 2.1 resource-server mode against a running gateway and a real JWKS on loopback.

The gateway's tenants file has an ``oauth:`` block naming the local issuer; tokens are
signed here with keys whose public halves the JWKS server publishes.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import jwt
import pytest

from fastn_gen.gateway.oauth_config import OAuthResourceModel
from fastn_gen.gateway.oauth_resource import JwksCache, JwtVerifier, Principal, TokenRejected
from fastn_gen.gateway.scopes import ResourceServer
from fastn_gen.gateway.tenancy import TenantRegistry
from tests.security.deployment import AUDIENCE, SCOPES, SecurityDeployment, connect, text_of
from tests.security.jwks import JwksServer, SigningKey

pytestmark = pytest.mark.anyio

METADATA_URL = "https://mcp.gateway.test/.well-known/oauth-protected-resource/mcp"
READ, WRITE, ADMIN = SCOPES["read"], SCOPES["write"], SCOPES["destructive"]


def post(
    security: SecurityDeployment, token: str | None, message: dict[str, Any]
) -> httpx.Response:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-11-25"}  # fmt: skip
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(security.gateway.url, json=message, headers=headers, timeout=30)


def tools_list() -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}}  # fmt: skip


def challenge(response: httpx.Response) -> dict[str, str]:
    value = response.headers["www-authenticate"]
    assert value.startswith("Bearer ")
    params: dict[str, str] = {}
    for part in value[len("Bearer ") :].split('", '):
        name, _, raw = part.partition("=")
        params[name.strip()] = raw.strip().strip('"')
    return params


def test_protected_resource_metadata_is_served(security: SecurityDeployment) -> None:
    for path in (
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ):
        response = httpx.get(security.gateway.base + path, timeout=10)
        assert response.status_code == 200
        doc = response.json()
        assert doc["resource"] == AUDIENCE
        assert doc["authorization_servers"] == [security.jwks.issuer]
        assert doc["scopes_supported"] == [READ, WRITE, ADMIN]
        assert doc["bearer_methods_supported"] == ["header"]


def test_missing_token_is_401_pointing_at_the_metadata(security: SecurityDeployment) -> None:
    response = post(security, None, tools_list())
    assert response.status_code == 401
    params = challenge(response)
    assert params["resource_metadata"] == METADATA_URL
    assert params["scope"] == READ
    assert "error" not in params  # no token was presented (RFC 6750 §3)


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
async def test_valid_token_serves_its_tenant(security: SecurityDeployment, kid: str) -> None:
    key = next(k for k in security.jwks.keys if k.kid == kid)
    token = security.jwks.token(tenant="gamma", scope=READ, key=key)
    async with connect(security.gateway.url, token) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("faults_ok", {"key": f"jwt-{kid}"})
    assert names >= security.tools_of("gamma") and "oauthsvc_me" not in names
    assert not result.is_error, text_of(result)
    # The upstream got gamma's own credential, never the access token.
    _, _, sent = next(r for r in security.faults.requests if r[1] == f"/ok/jwt-{kid}")
    assert ("Authorization", f"Bearer {security.creds.tokens[('gamma', 'faults')]}") in sent
    assert all(token not in value for _, value in sent)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"expires_in": -120}, "token expired"),
        ({"audience": "https://other.service.test/mcp"}, "not issued for this resource"),
        ({"issuer": "https://evil.issuer.test"}, "not issued by the configured issuer"),
        ({"tenant": "no-such-tenant"}, "names no tenant"),
        ({"tenant": None}, "names no tenant"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "unknown-tenant", "no-tenant-claim"],
)
def test_invalid_tokens_are_refused_401(
    security: SecurityDeployment, claims: dict[str, Any], reason: str
) -> None:
    options: dict[str, Any] = {"tenant": "gamma", "scope": READ, **claims}
    token = security.jwks.token(**options)
    response = post(security, token, tools_list())
    assert response.status_code == 401
    params = challenge(response)
    assert params["error"] == "invalid_token" and reason in params["error_description"]
    assert params["resource_metadata"] == METADATA_URL
    assert token not in response.text


def test_forged_and_unsigned_tokens_are_refused(security: SecurityDeployment) -> None:
    now = int(time.time())
    claims = {"iss": security.jwks.issuer, "aud": AUDIENCE, "exp": now + 300, "org": "gamma",
              "scope": f"{READ} {WRITE} {ADMIN}"}  # fmt: skip
    forged = {
        "unpublished key": security.jwks.token(tenant="gamma", key=security.jwks.unpublished),
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "HS256 with public key bytes": jwt.encode(claims, "k" * 32, algorithm="HS256"),
        "tampered payload": _tamper(security.jwks.token(tenant="gamma", scope=READ)),
    }
    for name, token in forged.items():
        response = post(security, token, tools_list())
        assert response.status_code == 401, name
        assert challenge(response)["error"] == "invalid_token", name


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = jwt.utils.base64url_decode(payload).replace(b'"gamma"', b'"alpha"')
    return ".".join([header, jwt.utils.base64url_encode(claims).decode(), signature])


@pytest.mark.parametrize(
    ("granted", "tool", "needed"),
    [
        (READ, "faults_update", f"{READ} {WRITE}"),
        (f"{READ} {WRITE}", "faults_remove", f"{READ} {WRITE} {ADMIN}"),
        (WRITE, "faults_ok", READ),
        ("", "faults_ok", READ),
    ],
    ids=["write-needs-write", "destructive-needs-admin", "read-needs-read", "no-scopes"],
)
def test_missing_scope_is_403_with_the_scopes_to_ask_for(
    security: SecurityDeployment, granted: str, tool: str, needed: str
) -> None:
    before = len(security.faults.requests)
    token = security.jwks.token(tenant="alpha", scope=granted)
    response = post(security, token, tool_call(tool, {"key": "scoped"}))
    assert response.status_code == 403
    params = challenge(response)
    assert params["error"] == "insufficient_scope"
    assert params["scope"] == needed
    assert params["resource_metadata"] == METADATA_URL
    assert len(security.faults.requests) == before  # refused before any upstream call


def test_granted_scopes_let_the_call_through(security: SecurityDeployment) -> None:
    token = security.jwks.token(tenant="alpha", scope=f"{READ} {WRITE} {ADMIN}")
    for tool in ("faults_update", "faults_remove"):
        response = post(security, token, tool_call(tool, {"key": "scoped-ok"}))
        assert response.status_code == 200
        # The fault server has no /items: an upstream 404, so the call did run.
        assert "HTTP 404" in response.json()["result"]["content"][0]["text"]
    listed = post(security, security.jwks.token(tenant="alpha", scope=READ), tools_list())
    assert listed.status_code == 200


def test_api_keys_keep_working_beside_tokens(security: SecurityDeployment) -> None:
    response = post(
        security, security.creds.keys["alpha"], tool_call("faults_remove", {"key": "k"})
    )
    assert response.status_code == 200  # API keys carry the tenant's full rights


# -- the verifier and key cache on their own ---------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_jwks_is_cached_and_refetched_for_a_rotated_key() -> None:
    server = JwksServer().start()
    try:
        clock = FakeClock()
        config = OAuthResourceModel(issuer=server.issuer, jwks_uri=server.jwks_uri,
                                    audience=AUDIENCE)  # fmt: skip
        verifier = JwtVerifier(config, JwksCache(server.jwks_uri, min_refresh_s=10, clock=clock))
        for _ in range(3):
            assert (await verifier.claims(server.token(tenant="t")))["org"] == "t"
        assert server.fetches == 1
        rotated = SigningKey("rsa-2", "RS256")
        server.keys.append(rotated)
        with pytest.raises(TokenRejected):  # too soon after the last fetch to fetch again
            await verifier.claims(server.token(tenant="t", key=rotated))
        clock.now = 11
        assert (await verifier.claims(server.token(tenant="t", key=rotated)))["org"] == "t"
        assert server.fetches == 2
        access = await verifier.verify_token(server.token(tenant="t", scope="a b"))
        assert access is not None and access.scopes == ["a", "b"] and access.resource == AUDIENCE
        assert await verifier.verify_token("not-a-token") is None
    finally:
        server.stop()


async def test_an_unreachable_issuer_is_503_not_401() -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    signer = JwksServer()  # keys only; never started
    config = OAuthResourceModel(issuer="https://issuer.test", audience=AUDIENCE,
                                jwks_uri=f"http://127.0.0.1:{port}/jwks.json")  # fmt: skip
    resource = ResourceServer.create(config, [])
    token = signer.token(tenant="t", issuer="https://issuer.test")
    answer = await resource.authenticate(token, TenantRegistry([]))
    assert not isinstance(answer, Principal)
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
