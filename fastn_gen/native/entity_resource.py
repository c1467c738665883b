"""``fastn://entities/{type}{?query}``: the first page of an entity search, as a resource.

``fastn://entities/Contact?query=acme`` reads what ``fastn_search_entities`` answers
for ``{"entity_type": "Contact", "query": "acme"}``, with the same upstream calls,
usage and events. Without ``?query`` every entity of the type is listed.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote

import mcp_types as types
from mcp.shared.exceptions import MCPError

from fastn_gen.cdm.models import ENTITY_TYPES
from fastn_gen.cdm.search import SearchRequest
from fastn_gen.native.base import CallContext, NativeToolError
from fastn_gen.native.entities import SearchEntitiesOutput, search_entities

ENTITIES_PREFIX = "fastn://entities/"
MAX_QUERY = 500
ENTITY_TEMPLATE = types.ResourceTemplate(
    uri_template=ENTITIES_PREFIX + "{type}{?query}",
    name="entities",
    title="Entities",
    description=(
        "Common-data-model entities of one type (Contact, Product, Order, Invoice, "
        "InventoryLevel, Fulfillment, Message, Channel) from all of the tenant's "
        "connected services, matching the optional query: the first page of "
        "fastn_search_entities."
    ),
    mime_type="application/json",
)


def _invalid(message: str) -> MCPError:
    return MCPError(code=types.INVALID_PARAMS, message=message)


def parse_entities_uri(uri: str) -> SearchRequest:
    rest = uri[len(ENTITIES_PREFIX) :]
    path, _, query_string = rest.partition("?")
    entity_type = unquote(path)
    if entity_type not in ENTITY_TYPES:
        raise _invalid(f"Unknown resource: {uri}")
    params = parse_qsl(query_string, keep_blank_values=True)
    unknown = sorted({name for name, _ in params if name != "query"})
    if unknown:
        raise _invalid(f"{ENTITIES_PREFIX}{{type}} takes only ?query, not {', '.join(unknown)}")
    query = " ".join(value for _, value in params)
    if len(query) > MAX_QUERY:
        raise _invalid(f"the query is longer than {MAX_QUERY} characters")
    return SearchRequest(entity_type=entity_type, query=query)


async def read_entities(ctx: CallContext, uri: str) -> SearchEntitiesOutput:
    request = parse_entities_uri(uri)
    try:
        return await search_entities(ctx, request)
    except NativeToolError as exc:
        raise _invalid(exc.message) from None
