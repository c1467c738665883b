"""Toolsets in tenants.yaml (validation, key narrowing), their views, and tool search."""

from __future__ import annotations

from pathlib import Path

import pytest

from fastn_gen.cdm.search import mapped_sources
from fastn_gen.gateway.apikeys import hash_api_key
from fastn_gen.gateway.catalog import Catalog
from fastn_gen.gateway.context import serving_tenant
from fastn_gen.gateway.executor import Executor
from fastn_gen.gateway.handlers import TOOLS_LIST_CACHE, GatewayHandlers
from fastn_gen.gateway.tool_search import ToolSearchIndex, terms
from fastn_gen.gateway.tool_views import ToolViews
from fastn_gen.gateway.toolsets import ToolFacts, tool_filter
from fastn_gen.native.meta_tools import META_TOOLS
from fastn_gen.native.registry import NATIVE_TOOLS
from tests.gateway.test_tenancy import CATALOG, issues_of, load

REPO = Path(__file__).resolve().parents[2]
KEYS = {name: f"{name}-{'x' * 24}" for name in ("wide", "narrow", "plain")}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(REPO / "generated")


def _tenants(tenant_toolset: str, key_toolset: str) -> str:
    return f"""\
    version: 1
    tenants:
      - id: acme
        toolset: {tenant_toolset}
        api_keys:
          - {{id: plain, hash: "{hash_api_key(KEYS["plain"])}"}}
          - {{id: narrow, hash: "{hash_api_key(KEYS["narrow"])}", toolset: {key_toolset}}}
        connections:
          - connector: slack
            credentials: {{token: "${{T}}"}}
          - connector: shopify
            credentials: {{api_key: "${{S}}"}}
            variables: {{shop: acme}}
    """


def test_toolset_mistakes_name_their_pointers(tmp_path: Path) -> None:
    text = _tenants(
        "{connectors: [slack, github], tags: [chat], access: read, mode: list}",
        "{connectors: [shopify], tags: [orders], access: write, colour: red}",
    )
    assert issues_of(text, tmp_path, catalog=CATALOG) == [
        "line 4: /tenants/0/toolset/mode: Input should be 'all' or 'search'",
        "line 7: /tenants/0/api_keys/1/toolset/colour: unknown field",
    ]
    text = _tenants(
        "{connectors: [slack, github], tags: [chat], access: read}",
        "{connectors: [shopify, stripe], tags: [orders], access: write}",
    )
    assert issues_of(text, tmp_path, catalog=CATALOG) == [
        "line 4: /tenants/0/toolset/connectors/1: connector 'github' is not connected by "
        "tenant acme",
        "line 7: /tenants/0/api_keys/1/toolset/connectors/1: connector 'stripe' is not "
        "connected by tenant acme",
        "line 7: /tenants/0/api_keys/1/toolset/connectors/0: 'shopify' is outside the "
        "tenant's toolset (connectors: slack, github); a key's toolset can only narrow its "
        "tenant's",
        "line 7: /tenants/0/api_keys/1/toolset/tags/0: 'orders' is outside the tenant's "
        "toolset (tags: chat); a key's toolset can only narrow its tenant's",
        "line 7: /tenants/0/api_keys/1/toolset/access: access 'write' is wider than the "
        "tenant's ('read'); a key's toolset can only narrow its tenant's",
    ]


def test_a_key_narrows_its_tenant_and_carries_its_id(tmp_path: Path, catalog: Catalog) -> None:
    text = _tenants("{connectors: [slack], mode: search}", "{access: read, mode: all}")
    registry = load(text, tmp_path, catalog=CATALOG)
    plain = registry.authenticate(KEYS["plain"])
    narrow = registry.authenticate(KEYS["narrow"])
    assert plain is not None and narrow is not None
    assert (plain.id, plain.api_key_id, narrow.id, narrow.api_key_id) == (
        "acme",
        "plain",
        "acme",
        "narrow",
    )
    assert plain.toolset.mode == "search" and narrow.toolset.mode == "all"
    views = ToolViews(catalog, [t.mcp_tool() for t in NATIVE_TOOLS], META_TOOLS, TOOLS_LIST_CACHE)
    wide_view, narrow_view = views.for_tenant(plain), views.for_tenant(narrow)
    assert [t.name for t in wide_view.listed.tools][-2:] == [
        "fastn_search_tools",
        "fastn_call_tool",
    ]
    slack_tools = {n for n in catalog.tools if n.startswith("slack_")}
    assert {n for n in wide_view.callable if not n.startswith("fastn_")} == slack_tools
    assert "fastn_delete_flow" in wide_view.callable
    listed = {t.name for t in narrow_view.listed.tools}
    assert listed == narrow_view.callable
    assert "slack_send_message" not in listed and "slack_list_channels" in listed
    assert not any(n.startswith("shopify_") for n in listed)  # the tenant's filter holds
    assert "fastn_delete_flow" not in listed and "fastn_get_usage_summary" in listed
    # The same (connectors, toolset) shares one view; the tenant object need not be the same.
    assert views.for_tenant(registry.authenticate(KEYS["narrow"])) is narrow_view  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_a_key_resolved_again_from_the_cache_stays_narrowed(
    tmp_path: Path, catalog: Catalog
) -> None:
    """The second resolution of a key skips verification (no thread hop); it must still
    serve the key's narrowed tenant, never the tenant's wider toolset."""
    text = _tenants("{connectors: [slack], mode: search}", "{access: read, mode: all}")
    registry = load(text, tmp_path, catalog=CATALOG)
    first = await registry.resolve_key(KEYS["narrow"])
    again = await registry.resolve_key(KEYS["narrow"])
    assert registry.key_stats.hits >= 1
    for tenant in (first, again):
        assert tenant is not None
        assert (tenant.api_key_id, tenant.toolset.mode) == ("narrow", "all")
    assert await registry.resolve_key(KEYS["narrow"] + "x") is None


def test_filters_stack_so_a_key_never_widens() -> None:
    tool = ToolFacts("slack_send_message", "slack", ("chat", "messaging"), False, False)
    assert tool_filter(tags=["chat"]).admits(tool)
    assert not tool_filter(tags=["users"]).admits(tool)
    assert tool_filter(access="write").admits(tool)
    assert not tool_filter(access="read").admits(tool)
    assert not tool_filter(include=["shopify_*"]).admits(tool)
    assert not tool_filter(exclude=["*_send_*"]).admits(tool)
    destroy = ToolFacts("stripe_delete_customer", "stripe", (), False, True)
    assert not tool_filter(access="write").admits(destroy) and tool_filter().admits(destroy)
    native = ToolFacts("fastn_list_flows", None, (), True, False)
    assert tool_filter(connectors=["slack"], tags=["chat"]).admits(native)


def test_search_ranks_the_real_catalog(catalog: Catalog) -> None:
    index = ToolSearchIndex(entry.tool for entry in catalog.tools.values())
    every = set(catalog.tools)

    def best(query: str, allowed: set[str] = every) -> list[str]:
        return [hit.name for hit in index.search(query, allowed, 3)]

    assert best("post a message to a channel")[0] == "slack_send_message"
    assert best("delete a customer")[0] == "stripe_delete_customer"
    assert best("list open pull requests")[0] == "github_pulls_list"
    assert best("find contacts by email")[0] == "hubspot_search_contacts"
    assert best("react with an emoji")[0] == "slack_add_reaction"
    assert best("create an issue")[0] == "github_issues_create"  # the name covers the query
    assert best("send a slack message")[0] == "slack_send_message"
    hidden = every - {"slack_send_message"}
    assert "slack_send_message" not in best("post a message to a channel", hidden)
    assert best("zzzz unknown words") == []
    assert terms("Posting Messages to conversations") == ["send", "message", "channel"]


def test_entity_search_uses_only_sources_the_toolset_admits(
    tmp_path: Path, catalog: Catalog
) -> None:
    text = _tenants("{}", "{connectors: [shopify]}")
    registry = load(text, tmp_path, catalog=CATALOG)
    plain = registry.authenticate(KEYS["plain"])
    narrow = registry.authenticate(KEYS["narrow"])
    assert plain is not None and narrow is not None
    assert [s.connector for s in mapped_sources(catalog, plain, "Contact")] == ["shopify", "slack"]
    assert [s.connector for s in mapped_sources(catalog, narrow, "Contact")] == ["shopify"]
    assert mapped_sources(catalog, narrow, "Channel") == []


def test_input_schema_hook_answers_only_for_the_requests_tools(
    tmp_path: Path, catalog: Catalog
) -> None:
    registry = load(_tenants("{mode: search}", "{access: read}"), tmp_path, catalog=CATALOG)
    handlers = GatewayHandlers(catalog, Executor(environ={}))
    plain = registry.authenticate(KEYS["plain"])
    narrow = registry.authenticate(KEYS["narrow"])
    assert plain is not None and narrow is not None
    with serving_tenant(plain):
        send = handlers.tool_input_schema("slack_send_message")
        search = handlers.tool_input_schema("fastn_search_tools")
        foreign = handlers.tool_input_schema("github_issues_create")
    with serving_tenant(narrow):
        hidden = handlers.tool_input_schema("slack_send_message")
        meta = handlers.tool_input_schema("fastn_call_tool")
        shown = handlers.tool_input_schema("slack_list_channels")
    assert send is not None and "channel" in send["properties"]
    assert search is not None and "query" in search["properties"]
    assert foreign is None and hidden is None  # exactly like an unknown tool
    assert meta is not None and shown is not None
