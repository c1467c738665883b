"""Tenant isolation as a property of the running gateway.

Hypothesis drives random sequences of operations by tenants ``iso0``..``iso4`` (whose
connections were chosen at random) and ``gamma``, each authenticated by API key or by
OAuth access token: list tools, call tools of every connector (connected or not), list
and read resources, read event history, and claim another tenant in a native tool.
After every step: a tenant sees exactly its own tools and integrations, calls reach the
upstream with its own credential only, other tenants' tools and resources do not
exist for it, and its event history holds exactly its own calls (the model counts them
across all examples). The default run is bounded; ``-m slow`` runs many more.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from fastn_gen.native.registry import NATIVE_TOOLS
from tests.security.deployment import ISOLATION_TENANTS, SCOPES, SecurityDeployment

TENANTS = (*ISOLATION_TENANTS, "gamma")
CALLABLE = {"faults_ok": "faults", "stable_ok": "stable", "oauthsvc_me": "oauthsvc"}
NATIVE = [tool.name for tool in NATIVE_TOOLS]
ALL_SCOPES = " ".join(SCOPES.values())

DEPLOYMENT: SecurityDeployment | None = None
# Connector tool calls made per tenant, across examples (the gateway keeps its state).
CALLS: Counter[str] = Counter()
STEPS: Counter[str] = Counter()


def rpc(tenant: str, via: str, method: str, params: dict[str, Any] | None = None) -> Any:
    dep = DEPLOYMENT
    assert dep is not None
    if via == "key":
        credential = dep.creds.keys[tenant]
    else:
        credential = dep.jwks.token(tenant=tenant, scope=ALL_SCOPES)
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        message["params"] = params
    response = httpx.post(
        dep.gateway.url,
        json=message,
        headers={"Authorization": f"Bearer {credential}", "MCP-Protocol-Version": "2025-11-25",
                 "Accept": "application/json, text/event-stream"},
        timeout=30,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    STEPS[method] += 1
    return response.json()


def structured(answer: Any) -> dict[str, Any]:
    result = answer["result"]
    assert not result["isError"], result["content"]
    return dict(result["structuredContent"])


def connector_events(dep: SecurityDeployment, tenant: str, via: str = "key") -> int:
    """The tenant's connector tool-call events, checking each is its own."""
    own = set(dep.plan[tenant])
    counted, cursor = 0, None
    while True:
        arguments: dict[str, Any] = {"type": "tool_call", "limit": 200}
        if cursor:
            arguments["cursor"] = cursor
        params = {"name": "fastn_get_event_history", "arguments": arguments}
        page = structured(rpc(tenant, via, "tools/call", params))
        assert page["tenant_id"] == tenant
        for event in page["events"]:
            assert event["connector"] is None or event["connector"] in own, event
            counted += event["connector"] is not None
        cursor = page["next_cursor"]
        if not cursor:
            return counted


class Isolation(RuleBasedStateMachine):
    @property
    def dep(self) -> SecurityDeployment:
        assert DEPLOYMENT is not None
        return DEPLOYMENT

    @rule(tenant=st.sampled_from(TENANTS), via=st.sampled_from(["key", "jwt"]))
    def list_tools(self, tenant: str, via: str) -> None:
        tools = [t["name"] for t in rpc(tenant, via, "tools/list")["result"]["tools"]]
        assert tools == [*NATIVE, *sorted(self.dep.tools_of(tenant))]

    @rule(
        tenant=st.sampled_from(TENANTS),
        tool=st.sampled_from(sorted(CALLABLE)),
        via=st.sampled_from(["key", "jwt"]),
    )
    def call_tool(self, tenant: str, tool: str, via: str) -> None:
        connector = CALLABLE[tool]
        nonce = f"{tenant}-{secrets.token_hex(6)}"
        arguments = {} if tool == "oauthsvc_me" else {"key": nonce}
        answer = rpc(tenant, via, "tools/call", {"name": tool, "arguments": arguments})
        if connector not in self.dep.plan[tenant]:
            # Indistinguishable from a tool that does not exist at all.
            assert answer["error"]["message"] == f"Unknown tool: {tool}"
            assert not any(nonce in path for _, path, _ in self.dep.faults.requests)
            return
        CALLS[tenant] += 1
        result = structured(answer)
        if tool == "oauthsvc_me":
            assert result == {"tenant": tenant}  # the provider saw this tenant's token
            return
        assert result["key"] == nonce
        _, _, sent = next(r for r in self.dep.faults.requests if r[1] == f"/ok/{nonce}")
        token = self.dep.creds.tokens[(tenant, connector)]
        assert dict(sent)["Authorization"] == f"Bearer {token}"

    @rule(tenant=st.sampled_from(TENANTS), via=st.sampled_from(["key", "jwt"]))
    def events(self, tenant: str, via: str) -> None:
        assert connector_events(self.dep, tenant, via) == CALLS[tenant]

    @rule(tenant=st.sampled_from(TENANTS), other=st.sampled_from(TENANTS))
    def resources(self, tenant: str, other: str) -> None:
        listed = rpc(tenant, "key", "resources/list")["result"]["resources"]
        integrations = {r["uri"] for r in listed if r["uri"].startswith("fastn://integrations/")}
        assert integrations == {f"fastn://integrations/{c}" for c in self.dep.plan[tenant]}
        summary = rpc(tenant, "key", "resources/read", {"uri": "fastn://integrations"})
        text = summary["result"]["contents"][0]["text"]
        names = {i["connector"] for i in json.loads(text)["integrations"]}
        assert names == set(self.dep.plan[tenant])
        for connector in set(self.dep.plan[other]) - set(self.dep.plan[tenant]):
            read = rpc(
                tenant, "key", "resources/read", {"uri": f"fastn://integrations/{connector}"}
            )
            assert "error" in read and "Unknown resource" in read["error"]["message"]

    @rule(tenant=st.sampled_from(TENANTS), other=st.sampled_from(TENANTS))
    def claim_other_tenant(self, tenant: str, other: str) -> None:
        params = {"name": "fastn_get_usage_summary", "arguments": {"tenant_id": other}}
        answer = rpc(tenant, "key", "tools/call", params)
        result = answer["result"]
        if other == tenant:
            assert not result["isError"]
            assert result["structuredContent"]["tenant_id"] == tenant
        else:
            assert result["isError"] and "does not match" in result["content"][0]["text"]
            assert other not in json.dumps(result)


def _run(security: SecurityDeployment, examples: int, steps: int) -> None:
    global DEPLOYMENT
    DEPLOYMENT = security
    for tenant in TENANTS:  # calls other suites made before this one
        CALLS[tenant] = connector_events(security, tenant)
    run_state_machine_as_test(
        Isolation,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    print(f"\nisolation: {dict(STEPS)}; connector calls per tenant {dict(CALLS)}")


def test_tenants_never_see_each_others_tools_resources_events_or_credentials(
    security: SecurityDeployment,
) -> None:
    _run(security, examples=12, steps=12)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_isolation_long_run(security: SecurityDeployment) -> None:
    _run(security, examples=150, steps=30)
