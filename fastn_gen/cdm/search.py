"""Entity search across a tenant's connections: fan out, map, rank, merge, paginate.

Every connector the tenant has connected whose generated module maps the entity type
(``ENTITIES``) is a source; a connector the tenant has connected several times (several
accounts, :mod:`fastn_gen.gateway.accounts`) is one source per account, each called with
its own connection's credentials and labelled ``<connector>:<account>``. Each page asks
every unfinished source for one page at once, through :class:`ConnectorCalls` like any
tool call (validated, counted against the tenant's quotas, recorded as an event), and
waits at most the per-source timeout (``FASTN_ENTITY_SOURCE_TIMEOUT_S``, 10 s by
default). A source that fails, is refused or does not answer in time is reported beside
the results of the others and is left out of the following pages; a call still running
at the deadline finishes in the background, so its event and usage are still recorded.

Ranking (:mod:`fastn_gen.cdm.ranking`) orders each source's page by score, then by its
position in the upstream answer; the page merges them by score, then source label,
then position, and takes the first ``limit``. What each source contributed is always a
prefix of its ranked page, so the cursor (:mod:`fastn_gen.cdm.cursor`) can record how
far each one got: no entity is returned twice or skipped while the upstreams answer
the same.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mcp_types as types

from fastn_gen.cdm.cursor import CursorError, SearchCursor, SourceState, decode, encode
from fastn_gen.cdm.cursor import fingerprint as search_fingerprint
from fastn_gen.cdm.mapping import MappingError, map_result
from fastn_gen.cdm.models import ENTITY_MODELS, Entity
from fastn_gen.cdm.ranking import FilterValue, filter_problem, matches_filters, score
from fastn_gen.gateway.catalog import Catalog, ToolEntry
from fastn_gen.gateway.outcome import ToolOutcome
from fastn_gen.gateway.services import Services
from fastn_gen.gateway.tenancy import Connection, Tenant
from fastn_gen.gateway.tool_views import entry_facts
from fastn_gen.runtime.entities import EntityMapping

logger = logging.getLogger(__name__)

SOURCE_TIMEOUT_ENV = "FASTN_ENTITY_SOURCE_TIMEOUT_S"
DEFAULT_SOURCE_TIMEOUT_S = 10.0
# Listings are matched by the gateway, so each upstream page should hold enough to match.
LISTING_PAGE_SIZE = 100
CONNECTOR_FILTER = "source.connector"

# Calls still running when their search gave up on them; kept so they can finish.
_LINGERING: set[asyncio.Task[Any]] = set()


class SearchRefused(Exception):
    """The search cannot run as asked (a bad filter or cursor, nothing maps the type)."""

    def __init__(self, message: str, structured: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.structured = structured


@dataclass(frozen=True, slots=True)
class SearchRequest:
    entity_type: str
    query: str = ""
    filters: Mapping[str, FilterValue] | None = None
    limit: int = 20
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    connector: str
    mapping: EntityMapping
    entry: ToolEntry
    connection: Connection
    account: str | None = None  # set when the tenant has several accounts of the connector

    @property
    def key(self) -> str:
        """The source's label in ``searched`` and its key in the cursor."""
        return self.connector if self.account is None else f"{self.connector}:{self.account}"


@dataclass(frozen=True, slots=True)
class Hit:
    entity: Entity
    score: float
    connector: str
    position: int  # in the source's ranked page
    account: str | None = None

    @property
    def key(self) -> str:
        return self.connector if self.account is None else f"{self.connector}:{self.account}"


@dataclass(frozen=True, slots=True)
class SourceFailure:
    connector: str
    error: str  # a short kind: timeout, http_status, quota_exceeded, needs_query...
    message: str
    account: str | None = None


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[Hit]
    errors: list[SourceFailure]
    searched: list[str]
    next_cursor: str | None


def source_timeout(environ: Mapping[str, str] | None = None) -> float:
    raw = (os.environ if environ is None else environ).get(SOURCE_TIMEOUT_ENV)
    try:
        value = float(raw) if raw else DEFAULT_SOURCE_TIMEOUT_S
    except ValueError:
        return DEFAULT_SOURCE_TIMEOUT_S
    return value if value > 0 else DEFAULT_SOURCE_TIMEOUT_S


def entity_mappings(catalog: Catalog, connector: str) -> Mapping[str, EntityMapping]:
    entry = catalog.connectors.get(connector)
    found = getattr(entry.module, "ENTITIES", None) if entry is not None else None
    return found if isinstance(found, dict) else {}


def _accounts(tenant: Tenant, connector: str) -> list[tuple[Connection, str | None]]:
    """The connections to search for ``connector``: its only one (unlabelled), or each
    of several, labelled with its name."""
    several = sorted(
        (c for c in tenant.connections.values() if c.connector == connector),
        key=lambda c: c.name,
    )
    if len(several) > 1:
        return [(c, c.name) for c in several]
    connection = tenant.connection_for(connector)
    return [(connection, None)] if connection is not None else []


def mapped_sources(catalog: Catalog, tenant: Tenant, entity_type: str) -> list[Source]:
    """The tenant's connections whose connector maps ``entity_type`` to a tool its
    toolset admits, by connector name, then account."""
    sources = []
    for connector in tenant.connected_connectors():
        mapping = entity_mappings(catalog, connector).get(entity_type)
        entry = catalog.tools.get(mapping.tool) if mapping is not None else None
        if entry is not None and not tenant.toolset.admits(entry_facts(entry)):
            continue  # the request's toolset hides the tool the mapping calls
        if mapping is None or entry is None:
            continue
        for connection, account in _accounts(tenant, connector):
            sources.append(Source(connector, mapping, entry, connection, account))
    return sources


def page_size(mapping: EntityMapping, limit: int) -> int | None:
    """The upstream page size: the search's limit when the service searches and can be
    paged; a full page when the gateway matches the records, or when one page is all a
    source without a cursor can give."""
    if mapping.limit_arg is None:
        return None
    paged_search = mapping.searches_upstream and mapping.cursor_arg is not None
    wanted = limit if paged_search else max(limit, LISTING_PAGE_SIZE)
    return min(wanted, mapping.max_limit) if mapping.max_limit else wanted


def _arguments(source: Source, query: str, state: SourceState) -> dict[str, Any] | None:
    """The tool's arguments for this page; None when the tool cannot run without a query."""
    mapping = source.mapping
    arguments: dict[str, Any] = dict(mapping.arguments)
    if mapping.query_arg is not None:
        if query:
            arguments[mapping.query_arg] = query
        elif mapping.query_arg in (source.entry.input_schema.get("required") or ()):
            return None
    if mapping.limit_arg is not None and state.page_size is not None:
        arguments[mapping.limit_arg] = state.page_size
    if mapping.cursor_arg is not None and state.cursor is not None:
        arguments[mapping.cursor_arg] = state.cursor
    return arguments


def _failure(
    source: Source, result: types.CallToolResult, outcome: ToolOutcome | None
) -> SourceFailure:
    structured = result.structured_content
    kind = structured.get("error") if isinstance(structured, dict) else None
    if not isinstance(kind, str):
        kind = (outcome.error if outcome is not None else None) or "invalid_arguments"
    block = result.content[0] if result.content else None
    message = block.text if isinstance(block, types.TextContent) else f"{source.key} failed"
    return SourceFailure(source.connector, kind, message, source.account)


def _ranked(hits: list[Hit]) -> list[Hit]:
    ordered = sorted(enumerate(hits), key=lambda p: (-p[1].score, p[0]))
    return [
        Hit(h.entity, h.score, h.connector, rank, h.account) for rank, (_, h) in enumerate(ordered)
    ]


@dataclass(frozen=True, slots=True)
class _Fetched:
    hits: list[Hit]  # ranked, before the offset is applied
    next_cursor: str | int | float | None


class EntitySearch:
    def __init__(self, services: Services, environ: Mapping[str, str] | None = None) -> None:
        self.services = services
        self.environ = environ

    def _check(self, request: SearchRequest) -> None:
        model = ENTITY_MODELS[request.entity_type]
        for path in request.filters or {}:
            problem = filter_problem(model, path)
            if problem:
                raise SearchRefused(problem, {"error": "unknown_filter", "filter": path})

    def _start(self, request: SearchRequest, sources: Sequence[Source]) -> SearchCursor:
        fp = search_fingerprint(request.entity_type, request.query, request.filters)
        if request.cursor is None:
            return SearchCursor(
                fp,
                {s.key: SourceState(None, 0, page_size(s.mapping, request.limit)) for s in sources},
            )
        try:
            return decode(request.cursor, fp)
        except CursorError as exc:
            raise SearchRefused(f"Invalid cursor: {exc}", {"error": "invalid_cursor"}) from None

    async def search(self, tenant: Tenant, request: SearchRequest) -> SearchPage:
        self._check(request)
        sources = mapped_sources(self.services.catalog, tenant, request.entity_type)
        wanted = (request.filters or {}).get(CONNECTOR_FILTER)
        if wanted is not None:
            sources = [s for s in sources if s.connector == str(wanted)]
        if not sources and request.cursor is None and wanted is None:
            connected = tenant.connected_connectors()
            raise SearchRefused(
                "Entity search is not available for this tenant's connectors "
                f"({', '.join(connected) or 'none connected'}): none of them maps "
                f"{request.entity_type} to the common data model. Use the connectors' own "
                "tools instead.",
                {
                    "error": "entity_search_unavailable",
                    "entity_type": request.entity_type,
                    "connectors": connected,
                },
            )
        state = self._start(request, sources)
        pending = [s for s in sources if s.key in state.sources]
        fetched, failures = await self._fetch(tenant, request, pending, state)
        return self._merge(request, state, fetched, failures, [s.key for s in pending])

    async def _fetch(
        self,
        tenant: Tenant,
        request: SearchRequest,
        sources: Sequence[Source],
        state: SearchCursor,
    ) -> tuple[dict[str, _Fetched], list[SourceFailure]]:
        failures: list[SourceFailure] = []
        calls: dict[asyncio.Task[tuple[types.CallToolResult, ToolOutcome | None]], Source] = {}
        for source in sources:
            arguments = _arguments(source, request.query, state.sources[source.key])
            if arguments is None:
                failures.append(
                    SourceFailure(
                        source.connector,
                        "needs_query",
                        f"{source.connector} searches {request.entity_type} only with a query",
                        source.account,
                    )
                )
                continue
            task = asyncio.get_running_loop().create_task(
                self.services.calls.call(tenant, source.entry, source.connection, arguments)
            )
            calls[task] = source
        timeout = source_timeout(self.environ)
        done: set[asyncio.Task[Any]] = set()
        if calls:
            done, late = await asyncio.wait(calls, timeout=timeout)
            for task in late:
                late_source = calls[task]
                failures.append(
                    SourceFailure(
                        late_source.connector,
                        "timeout",
                        f"{late_source.key} did not answer within {timeout:g} s",
                        late_source.account,
                    )
                )
                _LINGERING.add(task)
                task.add_done_callback(_finished_late)
        fetched: dict[str, _Fetched] = {}
        for task in done:
            source = calls[task]
            try:
                result, outcome = task.result()
            except Exception:
                # The call path reports upstream failures as results; this is a bug, and
                # must not take the other sources' results down with it.
                logger.exception("entity search call to %s failed", source.key)
                failures.append(
                    SourceFailure(source.connector, "internal", "internal error", source.account)
                )
                continue
            if result.is_error or not isinstance(result.structured_content, dict):
                failure = _failure(source, result, outcome)
                if not result.is_error:
                    failure = SourceFailure(
                        source.connector,
                        "unexpected_response",
                        "the answer was not JSON",
                        source.account,
                    )
                failures.append(failure)
                continue
            try:
                fetched[source.key] = self._hits(request, source, result.structured_content, state)
            except MappingError as exc:
                failures.append(
                    SourceFailure(source.connector, "mapping", str(exc), source.account)
                )
        return fetched, failures

    def _hits(
        self,
        request: SearchRequest,
        source: Source,
        result: Mapping[str, Any],
        state: SearchCursor,
    ) -> _Fetched:
        size = state.sources[source.key].page_size
        page = map_result(
            source.mapping, source.connector, result, source.connection.variables, size
        )
        filters = {k: v for k, v in (request.filters or {}).items() if k != CONNECTOR_FILTER}
        hits = []
        for entity in page.entities:
            if not matches_filters(entity, filters):
                continue
            relevance = score(entity, request.query)
            # A listing is matched here; a search upstream already chose its results.
            if request.query.strip() and relevance == 0 and not source.mapping.searches_upstream:
                continue
            hits.append(Hit(entity, relevance, source.connector, 0, source.account))
        return _Fetched(_ranked(hits), page.next_cursor)

    def _merge(
        self,
        request: SearchRequest,
        state: SearchCursor,
        fetched: Mapping[str, _Fetched],
        failures: list[SourceFailure],
        searched: list[str],
    ) -> SearchPage:
        remaining = [
            hit for key, page in fetched.items() for hit in page.hits[state.sources[key].offset :]
        ]
        remaining.sort(key=lambda h: (-h.score, h.key, h.position))
        taken = remaining[: request.limit]
        following: dict[str, SourceState] = {}
        for key, page in fetched.items():
            before = state.sources[key]
            used = before.offset + sum(1 for h in taken if h.key == key)
            if used < len(page.hits):
                following[key] = SourceState(before.cursor, used, before.page_size)
            elif page.next_cursor is not None:
                following[key] = SourceState(page.next_cursor, 0, before.page_size)
        next_cursor = encode(SearchCursor(state.fingerprint, following)) if following else None
        return SearchPage(
            hits=taken,
            errors=sorted(failures, key=lambda f: (f.connector, f.account or "")),
            searched=sorted(searched),
            next_cursor=next_cursor,
        )


def _finished_late(task: asyncio.Task[Any]) -> None:
    _LINGERING.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("an entity search call failed after its deadline", exc_info=task.exception())
