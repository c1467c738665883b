"""fastn_search_entities through the real gateway, with Slack and Shopify on loopback.

The official MCP client checks every successful result against the tool's
``outputSchema``, so each search here also checks that the published schema tells the
truth about the entities.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from tests.cdm.deployment import SOURCE_TIMEOUT_S, CdmDeployment
from tests.native.deployment import call_error, call_ok, connect, text_of

pytestmark = pytest.mark.anyio

SEARCH = "fastn_search_entities"
# Contacts matching "acme": Shopify's search (names, email, company) and the Slack
# members the gateway matches (people only: the bot and the deactivated user are not).
ACME_CONTACTS = {
    "shopify:7001",
    "shopify:7002",
    "shopify:7003",
    "slack:UA1",
    "slack:UA2",
    "slack:UA3",
    "slack:UA7",
}


async def search(cdm: CdmDeployment, tenant: str, **arguments: Any) -> dict[str, Any]:
    async with connect(cdm.gateway.url, cdm.keys[tenant]) as client:
        return await call_ok(client, SEARCH, arguments)


def by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in result["items"]}


def shop_requests(cdm: CdmDeployment, shop: str) -> int:
    return sum(1 for r in cdm.shopify.requests if r.path.startswith(f"/{shop}/"))


async def test_a_contact_search_merges_shopify_and_slack(cdm: CdmDeployment) -> None:
    found = await search(cdm, "acme", entity_type="Contact", query="acme", limit=100)
    items = by_id(found)
    assert found["tenant_id"] == "acme" and found["entity_type"] == "Contact"
    assert found["searched"] == ["shopify", "slack"] and found["errors"] == []
    # Slack pages at most two members at a time: its other matches come on later pages.
    assert set(items) == {"shopify:7001", "shopify:7002", "shopify:7003", "slack:UA1", "slack:UA2"}
    assert found["next_cursor"] is not None
    scores = [item["score"] for item in found["items"]]
    assert scores == sorted(scores, reverse=True)
    buyer = items["shopify:7001"]
    assert (buyer["connector"], buyer["source_id"], buyer["score"]) == ("shopify", "7001", 0.625)
    assert buyer["data"] == {
        "source": {
            "connector": "shopify",
            "remote_id": "7001",
            "remote_url": "https://admin.shopify.com/store/acme-store/customers/7001",
        },
        "name": "Acme Buyer",
        "first_name": "Acme",
        "last_name": "Buyer",
        "email": "buyer@acme.example",
        "phone": "+16135550101",
        "company": "Acme Corp",
        "title": None,
        "address": {
            "line1": "1 Main St",
            "line2": None,
            "city": "Ottawa",
            "region": "Ontario",
            "postal_code": "K1A 0B1",
            "country": "CA",
        },
        "created_at": "2024-10-02T14:00:00Z",  # -04:00 in Shopify's answer
        "updated_at": "2024-10-03T14:00:00Z",
    }
    assert items["shopify:7002"]["data"]["created_at"] == "2024-10-04T00:30:00Z"  # from +09:00
    alice = items["slack:UA1"]["data"]
    assert alice["source"] == {"connector": "slack", "remote_id": "UA1", "remote_url": None}
    assert (alice["name"], alice["email"], alice["title"]) == (
        "Alice Doe",
        "alice@acme.example",
        "CEO",
    )
    assert alice["updated_at"] == "2024-10-02T14:00:00Z"  # Unix time 1727877600
    # Found by Shopify through its company alone: kept, ranked last among Shopify's.
    assert items["shopify:7003"]["data"]["company"] == "Acme Logistics"
    assert items["shopify:7003"]["score"] == 0.1


async def test_globex_gets_only_slack_and_never_reaches_shopify(cdm: CdmDeployment) -> None:
    shop_calls = len(cdm.shopify.requests)
    found = await search(cdm, "globex", entity_type="Contact", query="acme")
    narrowed = await search(
        cdm,
        "globex",
        entity_type="Contact",
        query="acme",
        filters={"source.connector": "shopify"},
    )
    orders = await call_error_for(cdm, "globex", entity_type="Order", query="")
    assert [item["id"] for item in found["items"]] == ["slack:UG2"]
    assert found["items"][0]["data"]["name"] == "Acme Liaison"
    assert found["searched"] == ["slack"] and found["errors"] == []
    assert (narrowed["items"], narrowed["searched"], narrowed["next_cursor"]) == ([], [], None)
    assert orders.structured_content == {
        "error": "entity_search_unavailable",
        "entity_type": "Order",
        "connectors": ["slack"],
    }
    assert "Entity search is not available for this tenant's connectors (slack)" in text_of(orders)
    assert len(cdm.shopify.requests) == shop_calls


async def call_error_for(cdm: CdmDeployment, tenant: str, **arguments: Any) -> types.CallToolResult:
    async with connect(cdm.gateway.url, cdm.keys[tenant]) as client:
        return await call_error(client, SEARCH, arguments)


async def test_a_failing_source_is_reported_beside_the_others_results(
    cdm: CdmDeployment,
) -> None:
    found = await search(cdm, "brokenco", entity_type="Contact", query="acme")
    assert {item["connector"] for item in found["items"]} == {"slack"}
    assert {"slack:UA1", "slack:UA2"} <= set(by_id(found))
    assert found["searched"] == ["shopify", "slack"]
    (error,) = found["errors"]
    assert (error["connector"], error["error"]) == ("shopify", "http_status")
    assert "HTTP 500" in error["message"]
    assert "shpat_" not in json.dumps(found)
    # The failed source is left out of the following pages; Slack goes on.
    following = await search(
        cdm, "brokenco", entity_type="Contact", query="acme", cursor=found["next_cursor"]
    )
    assert following["searched"] == ["slack"] and following["errors"] == []


async def test_a_source_that_times_out_is_reported_and_its_call_still_recorded(
    cdm: CdmDeployment,
) -> None:
    with anyio.fail_after(SOURCE_TIMEOUT_S * 6):
        found = await search(cdm, "slowco", entity_type="Contact", query="acme")
    assert {item["connector"] for item in found["items"]} == {"slack"}
    (error,) = found["errors"]
    assert error == {
        "connector": "shopify",
        "error": "timeout",
        "message": f"shopify did not answer within {SOURCE_TIMEOUT_S:g} s",
    }
    # The call went on in the background: it ends, and is counted and recorded.
    async with connect(cdm.gateway.url, cdm.keys["slowco"]) as client:
        with anyio.fail_after(15):
            while True:
                history = await call_ok(
                    client, "fastn_get_event_history", {"tool": "shopify_search_customers"}
                )
                if history["events"]:
                    break
                await anyio.sleep(0.2)
    (event,) = history["events"]
    assert (event["type"], event["status"], event["connector"]) == (
        "tool_call",
        "success",
        "shopify",
    )


async def test_pages_return_every_match_once_and_a_cursor_gives_the_same_page(
    cdm: CdmDeployment,
) -> None:
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    cursor = None
    async with connect(cdm.gateway.url, cdm.keys["pager"]) as client:
        for _ in range(20):
            arguments = {"entity_type": "Contact", "query": "acme", "limit": 2}
            page = await call_ok(client, SEARCH, arguments | ({"cursor": cursor} if cursor else {}))
            pages.append(page)
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        again = await call_ok(
            client,
            SEARCH,
            {"entity_type": "Contact", "query": "acme", "limit": 2}
            | {"cursor": pages[0]["next_cursor"]},
        )
        other = await call_error(
            client,
            SEARCH,
            {"entity_type": "Contact", "query": "bob", "cursor": pages[0]["next_cursor"]},
        )
    assert cursor is None
    assert len(seen) == len(set(seen)) and set(seen) == ACME_CONTACTS
    assert all(len(page["items"]) <= 2 for page in pages)
    assert again == pages[1]
    assert other.structured_content == {"error": "invalid_cursor"}
    assert "belongs to a different search" in text_of(other)


async def test_every_upstream_call_is_counted_and_recorded(cdm: CdmDeployment) -> None:
    shop_before = shop_requests(cdm, "count-store")
    async with connect(cdm.gateway.url, cdm.keys["counted"]) as client:
        first = await call_ok(client, SEARCH, {"entity_type": "Contact", "query": "acme"})
        second = await call_ok(
            client,
            SEARCH,
            {"entity_type": "Contact", "query": "acme", "cursor": first["next_cursor"]},
        )
        usage = await call_ok(client, "fastn_get_usage_summary")
        events = await call_ok(client, "fastn_get_event_history", {"type": "tool_call"})
    # Page 1 asks both; Shopify's search is done in one page, so page 2 asks Slack only.
    assert (first["searched"], second["searched"]) == (["shopify", "slack"], ["slack"])
    calls = {t["tool"]: (t["connector"], t["calls"]) for t in usage["tools"]}
    assert calls["shopify_search_customers"] == ("shopify", 1)
    assert calls["slack_list_users"] == ("slack", 2)
    assert calls[SEARCH] == (None, 2)
    assert usage["calls"] == 3  # connector calls: the upstream ones
    recorded = [(e["tool"], e["connector"], e["status"]) for e in events["events"]]
    assert sorted(recorded) == sorted(
        [
            (SEARCH, None, "success"),
            (SEARCH, None, "success"),
            ("fastn_get_usage_summary", None, "success"),
            ("shopify_search_customers", "shopify", "success"),
            ("slack_list_users", "slack", "success"),
            ("slack_list_users", "slack", "success"),
        ]
    )
    assert shop_requests(cdm, "count-store") - shop_before == 1


async def test_a_source_over_its_quota_is_refused_and_reported(cdm: CdmDeployment) -> None:
    first = await search(cdm, "capped", entity_type="Order", query="")
    second = await search(cdm, "capped", entity_type="Contact", query="acme")
    assert len(first["items"]) == 3 and first["errors"] == []
    assert {item["connector"] for item in second["items"]} == {"slack"}
    (error,) = second["errors"]
    assert (error["connector"], error["error"]) == ("shopify", "quota_exceeded")


async def test_shopify_orders_and_products_are_normalised(cdm: CdmDeployment) -> None:
    orders = await search(cdm, "acme", entity_type="Order", query="")
    products = await search(cdm, "acme", entity_type="Product", query="acme anvil")
    by_number = {item["data"]["number"]: item["data"] for item in orders["items"]}
    assert sorted(by_number) == ["#1001", "#1002", "#1003"]
    assert orders["next_cursor"] is None  # a short page is Shopify's last
    refunded = by_number["#1002"]
    assert refunded["source"]["remote_url"] == (
        "https://admin.shopify.com/store/acme-store/orders/9002"
    )
    assert (refunded["status"], refunded["financial_status"], refunded["fulfillment_status"]) == (
        "closed",
        "refunded",
        "fulfilled",
    )
    assert refunded["total"] == {"amount": "99.95", "currency": "CAD"}
    assert refunded["customer_name"] == "Acme Buyer"
    assert refunded["customer_remote_id"] == "7001"
    assert refunded["closed_at"] == "2024-10-09T12:00:00Z"
    assert refunded["created_at"] == "2024-10-02T14:00:00Z"
    assert refunded["line_items"] == [
        {
            "title": "Anvil",
            "sku": "ANV-1",
            "quantity": 2,
            "price": {"amount": "10.00", "currency": "CAD"},
        }
    ]
    assert by_number["#1001"]["fulfillment_status"] == "unfulfilled"
    anvil = products["items"][0]
    assert anvil["id"] == "shopify:5001"
    assert anvil["data"]["title"] == "Acme Anvil"
    assert anvil["data"]["description"] == "The Acme Anvil & more."
    assert anvil["data"]["sku"] == "SKU-5001"
    assert anvil["data"]["updated_at"] == "2024-09-01T22:00:00Z"
    # Every product matching some word of the query, the best match first.
    assert "shopify:5005" not in by_id(products)  # Tornado Seeds, by Wile
    assert [i["score"] for i in products["items"]] == sorted(
        (i["score"] for i in products["items"]), reverse=True
    )


async def test_slack_channels_and_messages_are_normalised(cdm: CdmDeployment) -> None:
    channels = await search(cdm, "acme", entity_type="Channel", query="acme")
    messages = await search(cdm, "acme", entity_type="Message", query="acme")
    no_query = await search(cdm, "acme", entity_type="Message", query="")
    (channel,) = channels["items"]
    assert channel["id"] == "slack:CA2"
    assert channel["data"] == {
        "source": {"connector": "slack", "remote_id": "CA2", "remote_url": None},
        "name": "acme-sales",
        "topic": "Acme sales pipeline",
        "purpose": "About acme sales pipeline",
        "is_private": False,
        "is_archived": False,
        "member_count": 3,
        "created_at": "2023-11-14T22:13:20Z",
    }
    assert [item["id"] for item in messages["items"]] == [
        "slack:CA2/1727877600.000100",
        "slack:CA1/1727884800.000300",
    ]
    first = messages["items"][0]["data"]
    assert first["source"]["remote_url"] == "https://acme.slack.com/archives/CA2/p1727877600000100"
    assert (first["author_remote_id"], first["channel_name"]) == ("UA1", "acme-sales")
    assert first["sent_at"] == "2024-10-02T14:00:00.000100Z"
    assert no_query["items"] == []
    assert no_query["errors"] == [
        {
            "connector": "slack",
            "error": "needs_query",
            "message": "slack searches Message only with a query",
        }
    ]


async def test_bad_filters_and_unmapped_types_are_refused(cdm: CdmDeployment) -> None:
    unknown = await call_error_for(
        cdm, "acme", entity_type="Contact", query="", filters={"colour": "red"}
    )
    unmapped = await call_error_for(cdm, "acme", entity_type="InventoryLevel", query="x")
    filtered = await search(
        cdm, "acme", entity_type="Order", query="", filters={"financial_status": "PAID"}
    )
    assert unknown.structured_content == {"error": "unknown_filter", "filter": "colour"}
    assert "Contact has no field 'colour'" in text_of(unknown)
    assert unmapped.structured_content is not None
    assert unmapped.structured_content["error"] == "entity_search_unavailable"
    assert [item["data"]["number"] for item in filtered["items"]] == ["#1001"]


async def test_the_entities_resource_reads_the_same_search(cdm: CdmDeployment) -> None:
    async with connect(cdm.gateway.url, cdm.keys["acme"]) as client:
        templates = (await client.list_resource_templates()).resource_templates
        read = await client.read_resource("fastn://entities/Contact?query=acme")
        tool = await call_ok(client, SEARCH, {"entity_type": "Contact", "query": "acme"})
        with pytest.raises(MCPError) as unknown:
            await client.read_resource("fastn://entities/Spaceship")
        with pytest.raises(MCPError) as unmapped:
            await client.read_resource("fastn://entities/Invoice")
    assert "fastn://entities/{type}{?query}" in [t.uri_template for t in templates]
    (content,) = read.contents
    assert isinstance(content, types.TextResourceContents)
    assert content.mime_type == "application/json"
    document = json.loads(content.text)
    assert document == tool
    assert unknown.value.error.message == "Unknown resource: fastn://entities/Spaceship"
    assert "Entity search is not available" in unmapped.value.error.message
