"""``fastn-gen doctor``, ``init`` and ``admin``: commands for operators.

Registered on the ``fastn-gen`` group by ``cli.py``; each command parses options and
delegates to :mod:`fastn_gen.ops` or :mod:`fastn_gen.admin`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from fastn_gen.cli_options import config_option, generated_option

EXIT_PROBLEMS = 1
MARKS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
COLOURS = {"ok": "green", "warn": "yellow", "fail": "red"}


@click.command()
@config_option()
@generated_option()
@click.option(
    "--connectors",
    "connectors_dir",
    default="connectors.d",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Connector specs (skipped when the folder does not exist).",
)
@click.option(
    "--store",
    "store_url",
    default=None,
    envvar="FASTN_STORE_URL",
    help="Store: postgresql://... URL or SQLite file (default: <data_dir>/fastn.db).",
)
@click.option(
    "--dns-timeout",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0, max=60, min_open=True),
    help="Seconds to wait for each upstream host's DNS answer.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def doctor(
    config_path: Path,
    generated_dir: Path,
    connectors_dir: Path,
    store_url: str | None,
    dns_timeout: float,
    as_json: bool,
) -> None:
    """Check the tenants file, credentials, upstream DNS, the store and generated/.

    Exits 0 when nothing failed (warnings allowed), 1 when a check failed.
    """
    import logging

    from fastn_gen.ops.doctor import DoctorOptions, run_doctor

    # The checks report problems themselves; the loaders' warnings would repeat them.
    logging.getLogger("fastn_gen").setLevel(logging.ERROR)
    options = DoctorOptions(
        config=config_path,
        generated=generated_dir,
        connectors=connectors_dir if connectors_dir.is_dir() else None,
        store_url=store_url,
        dns_timeout_s=dns_timeout,
    )
    checks = run_doctor(options)
    failed = any(check.status == "fail" for check in checks)
    if as_json:
        doc = [
            {
                "check": check.name,
                "status": check.status,
                "findings": [{"status": f.status, "message": f.message} for f in check.findings],
            }
            for check in checks
        ]
        click.echo(json.dumps({"ok": not failed, "checks": doc}, indent=1))
    else:
        for check in checks:
            mark = click.style(MARKS[check.status], fg=COLOURS[check.status], bold=True)
            click.echo(f"{mark} {check.name}")
            for finding in check.findings:
                colour = COLOURS[finding.status] if finding.status != "ok" else None
                click.echo("       " + click.style(finding.message, fg=colour))
        summary = "problems found" if failed else "ready to serve"
        click.echo(f"\n{summary}: {sum(c.status == 'fail' for c in checks)} failed, "
                   f"{sum(c.status == 'warn' for c in checks)} with warnings, "
                   f"{sum(c.status == 'ok' for c in checks)} ok")  # fmt: skip
    if failed:
        sys.exit(EXIT_PROBLEMS)


@click.command()
@click.argument(
    "directory", default=".", type=click.Path(file_okay=False, path_type=Path), required=False
)
@click.option("--tenant", "tenant_id", default="demo", show_default=True, help="First tenant.")
def init(directory: Path, tenant_id: str) -> None:
    """Start a gateway project in DIRECTORY (default: here): a sample connector,
    tenants.yaml with a fresh API key (shown once), a Makefile and a .gitignore."""
    import re

    from fastn_gen.gateway.tenants_model import TENANT_ID
    from fastn_gen.ops.scaffold import ScaffoldError, scaffold

    if not re.match(TENANT_ID, tenant_id):
        raise click.BadParameter("use lower-case letters, digits, - and _", param_hint="--tenant")
    try:
        made = scaffold(directory, tenant_id)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    for path in made.files:
        click.echo(f"created {path}")
    click.echo(f"\nAPI key of tenant {made.tenant} (shown once, store it now):\n  {made.api_key}")
    steps = [
        (f"cd {directory}", "the new project") if directory != Path(".") else None,
        ("fastn-gen build", "connectors.d -> generated/"),
        ("export GITHUB_TOKEN=...", "the tenant's GitHub token"),
        ("fastn-gen doctor", "check before serving"),
        ("fastn-gen serve", "http://127.0.0.1:8000/mcp"),
    ]
    click.echo("\nNext:")
    for command, why in filter(None, steps):
        click.echo(f"  {command:<34} # {why}")


@click.group()
def admin() -> None:
    """The admin key for /admin and /metrics."""


@admin.command("new-key")
def admin_new_key() -> None:
    """Print a fresh admin key once, and the entry to add under admin.api_keys."""
    from fastn_gen.admin.keys import generate_admin_key

    key, line = generate_admin_key()
    click.echo(f"Admin key (shown once, store it now):\n  {key}")
    click.echo(f"Add to the tenants file:\nadmin:\n  api_keys:\n    {line}")


def register(group: click.Group) -> None:
    for command in (doctor, init, admin):
        group.add_command(command)
