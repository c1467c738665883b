"""``fastn-gen store ...``: maintenance of the gateway's store.

``store prune`` applies retention by hand (the HTTP gateway also does it in the
background, see ``serve --retention-days``). The store is ``--store URL``, else
``FASTN_STORE_URL``, else ``<data_dir>/fastn.db`` of ``--config``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from fastn_gen.cli_options import config_option, store_option
from fastn_gen.cli_tenants import run_with_store


@click.group()
def store() -> None:
    """Maintenance of the gateway's store (events, usage, flow runs)."""


@store.command("prune")
@click.option(
    "--older-than",
    "days",
    required=True,
    type=click.IntRange(min=0),
    help="Delete events, usage counters of ended periods and finished flow runs older "
    "than this many days (the current month's and minute's counters always stay).",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option(
    "--batch-size",
    default=5000,
    show_default=True,
    type=click.IntRange(min=1, max=100_000),
    help="Rows per transaction.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option("Tenants file: its data directory holds the default store.")
@store_option()
def prune(
    days: int,
    dry_run: bool,
    batch_size: int,
    as_json: bool,
    config_path: Path,
    store_url: str | None,
) -> None:
    """Delete (or with --dry-run count) rows older than --older-than days."""
    cutoff = datetime.now(UTC) - timedelta(days=days)

    async def work(opened: Any, _: Any) -> Any:
        return await opened.prune_older_than(cutoff, batch_size=batch_size, dry_run=dry_run)

    counts = run_with_store(config_path, store_url, work)
    if as_json:
        body = {"cutoff": cutoff.isoformat(), "dry_run": dry_run, **counts.as_dict()}
        click.echo(json.dumps(body, indent=1))
        return
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{verb} {counts.events} events, {counts.usage} usage counters, "
        f"{counts.flow_runs} flow runs ({counts.flow_steps} steps) "
        f"older than {cutoff.isoformat(timespec='seconds')}"
    )


def register(group: click.Group) -> None:
    group.add_command(store)
