"""``fastn_search_entities``: search the common data model across the tenant's connectors.

Registered with its final schema. Until connectors map their data to the common data
model, it answers every search with an ``isError`` result saying so: it never invents
results.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from fastn_gen.native.base import (
    CallContext,
    NativeInput,
    NativeOutput,
    NativeTool,
    NativeToolError,
)

EntityType = Literal[
    "Contact",
    "Product",
    "Order",
    "Invoice",
    "InventoryLevel",
    "Fulfillment",
    "Message",
    "Channel",
]
FilterValue = str | int | float | bool


class SearchEntitiesInput(NativeInput):
    entity_type: EntityType = Field(description="The common-data-model type to search.")
    query: str = Field(
        max_length=500, description="Free text matched against the entities' main fields."
    )
    filters: dict[str, FilterValue] | None = Field(
        default=None,
        description='Exact-match filters on common-data-model fields, e.g. {"status": "open"}.',
    )
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(
        default=None, max_length=512, description="next_cursor of the previous page."
    )


class Entity(NativeOutput):
    id: str = Field(description="Stable id: <connector>:<id in that service>.")
    entity_type: EntityType
    connector: str
    source_id: str = Field(description="The id in the connector's own API.")
    data: dict[str, Any] = Field(description="Fields of the common data model for this type.")


class SearchEntitiesOutput(NativeOutput):
    tenant_id: str
    entity_type: EntityType
    items: list[Entity]
    next_cursor: str | None
    searched: list[str] = Field(description="The connectors that were searched.")


async def _run(ctx: CallContext, args: SearchEntitiesInput) -> SearchEntitiesOutput:
    targets = ctx.tenant.connected_connectors()
    raise NativeToolError(
        f"Entity search is not available for this tenant's connectors "
        f"({', '.join(targets) or 'none connected'}): none of them maps its data to the "
        f"common data model ({args.entity_type}) in this gateway yet. Use the connectors' "
        f"own tools instead.",
        {
            "error": "entity_search_unavailable",
            "entity_type": args.entity_type,
            "connectors": targets,
        },
    )


SEARCH_ENTITIES = NativeTool(
    name="fastn_search_entities",
    title="Search entities",
    description=(
        "Search the tenant's connected services for common-data-model entities (Contact, "
        "Product, Order, Invoice, InventoryLevel, Fulfillment, Message, Channel) by text "
        "and filters, with one result shape whichever service they come from."
    ),
    input_model=SearchEntitiesInput,
    output_model=SearchEntitiesOutput,
    run=_run,
    open_world=True,
)
