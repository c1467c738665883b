"""Entity mappings compiled into ``generated/connectors/<name>.py`` as ``ENTITIES``.

One per common-data-model type a connector maps: which of its tools lists or searches
that type, how a search's query, page size and cursor become the tool's arguments, and
JMESPath expressions (checked at build time) that find the records and the next cursor
in the tool's result and read each field of the entity from a record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class EntityMapping:
    entity_type: str
    tool: str  # full tool name
    records: str  # expression on the tool's result: the list of records
    id: str  # expression on a record: its id in the service
    fields: tuple[tuple[str, str], ...]  # entity field -> expression on a record
    url: str | None = None  # expression on a record: where a person sees it
    query_arg: str | None = None  # None: the gateway filters the listing by the query
    limit_arg: str | None = None
    max_limit: int | None = None  # the tool's own maximum for limit_arg
    cursor_arg: str | None = None
    next_cursor: str | None = None  # expression on the tool's result
    short_page_ends: bool = False  # fewer records than asked for: the last page
    arguments: tuple[tuple[str, Any], ...] = ()  # fixed arguments of every call

    @property
    def searches_upstream(self) -> bool:
        return self.query_arg is not None
