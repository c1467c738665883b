"""What the ``fastn-gen flows`` commands do, apart from parsing their options.

The commands open the gateway's own services (catalog, tenants, store) and call the
same functions as the native flow tools, for one tenant: a flow saved from a file is
checked exactly as ``fastn_create_flow`` checks it, and ``flows run`` executes the flow
in this process through the gateway's call path (the tenant's credentials, quotas and
events), recording the run in the shared store.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from fastn_gen.gateway.catalog import Catalog, CatalogError
from fastn_gen.gateway.serve_options import Reliability
from fastn_gen.gateway.services import Services, StoreConfigError
from fastn_gen.gateway.tenancy import TenantConfigError, TenantRegistry
from fastn_gen.native.base import CallContext, NativeToolError
from fastn_gen.native.flow_tools import (
    DeleteFlowInput,
    GetFlowInput,
    RunFlowInput,
    SetFlowEnabledInput,
    delete_flow,
    get_flow,
    list_flows,
    run_flow,
    set_flow_enabled,
)
from fastn_gen.native.flow_views import FlowRunOut, run_out
from fastn_gen.native.flows import CreateFlowInput, create_flow
from fastn_gen.native.registry import NATIVE_NAMES, NativeTools
from fastn_gen.store.errors import StoreError

T = TypeVar("T")


class CommandError(Exception):
    """Ends a command with a message; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@asynccontextmanager
async def tenant_context(
    config: Path, generated: Path, store_url: str | None, tenant_id: str
) -> AsyncIterator[CallContext]:
    """The context a native tool call of ``tenant_id`` gets, on this process's services."""
    try:
        catalog = Catalog.load(generated)
        registry = TenantRegistry.load(
            config, catalog=catalog.connector_specs(), tools={*catalog.tools, *NATIVE_NAMES}
        )
    except (CatalogError, TenantConfigError) as exc:
        raise CommandError(str(exc), 2) from None
    tenant = registry.get(tenant_id)
    if tenant is None:
        raise CommandError(f"no tenant {tenant_id!r} in {config}", 2)
    executor = Reliability().executor(None)
    try:
        services = Services.create(catalog, registry, executor, store_url=store_url)
    except StoreConfigError as exc:
        await executor.aclose()
        raise CommandError(str(exc), 2) from None
    services.schedule_flows = False  # the gateway schedules; this process runs one flow
    native = NativeTools(services)
    try:
        await services.open()
        yield native.context(tenant)
    except StoreError as exc:
        raise CommandError(str(exc), 2) from None
    finally:
        try:
            await services.aclose()
        finally:
            await executor.aclose()


def load_flow_file(path: Path) -> dict[str, Any]:
    """A flow from a YAML or JSON file (JSON is YAML)."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}", 2) from None
    except yaml.YAMLError as exc:
        raise CommandError(f"{path}: not YAML or JSON: {exc}", 2) from None
    if not isinstance(doc, dict):
        raise CommandError(f"{path}: a flow is a mapping (name, trigger, steps)", 2)
    return doc


def _problems(exc: NativeToolError) -> str:
    problems = (exc.structured or {}).get("problems")
    if not problems:
        return exc.message
    lines = [exc.message.split(":", 1)[0] + ":"]
    lines += [f"  {p['where']}: {p['message']}" for p in problems]
    return "\n".join(lines)


async def _tool(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except NativeToolError as exc:
        raise CommandError(
            _problems(exc), 2 if exc.structured and "problems" in exc.structured else 1
        ) from None


def _input(model: type[BaseModel], **values: Any) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise CommandError(problems, 2) from None


# -- the commands -----------------------------------------------------------------------------


async def create(ctx: CallContext, path: Path) -> dict[str, Any]:
    doc = load_flow_file(path)
    args = _input(CreateFlowInput, **doc)
    out = await _tool(lambda: create_flow(ctx, args))
    return out.model_dump(mode="json")


async def listing(ctx: CallContext) -> dict[str, Any]:
    return (await list_flows(ctx)).model_dump(mode="json")


async def show(ctx: CallContext, name: str, version: int | None) -> dict[str, Any]:
    args = _input(GetFlowInput, name=name, version=version, runs=5)
    return (await _tool(lambda: get_flow(ctx, args))).model_dump(mode="json")


async def enable(ctx: CallContext, name: str, enabled: bool) -> dict[str, Any]:
    args = _input(SetFlowEnabledInput, name=name, enabled=enabled)
    return (await _tool(lambda: set_flow_enabled(ctx, args))).model_dump(mode="json")


async def delete(ctx: CallContext, name: str) -> dict[str, Any]:
    args = _input(DeleteFlowInput, name=name)
    return (await _tool(lambda: delete_flow(ctx, args))).model_dump(mode="json")


async def run(ctx: CallContext, name: str, run_input: str | None, wait_s: float) -> dict[str, Any]:
    try:
        given = json.loads(run_input) if run_input else {}
    except ValueError as exc:
        raise CommandError(f"--input is not JSON: {exc}", 2) from None
    args = _input(RunFlowInput, name=name, input=given, wait_s=wait_s)
    out = await _tool(lambda: run_flow(ctx, args, source="cli"))
    if out.status == "running" and ctx.flows is not None:
        # This process is the run's home: it must end before the process does.
        await ctx.flows.wait(out.run_id, 86_400)
        refreshed = await _tool(
            lambda: get_flow(ctx, GetFlowInput(name=name, runs=0, run_id=out.run_id))
        )
        assert refreshed.run is not None
        return refreshed.run.model_dump(mode="json")
    return out.model_dump(mode="json")


async def runs(
    ctx: CallContext, name: str | None, limit: int, run_id: str | None
) -> dict[str, Any]:
    store, tenant = ctx.services.store, ctx.tenant.id
    if run_id is not None:
        found = await store.get_flow_run(tenant, run_id)
        if found is None or (name is not None and found.flow_name != name):
            raise CommandError(f"no run {run_id!r} for this tenant")
        args = GetFlowInput(name=found.flow_name, runs=0, run_id=run_id)
        detail = await _tool(lambda: get_flow(ctx, args))
        assert detail.run is not None
        return {"run": detail.run.model_dump(mode="json")}
    if name is not None and await store.get_flow(tenant, name) is None:
        raise CommandError(f"No flow named {name!r} for this tenant")
    listed: list[FlowRunOut] = [
        run_out(r) for r in await store.list_flow_runs(tenant, name, limit=limit)
    ]
    return {"runs": [r.model_dump(mode="json") for r in listed]}
