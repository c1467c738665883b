"""MCP resources of the current tenant, as JSON.

- ``fastn://integrations``: the tenant's integrations with their health;
- ``fastn://integrations/{connector}``: one integration's status (template);
- ``fastn://events/recent``: the latest events;
- ``fastn://usage``: usage against every limit;
- ``fastn://entities/{type}{?query}``: the first page of an entity search (template).

Every read is answered for the authenticated tenant only; a URI naming a connector the
tenant has not connected fails exactly like one that does not exist, so a tenant
cannot learn what other tenants have connected.
"""

from __future__ import annotations

import json

import mcp_types as types
from mcp.shared.exceptions import MCPError

from fastn_gen.gateway.tenancy import Tenant
from fastn_gen.native.base import NativeOutput, NativeToolError
from fastn_gen.native.entity_resource import ENTITIES_PREFIX, ENTITY_TEMPLATE, read_entities
from fastn_gen.native.events import event_history
from fastn_gen.native.integrations import integration_detail, list_integrations
from fastn_gen.native.registry import NativeTools
from fastn_gen.native.usage import usage_summary
from fastn_gen.store.records import EventQuery

JSON = "application/json"
INTEGRATIONS = "fastn://integrations"
INTEGRATION_PREFIX = "fastn://integrations/"
INTEGRATION_TEMPLATE = "fastn://integrations/{connector}"
RECENT_EVENTS = "fastn://events/recent"
USAGE = "fastn://usage"
RECENT_EVENTS_LIMIT = 50


def unknown_resource(uri: str) -> MCPError:
    return MCPError(code=types.INVALID_PARAMS, message=f"Unknown resource: {uri}")


def _static() -> list[types.Resource]:
    return [
        types.Resource(
            uri=INTEGRATIONS,
            name="integrations",
            title="Integrations",
            description="The tenant's integrations with their health.",
            mime_type=JSON,
        ),
        types.Resource(
            uri=RECENT_EVENTS,
            name="recent-events",
            title="Recent events",
            description=f"The tenant's latest {RECENT_EVENTS_LIMIT} events, newest first.",
            mime_type=JSON,
        ),
        types.Resource(
            uri=USAGE,
            name="usage",
            title="Usage",
            description="Usage in the current period against every limit of the plan.",
            mime_type=JSON,
        ),
    ]


class TenantResources:
    def __init__(self, native: NativeTools) -> None:
        self.native = native

    def list(self, tenant: Tenant) -> types.ListResourcesResult:
        per_integration = [
            types.Resource(
                uri=INTEGRATION_PREFIX + connector,
                name=f"integration-{connector}",
                title=f"Integration: {self._title(connector)}",
                description=f"Status of the {connector} integration.",
                mime_type=JSON,
            )
            for connector in tenant.connected_connectors()
        ]
        return types.ListResourcesResult(resources=_static() + per_integration)

    @staticmethod
    def templates() -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    uri_template=INTEGRATION_TEMPLATE,
                    name="integration",
                    title="Integration status",
                    description="Status of one of the tenant's integrations, by connector name.",
                    mime_type=JSON,
                ),
                ENTITY_TEMPLATE,
            ]
        )

    def _title(self, connector: str) -> str:
        entry = self.native.services.catalog.connectors.get(connector)
        return entry.spec.title if entry is not None else connector

    async def read(self, tenant: Tenant, uri: str) -> types.ReadResourceResult:
        ctx = self.native.context(tenant)
        document: NativeOutput
        if uri == INTEGRATIONS:
            document = await list_integrations(ctx)
        elif uri == RECENT_EVENTS:
            document = await event_history(ctx, EventQuery(limit=RECENT_EVENTS_LIMIT))
        elif uri == USAGE:
            document = await usage_summary(ctx)
        elif uri.startswith(INTEGRATION_PREFIX):
            connector = uri[len(INTEGRATION_PREFIX) :]
            if connector not in tenant.connected_connectors():
                raise unknown_resource(uri)
            try:
                document = await integration_detail(ctx, connector)
            except NativeToolError:
                raise unknown_resource(uri) from None
        elif uri.startswith(ENTITIES_PREFIX):
            document = await read_entities(ctx, uri)
        else:
            raise unknown_resource(uri)
        text = json.dumps(document.model_dump(mode="json"), ensure_ascii=False)
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type=JSON, text=text)]
        )
