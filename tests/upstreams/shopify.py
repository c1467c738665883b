"""A Shopify Admin REST API look-alike (version 2024-10), token in X-Shopify-Access-Token.

Real Shopify puts the shop in the host name (``{shop}.myshopify.com``); on loopback
the shop travels as the first path segment instead: ``shop_url_template`` is the base
URL to give a connector whose base URL has a ``{shop}`` variable. Requests without a
shop segment (``url``) are served as shop ``default``.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from tests.upstreams.server import LoopbackServer, RecordedRequest, Reply

SHOPIFY_API_PATH = "/admin/api/2024-10"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


def _orders() -> list[dict[str, Any]]:
    return [
        {
            "id": 450789469,
            "name": "#1001",
            "email": "bob@example.com",
            "financial_status": "paid",
            "fulfillment_status": None,
            "closed_at": None,
            "cancelled_at": None,
            "total_price": "199.00",
            "currency": "USD",
            "customer": {"id": 207119551},
        },
        {
            "id": 450789470,
            "name": "#1002",
            "email": "carol@example.com",
            "financial_status": "refunded",
            "fulfillment_status": "fulfilled",
            "closed_at": "2024-10-02T10:00:00-04:00",
            "cancelled_at": "2024-10-02T09:00:00-04:00",
            "total_price": "49.50",
            "currency": "USD",
            "customer": {"id": 207119552},
        },
    ]


def _customers() -> list[dict[str, Any]]:
    return [
        {"id": 207119551, "email": "bob@example.com", "first_name": "Bob", "last_name": "Norman"},
        {"id": 207119552, "email": "carol@example.com", "first_name": "Carol", "last_name": "Li"},
    ]


def _products() -> list[dict[str, Any]]:
    return [
        {"id": 632910392, "title": "IPod Nano - 8GB", "vendor": "Apple", "status": "active"},
        {"id": 921728736, "title": "IPod Touch 8GB", "vendor": "Apple", "status": "draft"},
    ]


class ShopifyUpstream(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self._tokens: dict[str, set[str | None]] = {}  # token -> shops (None: any shop)
        self._state = threading.Lock()
        self.orders = _orders()
        self.customers = _customers()
        self.products = _products()

    @property
    def url(self) -> str:
        return f"{self.origin}{SHOPIFY_API_PATH}"

    @property
    def shop_url_template(self) -> str:
        return f"{self.origin}/{{shop}}{SHOPIFY_API_PATH}"

    def allow_token(self, token: str, shop: str | None = None) -> None:
        """Accept ``token`` for ``shop`` (for every shop when None)."""
        self._tokens.setdefault(token, set()).add(shop)

    def handle(self, request: RecordedRequest) -> Reply | None:
        shop, rest = self._split(request.path)
        if rest is None:
            return Reply.json({"errors": "Not Found"}, status=404)
        shops = self._tokens.get(request.header("x-shopify-access-token") or "", set())
        if None not in shops and shop not in shops:
            return Reply.json({"errors": INVALID_TOKEN}, status=401)
        with self._state:
            return self._route(request, shop, rest)

    @staticmethod
    def _split(path: str) -> tuple[str, str | None]:
        if path.startswith(SHOPIFY_API_PATH + "/"):
            return "default", path[len(SHOPIFY_API_PATH) :]
        shop, _, tail = path.lstrip("/").partition("/")
        if ("/" + tail).startswith(SHOPIFY_API_PATH + "/"):
            return shop, "/" + tail[len(SHOPIFY_API_PATH) :]
        return "", None

    def _route(self, request: RecordedRequest, shop: str, rest: str) -> Reply:
        q = request.query_dict()
        method = request.method
        if rest == "/shop.json" and method == "GET":
            return Reply.json(
                {"shop": {"name": shop.title(), "myshopify_domain": f"{shop}.myshopify.com"}}
            )
        if rest == "/orders.json" and method == "GET":
            limit = int(q.get("limit", "50"))
            if limit > 250:
                return Reply.json({"errors": {"limit": ["must be less than or equal to 250"]}}, 400)
            status = q.get("status", "open")
            orders = [o for o in self.orders if status == "any" or _order_status(o) == status]
            return Reply.json({"orders": orders[:limit]})
        if rest == "/customers.json" and method == "GET":
            return Reply.json({"customers": self.customers[: int(q.get("limit", "50"))]})
        if rest == "/customers.json" and method == "POST":
            return self._create_customer(request)
        if rest == "/customers/search.json" and method == "GET":
            term = q.get("query", "").removeprefix("email:").lower()
            found = [c for c in self.customers if term in str(c["email"]).lower()]
            return Reply.json({"customers": found})
        if rest == "/products.json" and method == "GET":
            return Reply.json({"products": self.products[: int(q.get("limit", "50"))]})
        for collection, key in (
            ("orders", "order"),
            ("customers", "customer"),
            ("products", "product"),
        ):
            by_id = re.fullmatch(rf"/{collection}/(\d+)\.json", rest)
            if by_id and method == "GET":
                items: list[dict[str, Any]] = getattr(self, collection)
                item = next((i for i in items if i["id"] == int(by_id.group(1))), None)
                if item is None:
                    return Reply.json({"errors": "Not Found"}, status=404)
                return Reply.json({key: item})
        return Reply.json({"errors": "Not Found"}, status=404)

    def _create_customer(self, request: RecordedRequest) -> Reply:
        body = request.json() or {}
        customer = body.get("customer") if isinstance(body, dict) else None
        if not isinstance(customer, dict):
            return Reply.json(
                {"errors": {"customer": "Required parameter missing or invalid"}}, 400
            )
        email = str(customer.get("email", ""))
        if not _EMAIL.match(email):
            return Reply.json({"errors": {"email": ["is invalid"]}}, 422)
        if any(c["email"] == email for c in self.customers):
            return Reply.json({"errors": {"email": ["has already been taken"]}}, 422)
        created = {"id": 207119553 + len(self.customers), **customer}
        self.customers.append(created)
        return Reply.json({"customer": created}, 201)


def _order_status(order: dict[str, Any]) -> str:
    if order["cancelled_at"]:
        return "cancelled"
    return "closed" if order["closed_at"] else "open"
