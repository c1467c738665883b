"""``fastn-gen serve``, ``keys``, ``secrets`` and ``claude-config``: gateway commands.

Kept apart from the generator commands in ``cli.py``; each command parses options and
delegates to ``fastn_gen.gateway``.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import click

from fastn_gen.cli_options import config_option, generated_option
from fastn_gen.gateway import serve_options
from fastn_gen.observability import options as operator_options

# Kept in step with fastn_gen.gateway.serve; not imported so `--help` stays fast.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

_CONFIG_OPTION = config_option()


@click.command()
@_CONFIG_OPTION
@generated_option()
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option(
    "--port", default=DEFAULT_PORT, show_default=True, type=int, help="0 picks a free port."
)
@click.option("--stdio", is_flag=True, help="Serve one tenant (--tenant) over stdin/stdout.")
@click.option("--tenant", "tenant_id", default=None, help="The tenant served over --stdio.")
@click.option(
    "--anonymous-tenant",
    default=None,
    help="Serve requests without an API key as this tenant (loopback binds only).",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="Host header to accept, e.g. mcp.example.com or mcp.example.com:* "
    "(repeatable; default: loopback names).",
)
@click.option(
    "--allowed-origin",
    "allowed_origins",
    multiple=True,
    help="Browser Origin to accept (repeatable).",
)
@click.option("--access-log", is_flag=True, help="Log every HTTP request.")
@click.option(
    "--watch",
    is_flag=True,
    help="Reload the tenants file and the generated directory when they change, without "
    "a restart (SIGHUP reloads them in any case).",
)
@click.option(
    "--list-output-schemas",
    is_flag=True,
    help="Include connector tools' outputSchema in tools/list (left out by default: "
    "most of a large list's size).",
)
@click.option(
    "--store",
    "store_url",
    default=None,
    envvar="FASTN_STORE_URL",
    help="Store: postgresql://... URL or SQLite file (default: <data_dir>/fastn.db).",
)
@click.option(
    "--tenants-from",
    type=click.Choice(["file", "store"]),
    default=None,
    help="Serve the tenants of the tenants file or of the store (default: "
    "$FASTN_TENANTS_FROM, else the file's tenants_from, else file).",
)
@click.option(
    "--upstream-timeout",
    type=click.FloatRange(min=0, max=3600, min_open=True),
    default=None,
    help="Seconds to wait for an upstream's answer (default 30).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@serve_options.click_options
@operator_options.click_options
def serve(
    config_path: Path,
    generated_dir: Path,
    host: str,
    port: int,
    stdio: bool,
    tenant_id: str | None,
    anonymous_tenant: str | None,
    allowed_hosts: tuple[str, ...],
    allowed_origins: tuple[str, ...],
    access_log: bool,
    watch: bool,
    list_output_schemas: bool,
    store_url: str | None,
    tenants_from: str | None,
    upstream_timeout: float | None,
    log_level: str,
    **reliability: object,
) -> None:
    """Run the multi-tenant gateway (streamable HTTP at /mcp, or stdio for one tenant)."""
    if stdio and not tenant_id:
        raise click.UsageError("--stdio needs --tenant ID")
    if tenant_id and not stdio:
        raise click.UsageError("--tenant applies to --stdio; HTTP clients authenticate by API key")
    if watch and stdio:
        raise click.UsageError(
            "--watch applies to HTTP serving; a stdio server reads its "
            "configuration when its client starts it"
        )
    argv = [
        "stdio" if stdio else "http",
        "--config",
        str(config_path),
        "--generated",
        str(generated_dir),
        "--log-level",
        log_level,
    ]
    if store_url:
        argv += ["--store", store_url]
    if tenants_from:
        argv += ["--tenants-from", tenants_from]
    if upstream_timeout is not None:
        argv += ["--upstream-timeout", str(upstream_timeout)]
    argv += serve_options.forwarded(reliability)
    argv += operator_options.forwarded(reliability)
    if list_output_schemas:
        argv.append("--list-output-schemas")
    if stdio:
        argv += ["--tenant", str(tenant_id)]
    else:
        argv += ["--host", host, "--port", str(port)]
        argv += [a for h in allowed_hosts for a in ("--allowed-host", h)]
        argv += [a for o in allowed_origins for a in ("--allowed-origin", o)]
        if anonymous_tenant:
            argv += ["--anonymous-tenant", anonymous_tenant]
        if access_log:
            argv.append("--access-log")
        if watch:
            argv.append("--watch")
    from fastn_gen.collector import pause_for_start_up

    pause_for_start_up()  # before the gateway's imports; main() resumes it
    from fastn_gen.gateway import serve as gateway_serve

    sys.exit(gateway_serve.main(argv))


@click.group()
def keys() -> None:
    """Tenant API keys (stored only as salted hashes)."""


@keys.command("new")
@click.option("--tenant", "tenant_id", required=True)
def keys_new(tenant_id: str) -> None:
    """Print a fresh API key once, and the line to paste into the tenants file."""
    from fastn_gen.gateway.secrets_cli import new_key_command

    key, line = new_key_command(tenant_id)
    click.echo(f"API key for {tenant_id} (shown once, store it now):\n  {key}")
    click.echo(f"Add under tenants.{tenant_id}.api_keys in the tenants file:\n  {line}")


@click.group()
def secrets() -> None:
    """Encrypted per-tenant credentials (values read from stdin, never from arguments)."""


def _secret_errors() -> tuple[type[Exception], ...]:
    from fastn_gen.gateway.secrets import SecretStoreError
    from fastn_gen.gateway.tenancy import TenantConfigError

    return (SecretStoreError, TenantConfigError)


@secrets.command("set")
@_CONFIG_OPTION
@click.argument("tenant_id")
@click.argument("connection")
@click.argument("field")
def secrets_set(config_path: Path, tenant_id: str, connection: str, field: str) -> None:
    """Store FIELD for TENANT's CONNECTION; the value comes from stdin or a hidden prompt."""
    from fastn_gen.gateway.secrets_cli import set_secret_command

    try:
        click.echo(set_secret_command(config_path, tenant_id, connection, field))
    except _secret_errors() as exc:
        raise click.ClickException(str(exc)) from None


@secrets.command("delete")
@_CONFIG_OPTION
@click.argument("tenant_id")
@click.argument("connection")
@click.argument("field")
def secrets_delete(config_path: Path, tenant_id: str, connection: str, field: str) -> None:
    """Remove a stored value."""
    from fastn_gen.gateway.secrets_cli import delete_secret_command

    try:
        click.echo(delete_secret_command(config_path, tenant_id, connection, field))
    except _secret_errors() as exc:
        raise click.ClickException(str(exc)) from None


@secrets.command("list")
@_CONFIG_OPTION
@click.argument("tenant_id")
def secrets_list(config_path: Path, tenant_id: str) -> None:
    """Names of the stored values of TENANT (never the values)."""
    from fastn_gen.gateway.secrets_cli import list_secrets_command

    try:
        for line in list_secrets_command(config_path, tenant_id):
            click.echo(line)
    except _secret_errors() as exc:
        raise click.ClickException(str(exc)) from None


@secrets.command("rotate-key")
@_CONFIG_OPTION
@click.option(
    "--new-key-stdin",
    is_flag=True,
    help="Read the new key (base64) from stdin instead of generating one.",
)
def secrets_rotate_key(config_path: Path, new_key_stdin: bool) -> None:
    """Re-encrypt the secrets file under a new key, which replaces the old one."""
    from fastn_gen.gateway.secrets_cli import rotate_key_command

    try:
        lines = rotate_key_command(config_path, new_key_stream=sys.stdin if new_key_stdin else None)
    except _secret_errors() as exc:
        raise click.ClickException(str(exc)) from None
    for line in lines:
        click.echo(line)


def claude_desktop_entry(
    tenant_id: str, config_path: Path, generated_dir: Path, url: str | None
) -> dict[str, object]:
    """An ``mcpServers`` entry: stdio for a local gateway, ``mcp-remote`` for a remote one."""
    name = f"fastn-{tenant_id}"
    if url:
        # mcp-remote bridges stdio to streamable HTTP. The key stays in the env block:
        # "Authorization:${...}" without a space survives Windows argument quoting.
        server: dict[str, object] = {
            "command": "npx",
            "args": ["-y", "mcp-remote", url, "--header", "Authorization:${FASTN_AUTH_HEADER}"],
            "env": {"FASTN_AUTH_HEADER": "Bearer <API key of " + tenant_id + ">"},
        }
    else:
        executable = shutil.which("fastn-gen") or str(Path(sys.argv[0]).resolve())
        server = {
            "command": executable,
            "args": [
                "serve",
                "--stdio",
                "--tenant",
                tenant_id,
                "--config",
                str(config_path.resolve()),
                "--generated",
                str(generated_dir.resolve()),
            ],
        }
    return {"mcpServers": {name: server}}


@click.command("claude-config")
@click.option("--tenant", "tenant_id", required=True)
@click.option(
    "--url",
    default=None,
    help="A remote gateway's /mcp URL (mcp-remote form); default: local stdio form.",
)
@_CONFIG_OPTION
@generated_option(None)
def claude_config(tenant_id: str, url: str | None, config_path: Path, generated_dir: Path) -> None:
    """Print a Claude Desktop `mcpServers` entry for TENANT."""
    if not url:
        from fastn_gen.gateway.tenancy import TenantConfigError, TenantRegistry

        try:
            registry = TenantRegistry.load(config_path)
        except TenantConfigError as exc:
            raise click.ClickException(str(exc)) from None
        if registry.get(tenant_id) is None:
            raise click.BadParameter(
                f"no tenant {tenant_id!r} in {config_path}", param_hint="--tenant"
            )
    logging.getLogger("fastn_gen").setLevel(logging.WARNING)
    entry = claude_desktop_entry(tenant_id, config_path, generated_dir, url)
    click.echo(json.dumps(entry, indent=2))


def register(group: click.Group) -> None:
    for command in (serve, keys, secrets, claude_config):
        group.add_command(command)
