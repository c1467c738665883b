"""Shopify with a catalogue per shop and the calls entity search makes.

Shops: ``acme-store`` and ``count-store`` hold the same data (customers, orders,
products); ``broken-store`` answers HTTP 500 to everything; ``slow-store`` answers
after ``slow_s`` seconds. ``customers/search.json`` matches every word of the query
against names, email and the default address; ``orders.json`` and ``products.json``
page with ``since_id`` (ascending ids) and ``limit``, as Shopify does.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.upstreams.server import RecordedRequest, Reply
from tests.upstreams.shopify import ShopifyUpstream

BROKEN_SHOP = "broken-store"
SLOW_SHOP = "slow-store"


def _address(company: str | None, city: str) -> dict[str, Any]:
    return {
        "company": company,
        "address1": "1 Main St",
        "address2": None,
        "city": city,
        "province": "Ontario",
        "zip": "K1A 0B1",
        "country_code": "CA",
    }


def catalogue() -> dict[str, list[dict[str, Any]]]:
    customers = [
        {
            "id": 7001,
            "first_name": "Acme",
            "last_name": "Buyer",
            "email": "buyer@acme.example",
            "phone": "+16135550101",
            "created_at": "2024-10-02T10:00:00-04:00",
            "updated_at": "2024-10-03T10:00:00-04:00",
            "default_address": _address("Acme Corp", "Ottawa"),
        },
        {
            "id": 7002,
            "first_name": "Hana",
            "last_name": "Ito",
            "email": "hana@acme.example",
            "phone": None,
            "created_at": "2024-10-04T09:30:00+09:00",
            "updated_at": "2024-10-04T09:30:00+09:00",
            "default_address": None,
        },
        {
            "id": 7003,
            "first_name": "Zed",
            "last_name": "Other",
            "email": "zed@other.example",
            "phone": None,
            "created_at": "2024-10-05T00:00:00Z",
            "updated_at": "2024-10-05T00:00:00Z",
            "default_address": _address("Acme Logistics", "Toronto"),
        },
        {
            "id": 7004,
            "first_name": "Nia",
            "last_name": "Plain",
            "email": "nia@plain.example",
            "phone": None,
            "created_at": "2024-10-06T00:00:00Z",
            "updated_at": "2024-10-06T00:00:00Z",
            "default_address": None,
        },
    ]
    orders = [
        {
            "id": 9001 + i,
            "name": f"#{1001 + i}",
            "email": email,
            "currency": "CAD",
            "total_price": total,
            "subtotal_price": total,
            "financial_status": status,
            "fulfillment_status": fulfilled,
            "closed_at": closed,
            "cancelled_at": None,
            "created_at": "2024-10-02T10:00:00-04:00",
            "updated_at": "2024-10-02T11:00:00-04:00",
            "customer": {"id": 7001, "first_name": "Acme", "last_name": "Buyer"},
            "line_items": [
                {
                    "title": "Anvil",
                    "sku": "ANV-1",
                    "quantity": 2,
                    "price": "10.00",
                    "price_set": {"shop_money": {"amount": "10.00", "currency_code": "CAD"}},
                }
            ],
        }
        for i, (email, total, status, fulfilled, closed) in enumerate(
            [
                ("buyer@acme.example", "20.00", "paid", None, None),
                ("buyer@acme.example", "99.95", "refunded", "fulfilled", "2024-10-09T12:00:00Z"),
                ("zed@other.example", "5.00", "pending", None, None),
            ]
        )
    ]
    products = [
        {"id": 5001 + i, "title": title, "vendor": vendor, "product_type": "Tools",
         "status": "active", "body_html": f"<p>The <b>{title}</b> &amp; more.</p>",
         "created_at": "2024-09-01T00:00:00Z", "updated_at": "2024-09-02T00:00:00+02:00",
         "variants": [{"sku": f"SKU-{5001 + i}", "price": "9.99"}]}
        for i, (title, vendor) in enumerate([
            ("Acme Anvil", "Acme"), ("Rocket Skates", "Acme"), ("Giant Magnet", "Acme"),
            ("Acme Catapult", "Acme"), ("Tornado Seeds", "Wile"), ("Acme Glue", "Acme"),
            ("Earthquake Pills", "Acme"),
        ])
    ]  # fmt: skip
    return {"customers": customers, "orders": orders, "products": products}


def _matches(customer: dict[str, Any], words: list[str]) -> bool:
    address = customer.get("default_address") or {}
    text = " ".join(
        str(v or "")
        for v in (
            customer["first_name"],
            customer["last_name"],
            customer["email"],
            address.get("company"),
            address.get("city"),
        )
    ).lower()
    return all(word in text for word in words)


def _since(items: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    since = int(query.get("since_id", "0") or 0)
    limit = int(query.get("limit", "50"))
    return sorted((i for i in items if i["id"] > since), key=lambda i: i["id"])[:limit]


class CatalogueShopify(ShopifyUpstream):
    def __init__(self, slow_s: float = 3.0) -> None:
        super().__init__()
        self.slow_s = slow_s
        self.shops = catalogue()

    def handle(self, request: RecordedRequest) -> Reply | None:
        shop, _ = self._split(request.path)
        if shop == BROKEN_SHOP:
            return Reply.json({"errors": "Internal Server Error"}, status=500)
        reply = super().handle(request)
        if shop == SLOW_SHOP and reply is not None:
            reply.delay_s = self.slow_s
        return reply

    def _route(self, request: RecordedRequest, shop: str, rest: str) -> Reply:
        q = request.query_dict()
        data = copy.deepcopy(self.shops)
        if request.method != "GET":
            return super()._route(request, shop, rest)
        if rest == "/customers/search.json":
            words = q.get("query", "").lower().split()
            found = [c for c in data["customers"] if _matches(c, words)]
            return Reply.json({"customers": found[: int(q.get("limit", "50"))]})
        if rest == "/orders.json":
            return Reply.json({"orders": _since(data["orders"], q)})
        if rest == "/products.json":
            return Reply.json({"products": _since(data["products"], q)})
        return super()._route(request, shop, rest)
