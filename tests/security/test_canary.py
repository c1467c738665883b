"""Canary credentials: unique secret values planted as every kind of credential.

Tenant ``canary`` connects a bearer-token service, a query-parameter API key service
and an OAuth 2.0 service whose client secret, refresh tokens and access tokens are all
canaries. The run below goes through successes, upstream failures whose bodies and
headers echo the credentials back, retries, token refreshes (on expiry and on a 401),
a failed refresh, argument errors, refused API keys and OAuth tokens, and the native
tools. Afterwards no canary (nor any other tenant's credential or key) may appear in
the gateway's log, in anything it stored, in any response or in the metrics.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from tests.security.deployment import SecurityDeployment, connect

pytestmark = pytest.mark.anyio


def dump(result: Any) -> str:
    return result.model_dump_json() if hasattr(result, "model_dump_json") else json.dumps(result)


async def exercise(security: SecurityDeployment, token: str) -> list[str]:
    """Run the scenario; every response body, as text."""
    seen: list[str] = []
    key = security.creds.keys["canary"]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("stable_ok", {"key": "canary-1"}),
        ("faults_ok", {"key": "canary-2"}),
        ("querykey_ok", {"key": "canary-3"}),
        ("oauthsvc_me", {}),  # no access token yet: the first refresh
        ("faults_echo", {"segment": "canary"}),  # echoes the Authorization header
        ("faults_leak", {"code": 401}),  # error body and header echo it
        ("querykey_leak", {"code": 500}),  # echoes the query string with the key
        ("faults_status", {"code": 503}),  # retried
        ("faults_reset", {"key": "canary-reset"}),  # retried
        ("faults_ok", {"key": 5}),  # invalid arguments
        ("faults_ok", {"key": "canary-4"}),
    ]
    async with connect(security.gateway.url, key) as client:
        for name, arguments in calls:
            seen.append(dump(await client.call_tool(name, arguments)))
        security.oauth.expire("canary")  # the upstream now answers 401, echoing the token
        seen.append(dump(await client.call_tool("oauthsvc_me", {})))
        for name, arguments in [
            ("fastn_get_event_history", {"limit": 100}),
            ("fastn_get_usage_summary", {}),
            ("fastn_list_integrations", {}),
            ("fastn_get_integration_status", {"connector": "oauthsvc", "check": True}),
        ]:
            seen.append(dump(await client.call_tool(name, arguments)))
        for resource in (await client.list_resources()).resources:
            seen.append(dump(await client.read_resource(str(resource.uri))))
        try:
            await client.call_tool("no_such_tool", {})
        except MCPError as exc:
            seen.append(str(exc))
        # A refresh that fails: the provider forgets the grant; its error echoes it.
        security.oauth.expire("canary")
        security.oauth.forget("canary")
        seen.append(dump(await client.call_tool("oauthsvc_me", {})))
    async with connect(security.gateway.url, token) as client:  # an OAuth access token
        seen.append(dump(await client.call_tool("stable_ok", {"key": "canary-jwt"})))
    async with httpx.AsyncClient(timeout=30) as http:
        for presented in (key + "x", "fgk_000000000000_" + key, token[:-4] + "AAAA"):
            response = await http.post(
                security.gateway.url,
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={"Authorization": f"Bearer {presented}"},
            )
            assert response.status_code == 401
            seen.append(response.text + json.dumps(dict(response.headers)))
        seen.append((await http.get(f"{security.gateway.base}/healthz")).text)
    return seen


async def scrape_metrics(security: SecurityDeployment) -> str:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(f"{security.gateway.base}/metrics")
    assert response.status_code == 200  # loopback clients may scrape without a key
    return response.text


async def test_no_credential_appears_in_logs_store_or_responses(
    security: SecurityDeployment,
) -> None:
    token = security.jwks.token(tenant="canary", scope="mcp:read")
    responses = await exercise(security, token)
    assert security.oauth.refreshes >= 2  # on first use and after the forced expiry
    assert len([*security.creds.all_values(), *security.oauth.secrets()]) > 40
    places = {
        "gateway log": security.gateway.log(),
        "store": security.store_bytes().decode("latin-1"),
        "responses": "\n".join(responses),
        "metrics": await scrape_metrics(security),
    }
    leaks = {where: security.leaked(text, [token]) for where, text in places.items()}
    assert leaks == {"gateway log": [], "store": [], "responses": [], "metrics": []}
    assert 'connector="oauthsvc"' in places["metrics"]  # the calls above are counted
    # The scenario did reach the paths it means to: the redaction markers are there.
    assert "[REDACTED]" in places["responses"]
    assert "echo" in places["gateway log"] and "oauthsvc" in places["gateway log"]
