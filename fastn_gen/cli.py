"""The ``fastn-gen`` command line. Each command only parses options and delegates."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from fastn_gen import __version__
from fastn_gen.cli_options import config_option, generated_option

EXIT_STALE = 1
EXIT_INVALID = 2


class _Progress:
    """Progress on stderr: one line per spec file with its operation counts, and on a
    terminal the step under way, rewritten in place (so large builds do not scroll)."""

    def __init__(self, live: bool) -> None:
        self.live = live
        self.pending = False

    def __call__(self, message: str, done: bool) -> None:
        if done:
            self.clear()
            click.echo(f"  {message}", err=True)
        elif self.live:
            click.echo(f"\r\x1b[K  … {message}", err=True, nl=False, color=True)
            self.pending = True

    def clear(self) -> None:
        if self.pending:
            click.echo("\r\x1b[K", err=True, nl=False, color=True)
            self.pending = False


def _progress(quiet: bool) -> _Progress | None:
    return None if quiet else _Progress(live=sys.stderr.isatty())


def _print_issues(issues: list) -> None:  # type: ignore[type-arg]
    click.echo(f"error: {len(issues)} problem(s) in connector specs:", err=True)
    for issue in issues:
        click.echo(f"  {issue}", err=True)


def _print_skips(skipped: list, quiet: bool) -> None:  # type: ignore[type-arg]
    if quiet or not skipped:
        return
    click.echo(f"skipped {len(skipped)} operation(s):", err=True)
    for s in skipped:
        click.echo(f"  {s.connector}: {s.operation}: {s.reason}", err=True)


@click.group()
@click.version_option(__version__, prog_name="fastn-gen")
def main() -> None:
    """Generate and run a multi-tenant MCP gateway from connector specs."""


@main.command()
@click.option(
    "--connectors",
    "connectors_dir",
    default="connectors.d",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Directory of connector specs.",
)
@click.option(
    "--out",
    "out_dir",
    default="generated",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Output directory.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 naming the files that a build would change.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only errors (for CI).")
def build(connectors_dir: Path, out_dir: Path, check: bool, quiet: bool) -> None:
    """Turn connectors.d into typed tool modules, server.py and manifest.json."""
    from fastn_gen.codegen.build import build as run_build

    progress = _progress(quiet)
    started = time.perf_counter()
    try:
        report = run_build(connectors_dir, out_dir, check=check, progress=progress)
    finally:
        if progress:
            progress.clear()
    if report.issues:
        _print_issues(report.issues)
        sys.exit(EXIT_INVALID)
    _print_skips(report.skipped, quiet)
    if check:
        if report.changed:
            click.echo(f"error: {out_dir} is stale; run `fastn-gen build`. Stale files:", err=True)
            for rel in report.changed:
                click.echo(f"  {out_dir / rel}", err=True)
            sys.exit(EXIT_STALE)
        if not quiet:
            click.echo(f"{out_dir} is up to date ({report.tool_count} tools).")
        return
    if not quiet:
        click.echo(
            f"built {report.tool_count} tools from {report.connector_count} connectors "
            f"({len(report.skipped)} skipped) into {out_dir}; {len(report.changed)} file(s) changed"
            f" in {time.perf_counter() - started:.1f} s"
        )


@main.command()
@click.option(
    "--connectors",
    "connectors_dir",
    default="connectors.d",
    show_default=True,
    type=click.Path(path_type=Path),
)
@click.option("--quiet", "-q", is_flag=True)
def validate(connectors_dir: Path, quiet: bool) -> None:
    """Check the connector specs without writing anything."""
    from fastn_gen.codegen.build import validate as run_validate

    progress = _progress(quiet)
    try:
        _, report = run_validate(connectors_dir, progress)
    finally:
        if progress:
            progress.clear()
    if report.issues:
        _print_issues(report.issues)
        sys.exit(EXIT_INVALID)
    _print_skips(report.skipped, quiet)
    if not quiet:
        click.echo(f"ok: {report.connector_count} connectors, {report.tool_count} tools")


@main.command()
@click.option(
    "--connectors",
    "connectors_dir",
    default="connectors.d",
    show_default=True,
    type=click.Path(path_type=Path),
)
@click.option("--connector", "connector_name", default=None, help="Only this connector.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--tenant", "tenant_id", default=None, help="Show what this tenant sees instead.")
@click.option("--key", "key_id", default=None, help="With --tenant: as this API key (its id).")
@config_option("With --tenant: the tenants file.")
@generated_option("With --tenant: the output of `fastn-gen build`.")
def tools(
    connectors_dir: Path,
    connector_name: str | None,
    as_json: bool,
    tenant_id: str | None,
    key_id: str | None,
    config_path: Path,
    generated_dir: Path,
) -> None:
    """List the tools the specs produce, or (--tenant) what a tenant or key sees.

    With --tenant: the tools it may call, the size of its tools/list in bytes and
    estimated tokens, and a warning above the 40 and 128 tool caps of common clients.
    """
    if tenant_id is not None:
        from fastn_gen.cli_toolsets import print_report, tools_report

        print_report(tools_report(config_path, generated_dir, tenant_id, key_id), as_json)
        return
    if key_id is not None:
        raise click.BadParameter("needs --tenant", param_hint="--key")
    from fastn_gen.codegen.build import validate as run_validate
    from fastn_gen.codegen.emit import described_tool

    result, report = run_validate(connectors_dir)
    if report.issues:
        _print_issues(report.issues)
        sys.exit(EXIT_INVALID)
    selected = [
        t
        for c in result.connectors
        if connector_name in (None, c.name)
        for t in sorted(c.tools, key=lambda t: t.name)
    ]
    if connector_name and not any(c.name == connector_name for c in result.connectors):
        raise click.BadParameter(f"no connector named {connector_name!r}", param_hint="--connector")
    if as_json:
        click.echo(json.dumps([described_tool(t) for t in selected], indent=1))
        return
    for t in selected:
        kind = "read" if t.annotations.read_only else "write"
        click.echo(f"{t.name:<64} {kind:<5} {t.method:<6} {t.path}")


def _register_gateway_commands() -> None:
    from fastn_gen.cli_flows import register as register_flows
    from fastn_gen.cli_gateway import register
    from fastn_gen.cli_ops import register as register_ops
    from fastn_gen.cli_store import register as register_store
    from fastn_gen.cli_tenants import register as register_tenants

    register(main)
    register_tenants(main)
    register_ops(main)
    register_flows(main)
    register_store(main)


_register_gateway_commands()


if __name__ == "__main__":
    main()
