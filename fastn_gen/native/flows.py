"""``fastn_create_flow``: validate a flow against the tenant's tools and store a version.

The flows engine (:mod:`fastn_gen.flows`) runs stored flows; this tool only accepts a
specification that can run for this tenant (see :mod:`fastn_gen.native.flow_spec`) and
saves it, a new version each time the same name is saved.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from fastn_gen.gateway.tool_views import entry_facts
from fastn_gen.native.base import (
    CallContext,
    NativeInput,
    NativeOutput,
    NativeTool,
    NativeToolError,
)
from fastn_gen.native.flow_spec import FlowSpec, check_flow


class CreateFlowInput(FlowSpec, NativeInput):
    pass


class FlowProblemOut(NativeOutput):
    where: str
    step: str | None
    message: str


class CreateFlowOutput(NativeOutput):
    tenant_id: str
    name: str
    version: int = Field(description="1 for a new flow, previous + 1 otherwise.")
    created_at: datetime
    enabled: bool
    trigger: Literal["manual", "schedule", "event"]
    steps: int
    tools: list[str] = Field(description="The tools the flow calls, in first-use order.")


def _input_model(ctx: CallContext, name: str) -> type[BaseModel] | None:
    native = ctx.native_inputs.get(name)
    if native is not None:
        return native
    entry = ctx.services.catalog.visible(name, ctx.tenant.connected_connectors())
    if entry is None or not ctx.tenant.toolset.admits(entry_facts(entry)):
        return None  # outside the request's toolset: unknown, as for tools/call
    return entry.input_model()


async def create_flow(ctx: CallContext, args: CreateFlowInput) -> CreateFlowOutput:
    """Check ``args`` against the tenant's tools and store it as the flow's next version."""
    spec = FlowSpec.model_validate(args.model_dump(exclude={"tenant_id"}))
    problems = check_flow(
        spec, lambda name: _input_model(ctx, name), set(ctx.tenant.connected_connectors())
    )
    if problems:
        listed = "; ".join(str(p) for p in problems)
        raise NativeToolError(
            f"Invalid flow {spec.name!r}: {listed}",
            {
                "error": "invalid_flow",
                "problems": [
                    FlowProblemOut(where=p.where, step=p.step, message=p.message).model_dump()
                    for p in problems
                ],
            },
        )
    record = await ctx.services.store.save_flow(
        ctx.tenant.id, spec.name, spec.model_dump(mode="json"), at=ctx.now
    )
    if ctx.flows is not None:
        ctx.flows.flows_changed()
    tools = list(dict.fromkeys(step.tool for step in spec.steps))
    return CreateFlowOutput(
        tenant_id=ctx.tenant.id,
        name=record.name,
        version=record.version,
        created_at=record.created_at,
        enabled=record.enabled,
        trigger=spec.trigger.type,
        steps=len(spec.steps),
        tools=tools,
    )


CREATE_FLOW = NativeTool(
    name="fastn_create_flow",
    title="Create flow",
    description=(
        "Validate a flow (a trigger: manual, schedule with cron and timezone, or event such "
        "as integration.failing or tool_call.failed; and steps, each calling one of the "
        "tenant's tools with arguments that may use JMESPath placeholders such as "
        "{{ trigger.input.x }}, {{ steps.<id>.result.x }} or {{ item }}, with optional "
        "condition, for_each, retry and on_failure) and store it as a new version. Problems "
        "are reported by step and field. See fastn_run_flow to run it."
    ),
    input_model=CreateFlowInput,
    output_model=CreateFlowOutput,
    run=create_flow,
    read_only=False,
)
