"""``fastn-gen tenants ...``: tenants, API keys and connections kept in the store.

For deployments with more tenants than a tenants file holds comfortably (see
docs/tenants.md, "Tenants in the store"). The store is ``--store URL``, else
``FASTN_STORE_URL``, else ``<data_dir>/fastn.db`` of ``--config``. Each command
parses options and delegates to ``fastn_gen.gateway.tenants_admin``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from fastn_gen.cli_options import config_option, generated_option, store_option

T = TypeVar("T")

_CONFIG = config_option("Tenants file: plans and data directory (its own tenants are not used).")
_STORE = store_option()
_GENERATED = generated_option(
    "Output of `fastn-gen build`, to check connector names, credentials, variables."
)


def _toolset_options(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--toolset TEXT`` and ``--toolset-file FILE``: a toolset as in the tenants file."""

    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "--toolset-file",
            "toolset_file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            default=None,
            help=f"{what}: a YAML or JSON file holding the toolset.",
        )(command)
        return click.option(
            "--toolset",
            "toolset_text",
            default=None,
            metavar="JSON|YAML",
            help=f"{what}, inline, e.g. '{{connectors: [slack], access: read}}'.",
        )(command)

    return apply


def _read_toolset(text: str | None, file: Path | None) -> dict[str, Any] | None:
    from fastn_gen.gateway.tenants_admin import TenantCommandError
    from fastn_gen.gateway.toolset_admin import read_toolset

    try:
        return read_toolset(text, file)
    except TenantCommandError as exc:
        raise click.UsageError(str(exc)) from None


def _base_registry(config_path: Path) -> Any:
    """The tenants file's plans and data directory; an empty registry if there is none."""
    from fastn_gen.gateway.tenancy import TenantRegistry

    if config_path.exists():
        return TenantRegistry.load(config_path)
    return TenantRegistry.from_text("version: 1\ntenants: []\n", base_dir=Path.cwd())


def _catalog(generated_dir: Path) -> Any:
    from fastn_gen.gateway.catalog import Catalog

    if not (generated_dir / "manifest.json").exists():
        click.echo(f"note: no {generated_dir}; connector names are not checked", err=True)
        return None
    return Catalog.load(generated_dir).connector_specs()


def run_with_store(
    config_path: Path, store_url: str | None, work: Callable[[Any, Any], Awaitable[T]]
) -> T:
    """Open the store, run ``work(store, base registry)``, close it; errors as messages."""
    from fastn_gen.gateway.services import StoreConfigError, store_location
    from fastn_gen.gateway.tenancy import TenantConfigError
    from fastn_gen.gateway.tenants_admin import TenantCommandError
    from fastn_gen.store.errors import StoreError
    from fastn_gen.store.factory import open_store

    logging.getLogger("fastn_gen").setLevel(logging.WARNING)

    async def main() -> T:
        registry = _base_registry(config_path)
        location = store_location(registry, store_url)
        store = await open_store(location, data_dir=registry.data_dir)
        try:
            return await work(store, registry)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except (TenantCommandError, TenantConfigError, StoreConfigError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def tenants() -> None:
    """Tenants, API keys and connections kept in the store (for very many tenants)."""


@tenants.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_STORE
@_GENERATED
def import_command(file: Path, store_url: str | None, generated_dir: Path) -> None:
    """Copy FILE's tenants, key hashes and connections into the store.

    Each tenant's connections become exactly those of FILE; keys are added (a key
    already in the store keeps its revocation); nothing else is removed.
    """
    from fastn_gen.gateway.tenancy import TenantRegistry
    from fastn_gen.gateway.tenants_admin import import_file

    catalog = _catalog(generated_dir)
    try:
        source = TenantRegistry.load(file, catalog=catalog)
    except Exception as exc:  # TenantConfigError lists every problem
        raise click.ClickException(str(exc)) from None
    done = run_with_store(file, store_url, lambda store, _: import_file(store, file, source))
    click.echo(
        f"imported {len(source)} tenant(s): {done.tenants_created} new, "
        f"{done.tenants_updated} updated; {done.keys_added} key(s) added; "
        f"{done.connections_written} connection(s) written, {done.connections_removed} removed"
    )


@tenants.command("add")
@click.argument("tenant_id")
@click.option("--plan", default="default", show_default=True)
@click.option("--display-name", default=None)
@click.option("--no-key", is_flag=True, help="Do not create an API key now.")
@_toolset_options("The tenant's toolset")
@_CONFIG
@_STORE
def add_command(
    tenant_id: str,
    plan: str,
    display_name: str | None,
    no_key: bool,
    toolset_text: str | None,
    toolset_file: Path | None,
    config_path: Path,
    store_url: str | None,
) -> None:
    """Create TENANT_ID and print its first API key (shown once)."""
    from fastn_gen.gateway.tenants_admin import add_tenant

    toolset = _read_toolset(toolset_text, toolset_file)
    made = run_with_store(
        config_path,
        store_url,
        lambda store, reg: add_tenant(
            store,
            tenant_id,
            plan=plan,
            display_name=display_name,
            plans=reg.plans,
            with_key=not no_key,
            toolset=toolset,
        ),
    )
    click.echo(f"tenant {tenant_id} added (plan {plan})")
    if made is not None:
        click.echo(f"API key (shown once, store it now):\n  {made.key}")


@tenants.command("new-key")
@click.argument("tenant_id")
@click.option("--label", default=None)
@_toolset_options("The key's toolset (narrows the tenant's)")
@_CONFIG
@_STORE
def new_key_command(
    tenant_id: str,
    label: str | None,
    toolset_text: str | None,
    toolset_file: Path | None,
    config_path: Path,
    store_url: str | None,
) -> None:
    """Print a new API key for TENANT_ID (shown once; only its hash is stored)."""
    from fastn_gen.gateway.tenants_admin import new_key

    toolset = _read_toolset(toolset_text, toolset_file)
    made = run_with_store(
        config_path, store_url, lambda store, _: new_key(store, tenant_id, label, toolset)
    )
    click.echo(f"API key {made.key_id} for {tenant_id} (shown once, store it now):\n  {made.key}")


@tenants.command("revoke-key")
@click.argument("tenant_id")
@click.argument("key_id")
@_CONFIG
@_STORE
def revoke_key_command(
    tenant_id: str, key_id: str, config_path: Path, store_url: str | None
) -> None:
    """Revoke KEY_ID of TENANT_ID (refused by every gateway within the cache time)."""
    from fastn_gen.gateway.tenants_admin import now

    done = run_with_store(
        config_path,
        store_url,
        lambda store, _: store.revoke_api_key(tenant_id, key_id, at=now()),
    )
    if not done:
        raise click.ClickException(f"tenant {tenant_id} has no unrevoked key {key_id!r}")
    click.echo(f"key {key_id} of {tenant_id} revoked")


@tenants.command("set-toolset")
@click.argument("tenant_id")
@click.option("--key", "key_id", default=None, help="Set this API key's toolset instead.")
@_toolset_options("The new toolset")
@click.option("--clear", is_flag=True, help="Remove the toolset (the tenant: every tool).")
@_CONFIG
@_STORE
def set_toolset_command(
    tenant_id: str,
    key_id: str | None,
    toolset_text: str | None,
    toolset_file: Path | None,
    clear: bool,
    config_path: Path,
    store_url: str | None,
) -> None:
    """Set or clear the toolset of TENANT_ID, or of one of its keys (--key).

    Checked as the tenants file checks toolsets; a key's toolset may only narrow its
    tenant's. Running gateways apply it within the cache time (at once on PostgreSQL).
    """
    from fastn_gen.gateway.toolset_admin import set_toolset

    toolset = _read_toolset(toolset_text, toolset_file)
    if clear == (toolset is not None):
        raise click.UsageError("give exactly one of --toolset, --toolset-file or --clear")
    run_with_store(
        config_path, store_url, lambda store, _: set_toolset(store, tenant_id, toolset, key_id)
    )
    what = f"key {key_id} of {tenant_id}" if key_id else tenant_id
    click.echo(f"{what}: toolset {'cleared' if clear else 'set'}")


@tenants.command("connect")
@click.argument("tenant_id")
@click.argument("connector")
@click.option("--name", default=None, help="Connection name (default: the connector's).")
@click.option(
    "--credential",
    "credentials",
    multiple=True,
    help="FIELD=REF, REF being ${ENV_VAR} or secret:<name> (repeatable).",
)
@click.option("--variable", "variables", multiple=True, help="NAME=VALUE (repeatable).")
@click.option(
    "--allow-plaintext", is_flag=True, help="Accept a literal credential (not for production)."
)
@_CONFIG
@_STORE
@_GENERATED
def connect_command(
    tenant_id: str,
    connector: str,
    name: str | None,
    credentials: tuple[str, ...],
    variables: tuple[str, ...],
    allow_plaintext: bool,
    config_path: Path,
    store_url: str | None,
    generated_dir: Path,
) -> None:
    """Connect TENANT_ID to CONNECTOR (or replace that connection)."""
    from fastn_gen.gateway.tenants_admin import TenantCommandError, connect, parse_pairs

    try:
        creds = parse_pairs(credentials, "--credential")
        values = parse_pairs(variables, "--variable")
    except TenantCommandError as exc:
        raise click.UsageError(str(exc)) from None
    catalog = _catalog(generated_dir)
    added = run_with_store(
        config_path,
        store_url,
        lambda store, reg: connect(
            store,
            tenant_id,
            connector,
            name=name,
            credentials=creds,
            variables=values,
            allow_plaintext=allow_plaintext,
            catalog=catalog,
            plans=reg.plans,
        ),
    )
    what = "connected to" if added else "connection replaced:"
    click.echo(f"{tenant_id} {what} {connector} as {name or connector}")


@tenants.command("disconnect")
@click.argument("tenant_id")
@click.argument("connection")
@_CONFIG
@_STORE
def disconnect_command(
    tenant_id: str, connection: str, config_path: Path, store_url: str | None
) -> None:
    """Remove TENANT_ID's CONNECTION (a connection or connector name)."""
    from fastn_gen.gateway.tenants_admin import disconnect

    removed = run_with_store(
        config_path, store_url, lambda store, _: disconnect(store, tenant_id, connection)
    )
    click.echo(f"{tenant_id}: connection {removed} removed")


@tenants.command("remove")
@click.argument("tenant_id")
@_CONFIG
@_STORE
def remove_command(tenant_id: str, config_path: Path, store_url: str | None) -> None:
    """Delete TENANT_ID with its keys and connections (its events and usage stay)."""
    if not run_with_store(config_path, store_url, lambda store, _: store.delete_tenant(tenant_id)):
        raise click.ClickException(f"no tenant {tenant_id!r} in the store")
    click.echo(f"tenant {tenant_id} removed")


@tenants.command("list")
@click.option("--after", default=None, help="Start after this tenant id (pages).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_CONFIG
@_STORE
def list_command(
    after: str | None, limit: int, as_json: bool, config_path: Path, store_url: str | None
) -> None:
    """Tenants in the store, by id, with their connections, key ids (never hashes) and
    toolsets."""

    async def work(store: Any, _: Any) -> tuple[int, list[dict[str, Any]]]:
        rows = await store.list_tenants(after=after, limit=limit)
        found = []
        for row in rows:
            record = await store.get_tenant(row.id)
            keys = await store.list_api_keys(row.id)
            found.append(
                {
                    "id": row.id,
                    "plan": row.plan,
                    "display_name": row.display_name,
                    "connections": {
                        c.name: c.connector for c in (record.connections if record else ())
                    },
                    "toolset": row.toolset,
                    "keys": [k.key_id for k in keys if k.revoked_at is None],
                    "key_toolsets": {
                        k.key_id: k.toolset
                        for k in keys
                        if k.revoked_at is None and k.toolset is not None
                    },
                }
            )
        return await store.count_tenants(), found

    from fastn_gen.gateway.toolset_admin import toolset_text

    total, found = run_with_store(config_path, store_url, work)
    if as_json:
        click.echo(json.dumps({"total": total, "tenants": found}, indent=1))
        return
    for t in found:
        conns = ", ".join(f"{n}" if n == c else f"{n} ({c})" for n, c in t["connections"].items())
        click.echo(f"{t['id']:<24} {t['plan']:<12} {conns or '-'}  keys: {len(t['keys'])}")
        if t["toolset"] is not None:
            click.echo(f"  toolset: {toolset_text(t['toolset'])}")
        for kid, toolset in t["key_toolsets"].items():
            click.echo(f"  key {kid} toolset: {toolset_text(toolset)}")
    click.echo(f"{len(found)} of {total} tenant(s)")


def register(group: click.Group) -> None:
    group.add_command(tenants)
