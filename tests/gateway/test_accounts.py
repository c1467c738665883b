"""Accounts: which tenants get an account argument, its name, schema and validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp.server.caching import CacheHint
from mcp_types import CallToolRequestParams

from fastn_gen.gateway.accounts import (
    AccountChoice,
    AccountRefusal,
    Accounts,
    AccountTools,
    account_argument,
    account_shape,
    choose_account,
    with_account,
)
from fastn_gen.gateway.catalog import Catalog
from fastn_gen.gateway.context import serving_tenant
from fastn_gen.gateway.executor import Executor
from fastn_gen.gateway.handlers import GatewayHandlers
from fastn_gen.gateway.tenancy import Connection, Tenant, TenantRegistry, validate_tenants
from fastn_gen.gateway.tenant_rows import LimitsResolver, tenant_from_record
from fastn_gen.store.tenant_records import ConnectionRow, TenantRecord, TenantRow
from tests.gateway.fixtures.gateway_process import GENERATED_MIN, SHOPIFY_BASE, generated_dir
from tests.upstreams import SlackUpstream


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(GENERATED_MIN)


def tenant(tenant_id: str, *connections: tuple[str, str]) -> Tenant:
    """``connections`` as (connector, name) pairs."""
    return Tenant(
        id=tenant_id,
        display_name=tenant_id,
        plan="default",
        connections={
            name: Connection(connector=connector, name=name, credentials={}, variables={})
            for connector, name in connections
        },
    )


def test_only_connectors_with_several_connections_have_accounts() -> None:
    one_each = tenant("a", ("slack", "slack"), ("shopify", "shop-eu"))
    assert account_shape(one_each) == ()
    two = tenant("b", ("slack", "slack-eu"), ("slack", "slack"), ("shopify", "shopify"))
    assert account_shape(two) == (("slack", Accounts(("slack", "slack-eu"), "slack")),)
    no_default = tenant("c", ("shopify", "shop-us"), ("shopify", "shop-eu"))
    assert account_shape(no_default) == (("shopify", Accounts(("shop-eu", "shop-us"), None)),)


def test_an_operations_own_account_parameter_keeps_its_name() -> None:
    assert account_argument({"properties": {"channel": {}}}) == "account"
    assert account_argument({"properties": {"account": {}}}) == "fastn_account"
    taken = {"properties": {"account": {}, "fastn_account": {}}}
    assert account_argument(taken) == "fastn_account_2"
    schema = {"type": "object", "properties": {"account": {"type": "integer"}}}
    augmented = with_account(schema, Accounts(("a", "b"), None))
    assert augmented["properties"]["account"] == {"type": "integer"}
    assert augmented["properties"]["fastn_account"]["enum"] == ["a", "b"]
    assert augmented["required"] == ["fastn_account"]
    assert schema == {"type": "object", "properties": {"account": {"type": "integer"}}}


def test_choosing_an_account(catalog: Catalog) -> None:
    send = catalog.tools["slack_send_message"]
    who = tenant("b", ("slack", "slack"), ("slack", "slack-eu"))
    args: dict[str, Any] = {"channel": "C1", "text": "hi", "account": "slack-eu"}
    chosen = choose_account(who, send, args)
    assert isinstance(chosen, AccountChoice)
    assert chosen.connection.name == "slack-eu"
    assert chosen.arguments == {"channel": "C1", "text": "hi"}
    assert args["account"] == "slack-eu"  # the caller's arguments are left alone
    default = choose_account(who, send, {"channel": "C1", "text": "hi"})
    assert isinstance(default, AccountChoice) and default.connection.name == "slack"
    refused = choose_account(who, send, {"account": "SLACK"})
    assert isinstance(refused, AccountRefusal) and refused.argument == "account"
    # One connection: the arguments go to the input model untouched.
    alone = tenant("c", ("slack", "slack"))
    passed = choose_account(alone, send, {"account": "slack"})
    assert isinstance(passed, AccountChoice) and passed.arguments == {"account": "slack"}
    assert choose_account(tenant("d", ("shopify", "shopify")), send, {}) is None


def test_tenants_of_one_shape_share_a_list(catalog: Catalog) -> None:
    tools = AccountTools(catalog)
    first = tenant("a", ("slack", "slack"), ("slack", "slack-eu"))
    second = tenant("b", ("slack", "slack-eu"), ("slack", "slack"))
    third = tenant("c", ("slack", "slack"), ("slack", "slack-us"))
    connectors = frozenset({"slack"})
    one = tools.tools(connectors, account_shape(first))
    assert tools.tools(connectors, account_shape(second)) is one
    other = tools.tools(connectors, account_shape(third))
    assert other is not one
    by_name = {t.name: t for t in other}
    assert by_name["slack_send_message"].input_schema["properties"]["account"]["enum"] == [
        "slack",
        "slack-us",
    ]
    hint = CacheHint(ttl_ms=0, scope="private")
    listed = tools.listing(first, account_shape(first), (), hint)
    assert tools.listing(second, account_shape(second), (), hint) is listed
    assert tools.listing(third, account_shape(third), (), hint) is not listed
    assert tuple(listed.tools) == one and listed.cache_scope == "private"
    # The catalog's own tools are never modified.
    assert "account" not in catalog.tools["slack_send_message"].input_schema["properties"]
    assert tools.input_schema(first, catalog.tools["slack_list_channels"]) is tools.input_schema(
        second, catalog.tools["slack_list_channels"]
    )


def _connections(*items: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "tenants": [{"id": "acme", "connections": list(items)}]}


def test_connection_names_are_unique_and_safe_identifiers() -> None:
    slack = {"connector": "slack", "credentials": {"token": "${T}"}}
    issues = validate_tenants(
        _connections(
            {**slack, "name": "slack-eu"},
            {**slack, "name": "slack-eu"},
            {**slack, "name": "Slack EU"},
            {**slack, "name": "../eu"},
        )
    )
    assert sorted((issue.pointer, issue.message) for issue in issues) == [
        (
            "/tenants/0/connections/1/name",
            "tenant acme already has a connection named 'slack-eu'; "
            "give one of them a distinct name",
        ),
        ("/tenants/0/connections/2/name", "String should match pattern '^[a-z0-9][a-z0-9_-]*$'"),
        ("/tenants/0/connections/3/name", "String should match pattern '^[a-z0-9][a-z0-9_-]*$'"),
    ]


def test_named_connections_load_from_a_file_and_from_the_store(tmp_path: Path) -> None:
    registry = TenantRegistry.from_text(
        "version: 1\ntenants:\n  - id: acme\n    connections:\n"
        '      - {connector: slack, credentials: {token: "${A}"}}\n'
        '      - {connector: slack, name: slack-eu, credentials: {token: "${B}"}}\n',
        base_dir=tmp_path,
        environ={"A": "a", "B": "b"},
    )
    from_file = registry.get("acme")
    assert from_file is not None
    record = TenantRecord(
        TenantRow("acme"),
        (
            ConnectionRow("acme", "slack", "slack", {"token": "${A}"}),
            ConnectionRow("acme", "slack-eu", "slack", {"token": "${B}"}),
        ),
    )
    from_store = tenant_from_record(record, LimitsResolver({}), None)
    expected = (("slack", Accounts(("slack", "slack-eu"), "slack")),)
    assert account_shape(from_file) == account_shape(from_store) == expected


NO_CONTEXT: Any = None  # the handlers read the tenant from the context variable only


def send(arguments: dict[str, Any]) -> CallToolRequestParams:
    return CallToolRequestParams(name="slack_send_message", arguments=arguments)


@pytest.mark.anyio
async def test_handlers_without_services_route_by_account(
    tmp_path: Path, slack_upstream: SlackUpstream
) -> None:
    """The SDK's schema hook and the unrecorded call path (no store) see accounts too."""
    generated = generated_dir(
        tmp_path / "generated", slack_base=slack_upstream.url, shopify_base=SHOPIFY_BASE
    )
    slack_upstream.allow_token("tok-default", "tok-eu")
    registry = TenantRegistry.from_text(
        "version: 1\ntenants:\n"
        "  - id: multi\n    connections:\n"
        '      - {connector: slack, credentials: {token: "${A}"}}\n'
        '      - {connector: slack, name: slack-eu, credentials: {token: "${B}"}}\n'
        "  - id: single\n    connections:\n"
        '      - {connector: slack, credentials: {token: "${A}"}}\n',
        base_dir=tmp_path,
        environ={"A": "tok-default", "B": "tok-eu"},
    )
    multi, single = registry.get("multi"), registry.get("single")
    assert multi is not None and single is not None
    executor = Executor(environ={"A": "tok-default", "B": "tok-eu"})
    handlers = GatewayHandlers(Catalog.load(generated), executor)
    try:
        with serving_tenant(multi):
            schema = handlers.tool_input_schema("slack_send_message")
            assert schema is not None and schema["properties"]["account"]["default"] == "slack"
            assert handlers.tool_input_schema("shopify_list_orders") is None
            args = {"channel": "C001", "text": "hi", "account": "slack-eu"}
            done = await handlers.call_tool(NO_CONTEXT, send(args))
            refused = await handlers.call_tool(NO_CONTEXT, send({**args, "account": "eu"}))
        with serving_tenant(single):
            plain = handlers.tool_input_schema("slack_send_message")
            assert plain is not None and "account" not in plain["properties"]
    finally:
        await executor.aclose()
    assert not done.is_error
    assert refused.is_error and refused.structured_content is not None
    assert refused.structured_content["field"] == "account"
    (sent,) = slack_upstream.requests
    assert sent.header("authorization") == "Bearer tok-eu"
