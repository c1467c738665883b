"""``fastn_search_entities``: search the common data model across the tenant's connectors.

Every connected connector that maps the type is searched at once, each account of a
connector connected several times as its own source (see :mod:`fastn_gen.cdm.search`);
results come back in one shape whichever service they come from, ranked by relevance to
the query, with each failing source reported beside the others' results.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from fastn_gen.cdm.models import (
    Channel,
    Contact,
    EntityType,
    Fulfillment,
    InventoryLevel,
    Invoice,
    Message,
    Order,
    Product,
)
from fastn_gen.cdm.search import EntitySearch, SearchPage, SearchRefused, SearchRequest
from fastn_gen.native.base import (
    CallContext,
    NativeInput,
    NativeOutput,
    NativeTool,
    NativeToolError,
)

FilterValue = str | int | float | bool
MAX_CURSOR = 4096
AnyEntity = Annotated[
    Contact | Product | Order | Invoice | InventoryLevel | Fulfillment | Message | Channel,
    Field(description="The entity in the common data model: the schema of its entity_type."),
]


class SearchEntitiesInput(NativeInput):
    entity_type: EntityType = Field(description="The common-data-model type to search.")
    query: str = Field(
        default="",
        max_length=500,
        description="Free text matched against the entities' main fields; empty lists all.",
    )
    filters: dict[str, FilterValue] | None = Field(
        default=None,
        description=(
            "Exact-match filters on the entity's fields, by dotted path, e.g. "
            '{"status": "open", "total.currency": "USD", "source.connector": "shopify"}.'
        ),
    )
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(
        default=None, max_length=MAX_CURSOR, description="next_cursor of the previous page."
    )


# Present only for a connector the tenant has connected several times, so a tenant with
# one connection per connector sees the output it always had.
ACCOUNT_DESCRIPTION = "The connection (account) searched, when the tenant has several to it."


def _absent(value: str | None) -> bool:
    return value is None


class EntityHit(NativeOutput):
    id: str = Field(
        description="Stable id: <connector>:<id in that service>, or "
        "<connector>:<account>:<id in that service> when account is set."
    )
    entity_type: EntityType
    connector: str
    account: str | None = Field(default=None, exclude_if=_absent, description=ACCOUNT_DESCRIPTION)
    source_id: str = Field(description="The id in the connector's own API.")
    score: float = Field(ge=0, le=1, description="Relevance to the query (docs/cdm.md).")
    data: AnyEntity


class SourceError(NativeOutput):
    connector: str
    account: str | None = Field(default=None, exclude_if=_absent, description=ACCOUNT_DESCRIPTION)
    error: str = Field(
        description="Kind: timeout, http_status, upstream_error, quota_exceeded, "
        "rate_limited, needs_query, mapping, ..."
    )
    message: str = Field(description="What went wrong, without credentials.")


class SearchEntitiesOutput(NativeOutput):
    tenant_id: str
    entity_type: EntityType
    items: list[EntityHit]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: done.")
    searched: list[str] = Field(
        description="The sources searched for this page: connector names, and "
        "<connector>:<account> for each account of a connector connected several times."
    )
    errors: list[SourceError] = Field(
        description="Sources that failed on this page; they are left out of later pages."
    )


def search_output(tenant_id: str, entity_type: str, page: SearchPage) -> SearchEntitiesOutput:
    return SearchEntitiesOutput(
        tenant_id=tenant_id,
        entity_type=entity_type,  # type: ignore[arg-type]
        items=[
            EntityHit(
                id=f"{hit.key}:{hit.entity.source.remote_id}",
                entity_type=entity_type,  # type: ignore[arg-type]
                connector=hit.connector,
                account=hit.account,
                source_id=hit.entity.source.remote_id,
                score=hit.score,
                data=hit.entity,  # type: ignore[arg-type]
            )
            for hit in page.hits
        ],
        next_cursor=page.next_cursor,
        searched=page.searched,
        errors=[
            SourceError(connector=f.connector, account=f.account, error=f.error, message=f.message)
            for f in page.errors
        ],
    )


async def search_entities(ctx: CallContext, request: SearchRequest) -> SearchEntitiesOutput:
    try:
        page = await EntitySearch(ctx.services).search(ctx.tenant, request)
    except SearchRefused as exc:
        raise NativeToolError(exc.message, exc.structured) from None
    return search_output(ctx.tenant.id, request.entity_type, page)


async def _run(ctx: CallContext, args: SearchEntitiesInput) -> SearchEntitiesOutput:
    request = SearchRequest(
        entity_type=args.entity_type,
        query=args.query,
        filters=args.filters,
        limit=args.limit,
        cursor=args.cursor,
    )
    return await search_entities(ctx, request)


SEARCH_ENTITIES = NativeTool(
    name="fastn_search_entities",
    title="Search entities",
    description=(
        "Search the tenant's connected services for common-data-model entities (Contact, "
        "Product, Order, Invoice, InventoryLevel, Fulfillment, Message, Channel) by text "
        "and filters, with one result shape whichever service they come from. Results "
        "are ranked by relevance; services that fail are listed in errors. A service "
        "connected through several accounts is searched in each of them."
    ),
    input_model=SearchEntitiesInput,
    output_model=SearchEntitiesOutput,
    run=_run,
    open_world=True,
)
