"""MCP resources per tenant through the real gateway: list, templates, read, isolation."""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.native.deployment import Deployment, call_ok, connect

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "2026-07-28"]
STATIC = ["fastn://integrations", "fastn://events/recent", "fastn://usage"]


async def read_json(client: Client, uri: str) -> Any:
    result = await client.read_resource(uri)
    (content,) = result.contents
    assert isinstance(content, types.TextResourceContents)
    assert (content.uri, content.mime_type) == (uri, "application/json")
    return json.loads(content.text)


@pytest.mark.parametrize("mode", ERAS)
async def test_each_tenant_lists_its_own_resources(deployment: Deployment, mode: str) -> None:
    async with connect(deployment.gateway.url, deployment.keys["acme"], mode) as acme:
        acme_uris = [r.uri for r in (await acme.list_resources()).resources]
        templates = (await acme.list_resource_templates()).resource_templates
    async with connect(deployment.gateway.url, deployment.keys["globex"], mode) as globex:
        globex_uris = [r.uri for r in (await globex.list_resources()).resources]
    assert acme_uris == [*STATIC, "fastn://integrations/shopify", "fastn://integrations/slack"]
    assert globex_uris == [*STATIC, "fastn://integrations/slack"]
    assert [t.uri_template for t in templates] == [
        "fastn://integrations/{connector}",
        "fastn://entities/{type}{?query}",
    ]
    assert {t.mime_type for t in templates} == {"application/json"}


@pytest.mark.parametrize("mode", ERAS)
async def test_resources_read_as_json_for_the_tenant(deployment: Deployment, mode: str) -> None:
    async with connect(deployment.gateway.url, deployment.keys["globex"], mode) as globex:
        await call_ok(globex, "slack_list_channels", {"limit": 1})
        integrations = await read_json(globex, "fastn://integrations")
        slack = await read_json(globex, "fastn://integrations/slack")
        events = await read_json(globex, "fastn://events/recent")
        usage = await read_json(globex, "fastn://usage")
    assert integrations["tenant_id"] == "globex"
    assert [i["connector"] for i in integrations["integrations"]] == ["slack"]
    assert slack["connector"] == "slack" and slack["tenant_id"] == "globex"
    assert slack["last_success_at"] is not None
    assert events["tenant_id"] == "globex" and 1 <= len(events["events"]) <= 50
    assert events["events"][0]["tool"] == "slack_list_channels"
    assert usage["tenant_id"] == "globex" and usage["calls"] >= 1


async def test_another_tenants_integration_cannot_be_read(deployment: Deployment) -> None:
    async with connect(deployment.gateway.url, deployment.keys["globex"]) as globex:
        with pytest.raises(MCPError) as hidden:
            await globex.read_resource("fastn://integrations/shopify")
        with pytest.raises(MCPError) as missing:
            await globex.read_resource("fastn://integrations/salesforce")
        with pytest.raises(MCPError) as other:
            await globex.read_resource("fastn://tenants/acme/usage")
    assert hidden.value.code == missing.value.code == other.value.code == types.INVALID_PARAMS
    assert hidden.value.message == "Unknown resource: fastn://integrations/shopify"
    assert missing.value.message.replace("salesforce", "shopify") == hidden.value.message
    assert hidden.value.data == missing.value.data


async def test_resources_never_show_another_tenants_data(deployment: Deployment) -> None:
    async with connect(deployment.gateway.url, deployment.keys["acme"]) as acme:
        await call_ok(acme, "shopify_list_orders", {"status": "any"})
    async with connect(deployment.gateway.url, deployment.keys["globex"]) as globex:
        events = await read_json(globex, "fastn://events/recent")
        usage = await read_json(globex, "fastn://usage")
    assert all(e["connector"] in (None, "slack") for e in events["events"])
    assert "shopify_list_orders" not in [e["tool"] for e in events["events"]]
    assert "shopify" not in [t["connector"] for t in usage["tools"]]
