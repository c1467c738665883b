"""A tenant's ``tools/list``: one cached list per list key, and its wire bytes.

What a request's list contains is decided by its view (:mod:`.tool_views`: connector set
and toolset); every cache here is keyed by the view's key, so tenants with the same key
share one list, and a change to what a tenant sees (a connection added or removed) is a
different key rather than an invalidation.

Two forms are kept per key:

- the ``ListToolsResult`` the SDK serialises (stdio, and any HTTP request the byte path
  does not take);
- the bytes of the ``tools`` array for one protocol version, joined from per-tool
  entries that were shaped by the SDK's own per-version result surface once, so a
  listing costs a dictionary lookup instead of re-serialising megabytes of schemas
  (:mod:`.tool_list_http` splices them into the SDK's response).

Connector tools are advertised without their ``outputSchema`` unless the server is
started with output schemas in the list: on large connectors they are most of the
answer (11 of GitHub + Stripe + Slack's 14 MB), and only then are they read from
``output_schemas.json`` at all (see :mod:`.catalog`). The MCP spec makes ``outputSchema``
optional; a client validates ``structuredContent`` only against a schema it was given,
and calls keep returning ``structuredContent`` either way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

import mcp_types as types
import pydantic_core
from mcp.server.caching import CacheHint
from mcp_types import methods as _methods

from fastn_gen.gateway.catalog import Catalog
from fastn_gen.gateway.tool_views import ToolView

__all__ = ["ToolLists"]

# Lists kept per kind; requests sharing a view (connector set and toolset) share one.
MAX_CACHED_LISTS = 64
_METHOD = "tools/list"
# Required envelope fields of the 2026-07-28 result surface; only the shaped tool
# entries are taken from the dump.
_ENVELOPE: dict[str, Any] = {"ttlMs": 0, "cacheScope": "private", "resultType": "complete"}

V = TypeVar("V")


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
    """Per-view tool lists of a catalog, as SDK results and as wire bytes."""

    def __init__(
        self, catalog: Catalog, cache_hint: CacheHint, *, output_schemas: bool = False
    ) -> None:
        self.catalog = catalog
        self.cache_hint = cache_hint
        self.output_schemas = output_schemas
        # Keyed by the id of a Tool held in the value, so an id is never reused while
        # its entry lives (tenants with several accounts get their own Tool objects).
        self._advertised: dict[int, tuple[types.Tool, types.Tool]] = {}
        self._entries: dict[tuple[str, int], tuple[types.Tool, bytes]] = {}
        self._results: _Bounded[types.ListToolsResult] = _Bounded(MAX_CACHED_LISTS)
        self._wire: _Bounded[bytes] = _Bounded(MAX_CACHED_LISTS)

    def tools(self, view: ToolView) -> list[types.Tool]:
        """The view's list as advertised (connector output schemas left out by default)."""
        return [self._advertise(tool) for tool in view.listed.tools]

    def result(self, view: ToolView) -> types.ListToolsResult:
        """The view's list as the SDK serialises it (cached)."""
        cached = self._results.get(view.key)
        if cached is None:
            cached = self._results.put(view.key, self._result(self.tools(view)))
        return cached

    def empty_result(self) -> types.ListToolsResult:
        """The result whose empty ``tools`` array the byte path fills in."""
        return self._result([])

    def wire_tools(self, view: ToolView, version: str) -> bytes:
        """The items of the view's ``tools`` array, as protocol ``version`` shapes them."""
        cached = self._wire.get((view.key, version))
        if cached is None:
            entries = [self._entry(tool, version) for tool in self.tools(view)]
            cached = self._wire.put((view.key, version), b",".join(entries))
        return cached

    def _result(self, tools: list[types.Tool]) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=tools, ttl_ms=self.cache_hint.ttl_ms, cache_scope=self.cache_hint.scope
        )

    def _advertise(self, tool: types.Tool) -> types.Tool:
        # Native and meta-tools keep their output schemas. A connector tool lists its own
        # only with output schemas in the list: from its Tool, or, for a catalog loaded
        # without them, from output_schemas.json (read once, on first need).
        if tool.name not in self.catalog.tools:
            return tool
        schema = self.catalog.output_schema(tool.name) if self.output_schemas else None
        if (tool.output_schema is None) == (schema is None):
            return tool
        cached = self._advertised.get(id(tool))
        if cached is None or cached[0] is not tool:
            cached = (tool, tool.model_copy(update={"output_schema": schema}))
            self._advertised[id(tool)] = cached
        return cached[1]

    def _entry(self, tool: types.Tool, version: str) -> bytes:
        """One tool's list entry exactly as the SDK's result surface for ``version``
        shapes it (the sieve is per element, so entries can be joined)."""
        cached = self._entries.get((version, id(tool)))
        if cached is None or cached[0] is not tool:
            dumped = tool.model_dump(by_alias=True, mode="json", exclude_none=True)
            shaped = _methods.serialize_server_result(
                _METHOD, version, {"tools": [dumped], **_ENVELOPE}
            )["tools"][0]
            # pydantic-core's encoder: compact UTF-8 like the SDK's own, 2x json.dumps.
            cached = (tool, pydantic_core.to_json(shaped))
            self._entries[(version, id(tool))] = cached
        return cached[1]
