"""Managing the tenant's flows: list, get, enable or disable, delete, and run.

Every tool acts on the authenticated tenant's flows only; a flow of another tenant
answers exactly like one that does not exist.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from fastn_gen.flows.errors import FlowRunError
from fastn_gen.native.base import (
    CallContext,
    NativeInput,
    NativeOutput,
    NativeTool,
    NativeToolError,
)
from fastn_gen.native.flow_spec import FLOW_NAME
from fastn_gen.native.flow_views import (
    FlowRunDetail,
    FlowRunOut,
    FlowSummary,
    flow_summary,
    run_detail,
    run_out,
)
from fastn_gen.store.records import FlowRecord

MAX_WAIT_S = 120.0


def unknown_flow(name: str) -> NativeToolError:
    return NativeToolError(
        f"No flow named {name!r} for this tenant", {"error": "unknown_flow", "flow": name}
    )


class FlowNameInput(NativeInput):
    name: str = Field(pattern=FLOW_NAME, description="The flow's name.")


# -- list -----------------------------------------------------------------------------------


class ListFlowsInput(NativeInput):
    pass


class ListFlowsOutput(NativeOutput):
    tenant_id: str
    flows: list[FlowSummary] = Field(description="The latest version of each flow, by name.")


async def list_flows(ctx: CallContext) -> ListFlowsOutput:
    records = await ctx.services.store.list_flows(ctx.tenant.id)
    return ListFlowsOutput(
        tenant_id=ctx.tenant.id, flows=[flow_summary(r, ctx.now) for r in records]
    )


async def _list(ctx: CallContext, args: ListFlowsInput) -> ListFlowsOutput:
    return await list_flows(ctx)


# -- get ------------------------------------------------------------------------------------


class GetFlowInput(FlowNameInput):
    version: int | None = Field(default=None, ge=1, description="Default: the latest.")
    runs: int = Field(default=5, ge=0, le=50, description="How many recent runs to include.")
    run_id: str | None = Field(
        default=None, max_length=64, description="Include this run with its steps."
    )


class FlowVersionOut(NativeOutput):
    version: int
    created_at: datetime


class GetFlowOutput(FlowSummary):
    tenant_id: str
    spec: dict[str, object] = Field(description="The flow specification of this version.")
    versions: list[FlowVersionOut]
    recent_runs: list[FlowRunOut] = Field(description="Newest first.")
    run: FlowRunDetail | None = Field(description="The run asked for with run_id, with steps.")


async def flow_record(ctx: CallContext, name: str, version: int | None = None) -> FlowRecord:
    record = await ctx.services.store.get_flow(ctx.tenant.id, name, version)
    if record is None:
        raise unknown_flow(name)
    return record


async def get_flow(ctx: CallContext, args: GetFlowInput) -> GetFlowOutput:
    store, tenant = ctx.services.store, ctx.tenant.id
    record = await flow_record(ctx, args.name, args.version)
    versions = await store.list_flow_versions(tenant, args.name)
    runs = await store.list_flow_runs(tenant, args.name, limit=args.runs) if args.runs else []
    detail = None
    if args.run_id is not None:
        run = await store.get_flow_run(tenant, args.run_id)
        if run is None or run.flow_name != args.name:
            raise NativeToolError(
                f"No run {args.run_id!r} of flow {args.name!r}",
                {"error": "unknown_run", "run_id": args.run_id},
            )
        detail = run_detail(run, await store.list_flow_steps(tenant, run.id))
    return GetFlowOutput(
        **flow_summary(record, ctx.now).model_dump(),
        tenant_id=tenant,
        spec=record.spec,
        versions=[FlowVersionOut(version=v.version, created_at=v.created_at) for v in versions],
        recent_runs=[run_out(r) for r in runs],
        run=detail,
    )


# -- enable / disable -------------------------------------------------------------------------


class SetFlowEnabledInput(FlowNameInput):
    enabled: bool = Field(description="false: the flow's trigger no longer starts it.")


class SetFlowEnabledOutput(NativeOutput):
    tenant_id: str
    name: str
    enabled: bool


async def set_flow_enabled(ctx: CallContext, args: SetFlowEnabledInput) -> SetFlowEnabledOutput:
    if not await ctx.services.store.set_flow_enabled(ctx.tenant.id, args.name, args.enabled):
        raise unknown_flow(args.name)
    if ctx.flows is not None:
        ctx.flows.flows_changed()
    return SetFlowEnabledOutput(tenant_id=ctx.tenant.id, name=args.name, enabled=args.enabled)


# -- delete ---------------------------------------------------------------------------------


class DeleteFlowInput(FlowNameInput):
    pass


class DeleteFlowOutput(NativeOutput):
    tenant_id: str
    name: str
    deleted: bool = Field(description="Every version, with the flow's runs and their steps.")


async def delete_flow(ctx: CallContext, args: DeleteFlowInput) -> DeleteFlowOutput:
    if not await ctx.services.store.delete_flow(ctx.tenant.id, args.name):
        raise unknown_flow(args.name)
    if ctx.flows is not None:
        ctx.flows.flows_changed()
    return DeleteFlowOutput(tenant_id=ctx.tenant.id, name=args.name, deleted=True)


# -- run ------------------------------------------------------------------------------------


class RunFlowInput(FlowNameInput):
    input: dict[str, object] = Field(
        default_factory=dict, description="What the steps see as {{ trigger.input }}."
    )
    wait_s: float = Field(
        default=30.0,
        ge=0,
        le=MAX_WAIT_S,
        description="Wait up to this long for the run to end (0: return at once); the "
        "run goes on either way.",
    )


class RunFlowOutput(FlowRunDetail):
    tenant_id: str


async def run_flow(ctx: CallContext, args: RunFlowInput, *, source: str = "mcp") -> RunFlowOutput:
    if ctx.flows is None:
        raise NativeToolError("Flows do not run in this server", {"error": "flows_unavailable"})
    try:
        run = await ctx.flows.run_manual(
            ctx.tenant, args.name, dict(args.input), source=source, wait_s=args.wait_s
        )
    except FlowRunError as exc:
        raise NativeToolError(str(exc), {"error": "flow_not_runnable", "flow": args.name}) from None
    steps = await ctx.services.store.list_flow_steps(ctx.tenant.id, run.id)
    return RunFlowOutput(**run_detail(run, steps).model_dump(), tenant_id=ctx.tenant.id)


async def _run(ctx: CallContext, args: RunFlowInput) -> RunFlowOutput:
    return await run_flow(ctx, args)


LIST_FLOWS = NativeTool(
    name="fastn_list_flows",
    title="List flows",
    description="The tenant's flows (latest version of each): trigger, steps, tools, whether "
    "enabled, and the next due time of scheduled ones.",
    input_model=ListFlowsInput,
    output_model=ListFlowsOutput,
    run=_list,
)

GET_FLOW = NativeTool(
    name="fastn_get_flow",
    title="Get flow",
    description="One flow: its specification (latest or a given version), its versions, "
    "recent runs, and with run_id one run's recorded steps (status, timings, attempts, "
    "redacted outputs, errors).",
    input_model=GetFlowInput,
    output_model=GetFlowOutput,
    run=get_flow,
)

SET_FLOW_ENABLED = NativeTool(
    name="fastn_set_flow_enabled",
    title="Enable or disable flow",
    description="Enable or disable a flow; a disabled flow is not started by its schedule, "
    "by events, or by fastn_run_flow.",
    input_model=SetFlowEnabledInput,
    output_model=SetFlowEnabledOutput,
    run=set_flow_enabled,
    read_only=False,
)

DELETE_FLOW = NativeTool(
    name="fastn_delete_flow",
    title="Delete flow",
    description="Delete a flow: every version, with its runs and their step records.",
    input_model=DeleteFlowInput,
    output_model=DeleteFlowOutput,
    run=delete_flow,
    read_only=False,
    destructive=True,
)

RUN_FLOW = NativeTool(
    name="fastn_run_flow",
    title="Run flow",
    description="Run a flow now, whatever its trigger, with optional input "
    "({{ trigger.input }}). Waits up to wait_s for the end and answers the run with its "
    "steps; each step calls its tool exactly as an MCP client would (same tools, "
    "credentials, quotas and events).",
    input_model=RunFlowInput,
    output_model=RunFlowOutput,
    run=_run,
    read_only=False,
    open_world=True,
)
