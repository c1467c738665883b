"""Quotas, rate limits, refused keys and expired credentials, through the real gateway."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx2
import pytest

from fastn_gen.gateway.quotas import iso, month_reset
from tests.native.deployment import Deployment, call_error, call_ok, connect, text_of

pytestmark = pytest.mark.anyio


def requests_of(dep: Deployment, token_env: str) -> int:
    token = dep.upstreams.tokens[token_env]
    upstream = dep.upstreams.slack if "SLACK" in token_env else dep.upstreams.shopify
    return sum(
        1
        for r in upstream.requests
        if token in (r.header("authorization") or "") + (r.header("x-shopify-access-token") or "")
    )


async def test_the_call_over_quota_is_refused_before_it_goes_upstream(
    deployment: Deployment,
) -> None:
    reset = iso(month_reset(datetime.now(UTC)))
    async with connect(deployment.gateway.url, deployment.keys["metered"]) as metered:
        await call_ok(metered, "shopify_list_orders", {"status": "any"})
        connector_refusal = await call_error(metered, "shopify_list_orders", {"status": "any"})
        await call_ok(metered, "slack_list_channels", {})
        await call_ok(metered, "slack_send_message", {"channel": "C001", "text": "hi"})
        tenant_refusal = await call_error(metered, "slack_list_channels", {})
        usage = await call_ok(metered, "fastn_get_usage_summary")
        refusals = await call_ok(metered, "fastn_get_event_history", {"type": "quota_refusal"})

    month = _current_month()
    assert text_of(connector_refusal) == (
        "Quota exceeded: tool_calls_per_month for connector shopify is 1 tool calls per month "
        f"and 1 were used in {month}; the quota resets at {reset}."
    )
    assert text_of(tenant_refusal) == (
        "Quota exceeded: tool_calls_per_month for the tenant is 3 tool calls per month and 3 "
        f"were used in {month}; the quota resets at {reset}."
    )
    assert tenant_refusal.structured_content is not None
    assert tenant_refusal.structured_content | {"message": ""} == {
        "error": "quota_exceeded",
        "message": "",
        "limit": "tool_calls_per_month",
        "scope": "tenant",
        "target": None,
        "limit_value": 3,
        "used": 3,
        "period": month,
        "resets_at": reset,
    }
    # Refused calls never reached the upstreams.
    assert requests_of(deployment, "METERED_SHOPIFY_TOKEN") == 1
    assert requests_of(deployment, "METERED_SLACK_TOKEN") == 2

    tenant_quota = next(q for q in usage["quotas"] if q["scope"] == "tenant")
    assert (tenant_quota["used"], tenant_quota["remaining"]) == (3, 0)
    shopify_quota = next(q for q in usage["quotas"] if q["scope"] == "connector")
    assert (shopify_quota["target"], shopify_quota["used"]) == ("shopify", 1)
    assert [e["tool"] for e in refusals["events"]] == ["slack_list_channels", "shopify_list_orders"]
    assert refusals["events"][0]["detail"]["limit"] == "tool_calls_per_month"
    assert refusals["events"][1]["detail"]["scope"] == "connector"


def _current_month() -> str:
    now = datetime.now(UTC)
    return f"{now.year:04d}-{now.month:02d}"


async def test_the_rate_limit_answers_with_retry_after(deployment: Deployment) -> None:
    async with connect(deployment.gateway.url, deployment.keys["bursty"]) as bursty:
        for _attempt in range(3):
            minute = int(time.time() // 60)
            first = await bursty.call_tool("slack_list_channels", {})
            second = await bursty.call_tool("fastn_list_integrations", {})
            third = await bursty.call_tool("slack_list_channels", {})
            if int(time.time() // 60) == minute:
                break  # all three fell in one minute's window
            time.sleep(1)  # a minute boundary passed mid-way: the counts were split
    assert not first.is_error and not second.is_error
    assert third.is_error
    assert third.structured_content is not None
    retry = third.structured_content["retry_after_s"]
    assert 1 <= retry <= 60
    assert third.structured_content["limit"] == "requests_per_minute"
    assert text_of(third).startswith(
        "Rate limit exceeded: requests_per_minute for the tenant is 2 requests per minute "
        "and 2 were made in the current minute; retry after "
    )
    assert f"retry after {retry} s" in text_of(third)


async def test_a_wrong_key_naming_a_tenant_is_recorded_for_it(deployment: Deployment) -> None:
    acme_key = deployment.keys["acme"]
    key_id = acme_key.split("_")[1]
    forged = f"fgk_{key_id}_" + "A" * 43
    async with httpx2.AsyncClient(timeout=10) as http:
        for key in (forged, "not-a-key-at-all"):
            response = await http.post(
                deployment.gateway.url,
                headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            )
            assert response.status_code == 401
    async with connect(deployment.gateway.url, acme_key) as acme:
        history = await call_ok(acme, "fastn_get_event_history", {"type": "auth_failure"})
    recorded = [e for e in history["events"] if e["detail"].get("key_id") == key_id]
    assert len(recorded) == 1
    assert recorded[0]["error"] == "wrong API key (the key id is this tenant's)"
    assert forged not in str(history)


async def test_refused_credentials_mark_the_integration_expired(deployment: Deployment) -> None:
    async with connect(deployment.gateway.url, deployment.keys["expired"]) as expired:
        shop = await call_error(expired, "shopify_list_orders", {"status": "any"})
        slack = await call_error(expired, "slack_list_channels", {})
        listed = await call_ok(expired, "fastn_list_integrations")
    assert "HTTP 401" in text_of(shop)
    assert "invalid_auth" in text_of(slack)
    health = {i["connector"]: i["health"] for i in listed["integrations"]}
    assert health == {"shopify": "credentials_expired", "slack": "credentials_expired"}
    assert listed["health_counts"] == {"credentials_expired": 2}
