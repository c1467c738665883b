"""Toolsets: which of its tools a tenant, or one of its API keys, is shown and may call.

A toolset filters by connector, by operation tag, by access (``read``: read-only tools
only; ``write``: everything but destructive tools; ``all``) and by name globs, and
chooses how tools are presented (``mode: all`` lists them; ``mode: search`` lists the
native tools plus ``fastn_search_tools`` and ``fastn_call_tool`` instead).

A key's toolset narrows its tenant's: the effective toolset is a stack of filters, one
per level, and a tool is visible only if every filter admits it. Filters are resolved
when the tenants file is loaded; a request only looks its view up by a hashable key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

Access = Literal["read", "write", "all"]
Mode = Literal["all", "search"]
ACCESS_ORDER: dict[str, int] = {"read": 0, "write": 1, "all": 2}


@dataclass(frozen=True, slots=True)
class ToolFacts:
    """What a filter looks at: ``connector`` is None for native tools."""

    name: str
    connector: str | None
    tags: tuple[str, ...]
    read_only: bool
    destructive: bool


@dataclass(frozen=True, slots=True)
class ToolFilter:
    """One level's filter (a tenant's or a key's). None means "not restricted"."""

    connectors: frozenset[str] | None = None
    tags: frozenset[str] | None = None
    access: Access = "all"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def admits(self, tool: ToolFacts) -> bool:
        # Connectors and tags select connector tools; native tools have neither.
        if tool.connector is not None:
            if self.connectors is not None and tool.connector not in self.connectors:
                return False
            if self.tags is not None and self.tags.isdisjoint(tool.tags):
                return False
        if self.access == "read" and not tool.read_only:
            return False
        if self.access == "write" and tool.destructive:
            return False
        if self.include and not any(fnmatchcase(tool.name, g) for g in self.include):
            return False
        return not any(fnmatchcase(tool.name, g) for g in self.exclude)


@dataclass(frozen=True, slots=True)
class Toolset:
    """The effective toolset of a request: every filter must admit a tool."""

    filters: tuple[ToolFilter, ...] = ()
    mode: Mode = "all"

    def admits(self, tool: ToolFacts) -> bool:
        return all(f.admits(tool) for f in self.filters)

    @property
    def search(self) -> bool:
        return self.mode == "search"

    def narrowed(self, by: ToolFilter | None, mode: Mode | None) -> Toolset:
        """This toolset narrowed by a key's filter; the key may choose the mode."""
        filters = self.filters if by is None else (*self.filters, by)
        return Toolset(filters, mode or self.mode)


FULL = Toolset()


def tool_filter(
    connectors: Iterable[str] | None = None,
    tags: Iterable[str] | None = None,
    access: Access | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> ToolFilter:
    return ToolFilter(
        connectors=frozenset(connectors) if connectors is not None else None,
        tags=frozenset(tags) if tags is not None else None,
        access=access or "all",
        include=tuple(include),
        exclude=tuple(exclude),
    )
