"""Connector metadata matching the loopback upstreams, and tenants to call them with.

Built directly as the runtime types generated modules contain, so executor tests need
no generated code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fastn_gen.gateway.secrets import SecretStore
from fastn_gen.gateway.tenancy import Connection, CredentialRef, Tenant
from fastn_gen.runtime.operation import AuthSpec, BodySpec, ConnectorSpec, Operation, ParamSpec

SLACK_AUTH = AuthSpec(
    kind="bearer", location="header", param_name="Authorization", prefix="Bearer "
)
SHOPIFY_AUTH = AuthSpec(kind="api_key", location="header", param_name="X-Shopify-Access-Token")
SHOP_VARIABLE = (("shop", r"^[a-z0-9][a-z0-9-]*$"),)


def slack_connector(base_url: str) -> ConnectorSpec:
    return ConnectorSpec(
        name="slack",
        title="Slack",
        description="Slack Web API",
        base_url=base_url,
        auth=SLACK_AUTH,
        response_ok_field="ok",
        response_error_field="error",
    )


def shopify_connector(base_url: str) -> ConnectorSpec:
    return ConnectorSpec(
        name="shopify",
        title="Shopify",
        description="Shopify Admin REST API",
        base_url=base_url,
        auth=SHOPIFY_AUTH,
        variables=SHOP_VARIABLE if "{shop}" in base_url else (),
    )


def op(
    tool: str,
    method: str,
    path: str,
    params: Iterable[ParamSpec] = (),
    body: BodySpec | None = None,
    *,
    operation_id: str | None = None,
    requires_auth: bool = True,
) -> Operation:
    read_only = method.upper() == "GET"
    return Operation(
        tool,
        operation_id or tool,
        method,
        path,
        tuple(params),
        body,
        read_only=read_only,
        destructive=method.upper() == "DELETE",
        idempotent=read_only,
        requires_auth=requires_auth,
    )


def q(arg: str, name: str | None = None, **kw: object) -> ParamSpec:
    return ParamSpec(arg, name or arg, "query", False, **kw)  # type: ignore[arg-type]


def path_param(arg: str, name: str | None = None) -> ParamSpec:
    return ParamSpec(arg, name or arg, "path", True)


def body_param(arg: str, name: str | None = None, required: bool = False) -> ParamSpec:
    return ParamSpec(arg, name or arg, "body", required)


JSON_BODY = BodySpec("json", "application/json; charset=utf-8", required=True)

SLACK_OPS = {
    "slack_send_message": op(
        "slack_send_message",
        "POST",
        "/chat.postMessage",
        [body_param("channel", required=True), body_param("text")],
        JSON_BODY,
        operation_id="chat.postMessage",
    ),
    "slack_list_channels": op(
        "slack_list_channels",
        "GET",
        "/conversations.list",
        [q("limit"), q("types")],
        operation_id="conversations.list",
    ),
    "slack_channel_history": op(
        "slack_channel_history",
        "GET",
        "/conversations.history",
        [q("channel"), q("limit")],
        operation_id="conversations.history",
    ),
    "slack_list_users": op("slack_list_users", "GET", "/users.list", operation_id="users.list"),
    "slack_user_info": op(
        "slack_user_info", "GET", "/users.info", [q("user")], operation_id="users.info"
    ),
    "slack_add_reaction": op(
        "slack_add_reaction",
        "POST",
        "/reactions.add",
        [body_param("channel"), body_param("timestamp"), body_param("name")],
        BodySpec("form", "application/x-www-form-urlencoded", required=True),
        operation_id="reactions.add",
    ),
    "slack_auth_test": op("slack_auth_test", "POST", "/auth.test", operation_id="auth.test"),
}

SHOPIFY_OPS = {
    "shopify_list_orders": op(
        "shopify_list_orders",
        "GET",
        "/orders.json",
        [q("status"), q("limit")],
        operation_id="listOrders",
    ),
    "shopify_get_order": op(
        "shopify_get_order",
        "GET",
        "/orders/{order_id}.json",
        [path_param("order_id")],
        operation_id="getOrder",
    ),
    "shopify_search_customers": op(
        "shopify_search_customers",
        "GET",
        "/customers/search.json",
        [q("query")],
        operation_id="searchCustomers",
    ),
    "shopify_create_customer": op(
        "shopify_create_customer",
        "POST",
        "/customers.json",
        [body_param("customer", required=True)],
        JSON_BODY,
        operation_id="createCustomer",
    ),
    "shopify_get_shop": op("shopify_get_shop", "GET", "/shop.json", operation_id="getShop"),
}


def connection(
    connector: str,
    credentials: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
    name: str | None = None,
) -> Connection:
    """A connection whose credential references are parsed as in ``tenants.yaml``."""
    return Connection(
        connector=connector,
        name=name or connector,
        credentials={k: CredentialRef.parse(v) for k, v in (credentials or {}).items()},
        variables=dict(variables or {}),
    )


def tenant(
    tenant_id: str, *connections: Connection, secret_store: SecretStore | None = None
) -> Tenant:
    return Tenant(
        id=tenant_id,
        display_name=tenant_id.title(),
        plan="default",
        connections={c.name: c for c in connections},
        secret_store=secret_store,
    )
