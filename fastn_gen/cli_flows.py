"""``fastn-gen flows``: create, list, show, enable, disable, delete and run a tenant's flows.

Each command opens the gateway's store (``--store``, ``FASTN_STORE_URL`` or the tenants
file's data directory, as ``fastn-gen serve`` does) and acts for one ``--tenant``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from fastn_gen.cli_options import Decorator, config_option, generated_option, store_option

_COMMON: list[Decorator] = [
    click.option("--tenant", "tenant_id", required=True, help="The tenant whose flows these are."),
    config_option(),
    generated_option("Output of `fastn-gen build` (the tools flows may call)."),
    store_option(),
    click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
]


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_COMMON):
        func = option(func)
    return func


def _execute(
    tenant_id: str,
    config_path: Path,
    generated_dir: Path,
    store_url: str | None,
    work: Callable[[Any], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    from fastn_gen.flows.cli_ops import CommandError, tenant_context

    logging.getLogger("fastn_gen").setLevel(logging.WARNING)

    async def main() -> dict[str, Any]:
        async with tenant_context(config_path, generated_dir, store_url, tenant_id) as ctx:
            return await work(ctx)

    try:
        return asyncio.run(main())
    except CommandError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(exc.code) from None


def _time(value: str | None) -> str:
    return value.replace("T", " ")[:19] if value else "-"


def _show_run(run: dict[str, Any]) -> None:
    click.echo(
        f"run {run['run_id']} of {run['flow']} v{run['version']}: {run['status']} "
        f"({run['trigger_type']}, started {_time(run['started_at'])}, "
        f"ended {_time(run['finished_at'])})"
    )
    if run.get("error"):
        click.echo(f"  error: {run['error']}")
    for step in run.get("steps", []):
        name = step["step"] if step["item_index"] is None else f"  [{step['item_index']}]"
        attempts = f" x{step['attempts']}" if step["attempts"] > 1 else ""
        line = f"  {name:<24} {step['tool']:<32} {step['status']}{attempts}"
        if step["error"]:
            line += f": {step['error']}"
        click.echo(line)


def _emit(doc: dict[str, Any], as_json: bool, human: Callable[[dict[str, Any]], None]) -> None:
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        human(doc)


@click.group()
def flows() -> None:
    """A tenant's automation flows (see docs/flows.md)."""


@flows.command("create")
@click.argument("flow_file", type=click.Path(path_type=Path))
@_common
def create_command(flow_file: Path, as_json: bool, **where: Any) -> None:
    """Check FLOW_FILE (YAML or JSON) against the tenant's tools and save it."""
    from fastn_gen.flows import cli_ops

    doc = _execute(**where, work=lambda ctx: cli_ops.create(ctx, flow_file))
    _emit(doc, as_json, lambda d: click.echo(f"saved {d['name']} version {d['version']}"))


@flows.command("list")
@_common
def list_command(as_json: bool, **where: Any) -> None:
    """The tenant's flows, latest version of each."""
    from fastn_gen.flows import cli_ops

    def human(doc: dict[str, Any]) -> None:
        for flow in doc["flows"]:
            state = "enabled" if flow["enabled"] else "disabled"
            due = f", next {_time(flow['next_run_at'])}" if flow["next_run_at"] else ""
            click.echo(
                f"{flow['name']:<32} v{flow['version']:<4} {flow['trigger']['type']:<9} "
                f"{state}{due}"
            )

    _emit(_execute(**where, work=cli_ops.listing), as_json, human)


@flows.command("get")
@click.argument("name")
@click.option("--version", type=int, default=None, help="Default: the latest.")
@_common
def get_command(name: str, version: int | None, as_json: bool, **where: Any) -> None:
    """One flow's specification, versions and recent runs."""
    from fastn_gen.flows import cli_ops

    def human(doc: dict[str, Any]) -> None:
        click.echo(json.dumps(doc["spec"], indent=2, ensure_ascii=False))
        state = "enabled" if doc["enabled"] else "disabled"
        versions = ", ".join(str(v["version"]) for v in doc["versions"])
        click.echo(f"# version {doc['version']} of {versions}; {state}")
        for run in doc["recent_runs"]:
            click.echo(f"# run {run['run_id']} {run['status']} {_time(run['started_at'])}")

    _emit(_execute(**where, work=lambda ctx: cli_ops.show(ctx, name, version)), as_json, human)


def _toggle(name: str, enabled: bool, as_json: bool, where: dict[str, Any]) -> None:
    from fastn_gen.flows import cli_ops

    doc = _execute(**where, work=lambda ctx: cli_ops.enable(ctx, name, enabled))
    _emit(doc, as_json, lambda d: click.echo(f"{d['name']} {'enabled' if enabled else 'disabled'}"))


@flows.command("enable")
@click.argument("name")
@_common
def enable_command(name: str, as_json: bool, **where: Any) -> None:
    """Let the flow's trigger start it again."""
    _toggle(name, True, as_json, where)


@flows.command("disable")
@click.argument("name")
@_common
def disable_command(name: str, as_json: bool, **where: Any) -> None:
    """Stop the flow's trigger from starting it."""
    _toggle(name, False, as_json, where)


@flows.command("delete")
@click.argument("name")
@_common
def delete_command(name: str, as_json: bool, **where: Any) -> None:
    """Delete every version of the flow, with its runs."""
    from fastn_gen.flows import cli_ops

    doc = _execute(**where, work=lambda ctx: cli_ops.delete(ctx, name))
    _emit(doc, as_json, lambda d: click.echo(f"deleted {d['name']}"))


@flows.command("run")
@click.argument("name")
@click.option("--input", "run_input", default=None, help="JSON object: {{ trigger.input }}.")
@_common
def run_command(name: str, run_input: str | None, as_json: bool, **where: Any) -> None:
    """Run the flow now, in this process, and show its steps. Exit 1 if it fails."""
    from fastn_gen.flows import cli_ops

    doc = _execute(**where, work=lambda ctx: cli_ops.run(ctx, name, run_input, 120.0))
    _emit(doc, as_json, _show_run)
    if doc["status"] != "succeeded":
        raise SystemExit(1)


@flows.command("runs")
@click.argument("name", required=False)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--run", "run_id", default=None, help="Show this run with its steps.")
@_common
def runs_command(
    name: str | None, limit: int, run_id: str | None, as_json: bool, **where: Any
) -> None:
    """Recent runs (of one flow, or all), newest first; or one run's steps."""
    from fastn_gen.flows import cli_ops

    def human(doc: dict[str, Any]) -> None:
        if "run" in doc:
            _show_run(doc["run"])
            return
        for run in doc["runs"]:
            error = f": {run['error']}" if run["error"] else ""
            click.echo(
                f"{run['run_id']} {run['flow']:<24} {run['status']:<11} "
                f"{run['trigger_type']:<9} {_time(run['started_at'])}{error}"
            )

    work = lambda ctx: cli_ops.runs(ctx, name, limit, run_id)  # noqa: E731
    _emit(_execute(**where, work=work), as_json, human)


def register(group: click.Group) -> None:
    group.add_command(flows)
