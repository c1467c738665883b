"""A tenant's ``tools/list``: one cached list per list key, and its wire bytes.

What a tenant's list contains is decided by :func:`list_key` alone; every cache here is
keyed by it, so tenants with the same key share one list, and a change to what a tenant
sees (a connection added or removed) is a different key rather than an invalidation.

Two forms are kept per key:

- the ``ListToolsResult`` the SDK serialises (stdio, and any HTTP request the byte path
  does not take);
- the bytes of the ``tools`` array for one protocol version, joined from per-tool
  entries that were shaped by the SDK's own per-version result surface once, so a
  listing costs a dictionary lookup instead of re-serialising megabytes of schemas
  (:mod:`.tool_list_http` splices them into the SDK's response).

Connector tools are advertised without their ``outputSchema`` unless the server is
started with output schemas in the list: on large connectors they are most of the
answer (11 of GitHub + Stripe + Slack's 14 MB). The MCP spec makes ``outputSchema``
optional; a client validates ``structuredContent`` only against a schema it was given,
and calls keep returning ``structuredContent`` either way.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

import mcp_types as types
from mcp.server.caching import CacheHint
from mcp_types import methods as _methods

from fastn_gen.gateway.catalog import Catalog
from fastn_gen.gateway.tenancy import Tenant

__all__ = ["ListKey", "ToolLists", "list_key"]

# The connector set; widen it (a frozen dataclass) when more decides a list.
ListKey = frozenset[str]
# Lists kept per kind; tenants sharing a connector set share one, so few are live.
MAX_CACHED_LISTS = 64
_METHOD = "tools/list"
# Required envelope fields of the 2026-07-28 result surface; only the shaped tool
# entries are taken from the dump.
_ENVELOPE: dict[str, Any] = {"ttlMs": 0, "cacheScope": "private", "resultType": "complete"}

V = TypeVar("V")


def list_key(tenant: Tenant) -> ListKey:
    """Everything a tenant's ``tools/list`` depends on, as one hashable value.

    Anything that changes which tools a tenant sees must be part of this key.
    """
    return frozenset(tenant.connected_connectors())


class _Bounded(Generic[V]):
    """A small least-recently-used map."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V) -> V:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.limit:
            self.items.popitem(last=False)
        return value


class ToolLists:
    """Per-key tool lists of a catalog, as SDK results and as wire bytes."""

    def __init__(
        self,
        catalog: Catalog,
        native_tools: tuple[types.Tool, ...],
        cache_hint: CacheHint,
        *,
        output_schemas: bool = False,
    ) -> None:
        self.catalog = catalog
        self.native_tools = native_tools
        self.cache_hint = cache_hint
        self.output_schemas = output_schemas
        self._advertised: dict[str, types.Tool] = {}
        self._results: _Bounded[types.ListToolsResult] = _Bounded(MAX_CACHED_LISTS)
        self._wire: _Bounded[bytes] = _Bounded(MAX_CACHED_LISTS)
        self._entries: dict[tuple[str, str], bytes] = {}

    def tools(self, key: ListKey) -> list[types.Tool]:
        """Native tools, then the key's connector tools sorted by name."""
        return [*self.native_tools, *(self._advertise(t) for t in self.catalog.tools_for(key))]

    def count(self, key: ListKey) -> int:
        return len(self.native_tools) + len(self.catalog.tools_for(key))

    def result(self, key: ListKey) -> types.ListToolsResult:
        """The key's list as the SDK serialises it (cached)."""
        cached = self._results.get(key)
        if cached is None:
            cached = self._results.put(key, self._result(self.tools(key)))
        return cached

    def empty_result(self) -> types.ListToolsResult:
        """The result whose empty ``tools`` array the byte path fills in."""
        return self._result([])

    def wire_tools(self, key: ListKey, version: str) -> bytes:
        """The items of the key's ``tools`` array, as protocol ``version`` shapes them."""
        cached = self._wire.get((key, version))
        if cached is None:
            entries = [self._entry(tool, version) for tool in self.tools(key)]
            cached = self._wire.put((key, version), b",".join(entries))
        return cached

    def _result(self, tools: list[types.Tool]) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=tools, ttl_ms=self.cache_hint.ttl_ms, cache_scope=self.cache_hint.scope
        )

    def _advertise(self, tool: types.Tool) -> types.Tool:
        if self.output_schemas or tool.output_schema is None:
            return tool
        advertised = self._advertised.get(tool.name)
        if advertised is None:
            advertised = tool.model_copy(update={"output_schema": None})
            self._advertised[tool.name] = advertised
        return advertised

    def _entry(self, tool: types.Tool, version: str) -> bytes:
        """One tool's list entry exactly as the SDK's result surface for ``version``
        shapes it (the sieve is per element, so entries can be joined)."""
        cached = self._entries.get((version, tool.name))
        if cached is None:
            dumped = tool.model_dump(by_alias=True, mode="json", exclude_none=True)
            shaped = _methods.serialize_server_result(
                _METHOD, version, {"tools": [dumped], **_ENVELOPE}
            )["tools"][0]
            cached = json.dumps(shaped, separators=(",", ":")).encode()
            self._entries[(version, tool.name)] = cached
        return cached
