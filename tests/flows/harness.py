"""A gateway's services in this process: the real catalog, store, executor and runtime.

Flows run exactly as in a served gateway (the same ``Services``, native tools and call
path, real HTTP to the loopback upstreams, a real SQLite file or PostgreSQL schema);
only the MCP transport is left out, so engine tests can look at runs step by step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastn_gen.flows.options import FlowOptions
from fastn_gen.flows.runtime import FlowRuntime
from fastn_gen.gateway.catalog import Catalog
from fastn_gen.gateway.executor import Executor
from fastn_gen.gateway.http_pool import UpstreamOptions
from fastn_gen.gateway.quotas import Clock, utc_now
from fastn_gen.gateway.services import Services
from fastn_gen.gateway.tenancy import Tenant, TenantRegistry
from fastn_gen.native.base import CallContext
from fastn_gen.native.flow_spec import FlowSpec
from fastn_gen.native.flows import CreateFlowInput, create_flow
from fastn_gen.native.registry import NATIVE_NAMES, NativeTools
from fastn_gen.store.records import EventQuery, FlowRun, FlowStepRecord
from tests.flows.world import World

QUICK = FlowOptions(tick_s=0.05, refresh_s=0.0, lease_s=2.0, misfire_s=300.0, shutdown_grace_s=0.5)


@dataclass
class Gateway:
    services: Services
    native: NativeTools
    runtime: FlowRuntime
    registry: TenantRegistry

    def tenant(self, tenant_id: str) -> Tenant:
        tenant = self.registry.get(tenant_id)
        assert tenant is not None
        return tenant

    def context(self, tenant_id: str) -> CallContext:
        return self.native.context(self.tenant(tenant_id))

    async def create(self, tenant_id: str, spec: dict[str, Any]) -> int:
        """Save a flow through fastn_create_flow's own code; returns its version."""
        out = await create_flow(self.context(tenant_id), CreateFlowInput.model_validate(spec))
        return out.version

    async def run(
        self, tenant_id: str, name: str, run_input: dict[str, Any] | None = None
    ) -> FlowRun:
        return await self.runtime.run_manual(
            self.tenant(tenant_id), name, run_input or {}, source="test", wait_s=30
        )

    async def steps(self, run: FlowRun) -> list[FlowStepRecord]:
        return await self.services.store.list_flow_steps(run.tenant_id, run.id)

    async def events(self, tenant_id: str, **query: Any) -> list[Any]:
        await self.services.flush()
        page = await self.services.store.list_events(tenant_id, EventQuery(limit=500, **query))
        return list(page.events)


def spec(
    name: str, *steps: dict[str, Any], trigger: dict[str, Any] | None = None
) -> dict[str, Any]:
    doc = {"name": name, "trigger": trigger or {"type": "manual"}, "steps": list(steps)}
    FlowSpec.model_validate(doc)
    return doc


@asynccontextmanager
async def gateway(
    world: World,
    store_url: str | None = None,
    *,
    clock: Clock = utc_now,
    schedule: bool = False,
    options: FlowOptions = QUICK,
) -> AsyncIterator[Gateway]:
    catalog = Catalog.load(world.generated)
    registry = TenantRegistry.load(
        world.config,
        catalog=catalog.connector_specs(),
        environ=world.tokens,
        tools={*catalog.tools, *NATIVE_NAMES},
    )
    executor = Executor(UpstreamOptions(read_timeout=2.0), environ=world.tokens)
    location = store_url or str(world.root / "data" / "fastn.db")
    services = Services.create(catalog, registry, executor, store_url=location, clock=clock)
    services.schedule_flows = schedule
    native = NativeTools(services)
    native.flows.options = options
    await services.open()
    try:
        yield Gateway(services, native, native.flows, registry)
    finally:
        try:
            await services.aclose()
        finally:
            await executor.aclose()
