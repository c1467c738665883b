"""What one request sees: its ``tools/list`` and the tools it may call, per toolset.

Views are cached by (connected connectors, toolset), both hashable, so tenants on the
same plan and toolset share one list and a request pays one dictionary lookup. Every
path to a tool (``tools/list``, ``tools/call``, the SDK's input-schema hook, the
meta-tools) asks the same view, so a tool outside the toolset is unknown everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import mcp_types as types
from mcp.server.caching import CacheHint

from fastn_gen.gateway.accounts import AccountShape, AccountTools, account_shape
from fastn_gen.gateway.catalog import Catalog, ToolEntry
from fastn_gen.gateway.tenancy import Tenant
from fastn_gen.gateway.toolsets import ToolFacts, Toolset

# (connected connectors, toolset, accounts of connectors with several connections)
# Views kept; tenants sharing connectors, toolset and account names share one.
MAX_VIEWS = 4096
ViewKey = tuple[frozenset[str], Toolset, AccountShape]


@dataclass(frozen=True, slots=True)
class ToolView:
    # What decides this view; every cache of its list (tool_list) is keyed by it.
    key: ViewKey
    listed: types.ListToolsResult
    # The native and connector tools this request may call (never the meta-tools).
    callable: frozenset[str]
    # Connector tools only, in list order (what search mode hides from the list).
    dynamic: tuple[types.Tool, ...]
    search: bool


def native_facts(tool: types.Tool) -> ToolFacts:
    hints = tool.annotations
    read_only = bool(hints and hints.read_only_hint)
    destructive = bool(hints and hints.destructive_hint)
    return ToolFacts(tool.name, None, (), read_only, destructive)


def entry_facts(entry: ToolEntry) -> ToolFacts:
    hints = entry.tool.annotations
    read_only = bool(hints and hints.read_only_hint)
    # MCP's default for an unannotated tool that writes is "destructive".
    destructive = (
        hints.destructive_hint
        if hints is not None and hints.destructive_hint is not None
        else not read_only
    )
    return ToolFacts(entry.name, entry.connector.name, entry.tags, read_only, destructive)


def view_key(tenant: Tenant) -> ViewKey:
    connectors = frozenset(c.connector for c in tenant.connections.values())
    return connectors, tenant.toolset, account_shape(tenant)


class ToolViews:
    """Builds and caches :class:`ToolView` objects for one catalog."""

    def __init__(
        self,
        catalog: Catalog,
        native_tools: Sequence[types.Tool],
        meta_tools: Sequence[types.Tool],
        cache_hint: CacheHint,
        accounts: AccountTools | None = None,
    ) -> None:
        self.catalog = catalog
        self.accounts = accounts or AccountTools(catalog)
        self._natives = [(tool, native_facts(tool)) for tool in native_tools]
        self._facts = {name: entry_facts(entry) for name, entry in catalog.tools.items()}
        self._all_facts = {**self._facts, **{tool.name: facts for tool, facts in self._natives}}
        self._meta = tuple(meta_tools)
        self._hint = cache_hint
        self._views: dict[ViewKey, ToolView] = {}

    def facts(self, name: str) -> ToolFacts | None:
        """What the toolset filters look at, for a native or connector tool."""
        return self._all_facts.get(name)

    def for_tenant(self, tenant: Tenant) -> ToolView:
        key = view_key(tenant)
        view = self._views.get(key)
        if view is None:
            view = self._build(key)
            if len(self._views) >= MAX_VIEWS:
                self._views.clear()  # a bound, not a policy: shapes are normally few
            self._views[key] = view
        return view

    def _build(self, key: ViewKey) -> ToolView:
        connectors, toolset, shape = key
        # With several accounts of a connector its tools carry an account argument.
        tools = (
            self.accounts.tools(connectors, shape) if shape else self.catalog.tools_for(connectors)
        )
        natives = [tool for tool, facts in self._natives if toolset.admits(facts)]
        dynamic = tuple(
            tool
            for tool in tools
            if tool.name in self._facts and toolset.admits(self._facts[tool.name])
        )
        shown: Iterable[types.Tool] = (
            [*natives, *self._meta] if toolset.search else [*natives, *dynamic]
        )
        listed = types.ListToolsResult(
            tools=list(shown), ttl_ms=self._hint.ttl_ms, cache_scope=self._hint.scope
        )
        names = frozenset(tool.name for tool in (*natives, *dynamic))
        return ToolView(key, listed, names, dynamic, toolset.search)
