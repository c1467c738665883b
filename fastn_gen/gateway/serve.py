"""Run the gateway: streamable HTTP with uvicorn, or stdio for one tenant.

python -m fastn_gen.gateway.serve http --config tenants.yaml --generated generated
python -m fastn_gen.gateway.serve stdio --config tenants.yaml --tenant acme

``--store URL`` (or ``FASTN_STORE_URL``) chooses the store; by default it is the SQLite
file ``<data_dir>/fastn.db``.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import anyio
import uvicorn

from fastn_gen.collector import pause_for_start_up, resume_after_start_up
from fastn_gen.gateway.app import GatewayConfigError, HttpOptions, create_app
from fastn_gen.gateway.catalog import Catalog, CatalogError
from fastn_gen.gateway.digest import DigestKeyError
from fastn_gen.gateway.executor import Executor
from fastn_gen.gateway.file_watch import watch_interval, watched_signatures
from fastn_gen.gateway.origin import LOOPBACK_HOSTS, authority
from fastn_gen.gateway.reload import ReloadOptions
from fastn_gen.gateway.retention import RetentionPolicy
from fastn_gen.gateway.serve_options import Reliability, oauth_config, retention_policy
from fastn_gen.gateway.serve_options import add_arguments as add_reliability_arguments
from fastn_gen.gateway.services import Services, StoreConfigError
from fastn_gen.gateway.stdio import UnknownTenantError, serve_stdio
from fastn_gen.gateway.tenancy import TenantConfigError, TenantRegistry
from fastn_gen.gateway.tenant_source import SOURCES, select_registry
from fastn_gen.native.registry import NATIVE_NAMES
from fastn_gen.observability import options as operator_options
from fastn_gen.observability.logs import configure_logging
from fastn_gen.observability.tracing import TracingUnavailable, configure_tracing
from fastn_gen.store.errors import StoreError

logger = logging.getLogger("fastn_gen.gateway")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_CONFIG = Path("tenants.yaml")
DEFAULT_GENERATED = Path("generated")


def _bind(host: str, port: int) -> socket.socket:
    """Bind before building the app, so port 0 resolves and Host defaults can use it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio enables TCP_NODELAY on accepted connections only
    # when the listening socket says so, and without it every response waits ~40 ms
    # for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _load(
    config_path: Path,
    generated_dir: Path,
    tenants_from: str | None = None,
    store_url: str | None = None,
    output_schemas: bool = False,
) -> tuple[Catalog, TenantRegistry]:
    # Output schemas are read only by a server that lists them.
    catalog = Catalog.load(generated_dir, output_schemas=output_schemas)
    # With the connectors known, the tenants file is checked against them too:
    # connector names, credential fields and variables, and the tools limits name.
    registry = TenantRegistry.load(
        config_path, catalog=catalog.connector_specs(), tools={*catalog.tools, *NATIVE_NAMES}
    )
    return catalog, select_registry(registry, tenants_from, store_url)


def _executor(upstream_timeout: float | None, reliability: Reliability | None) -> Executor:
    # Served gateways always refuse private destinations to non-self-hosted connectors,
    # and retry and circuit-break (see serve_options).
    return (reliability or Reliability()).executor(upstream_timeout)


def run_http(
    config_path: Path,
    generated_dir: Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
    anonymous_tenant: str | None = None,
    *,
    access_log: bool = False,
    store_url: str | None = None,
    tenants_from: str | None = None,
    upstream_timeout: float | None = None,
    reliability: Reliability | None = None,
    operator: operator_options.OperatorOptions | None = None,
    watch: bool = False,
    list_output_schemas: bool = False,
    list_bytes: bool = True,
    retention: RetentionPolicy | None = None,
) -> None:
    """Serve ``/mcp`` and ``/healthz`` (and ``/metrics``, ``/admin``) until interrupted.

    SIGHUP reloads the tenants file and ``generated/``; ``watch`` also reloads them
    when they change (see reload.py). ``retention`` (default: 90 days) prunes the store
    in the background (see retention.py).
    """
    baseline = watched_signatures(config_path, generated_dir)
    catalog, registry = _load(
        config_path, generated_dir, tenants_from, store_url, list_output_schemas
    )
    executor = _executor(upstream_timeout, reliability)
    services = Services.create(
        catalog, registry, executor, store_url=store_url, retention=retention or RetentionPolicy()
    )
    sock = _bind(host, port)
    bound_port = int(sock.getsockname()[1])
    options = HttpOptions(
        host=host,
        port=bound_port,
        allowed_hosts=tuple(allowed_hosts),
        allowed_origins=tuple(allowed_origins),
        anonymous_tenant=anonymous_tenant,
        limits=(reliability or Reliability()).limits,
        oauth=oauth_config(config_path),
        operator=(operator or operator_options.OperatorOptions()).with_tenants_file(config_path),
        reload=ReloadOptions(
            config_path,
            generated_dir,
            watch_interval=watch_interval() if watch else None,
            tenants_from=tenants_from,
            baseline=baseline,
        ),
        list_output_schemas=list_output_schemas,
        list_bytes=list_bytes,
    )
    try:
        app = create_app(catalog, registry, executor, options, services)
    except BaseException:
        sock.close()
        raise
    if host not in LOOPBACK_HOSTS and not allowed_hosts:
        logger.warning(
            "bound to %s without --allowed-host: only loopback Host headers are accepted", host
        )
    logger.info(
        "fastn-gen gateway listening on http://%s/mcp (%d tools, %d tenants)",
        authority(host, bound_port),
        catalog.tool_count,
        len(registry),
    )
    config = uvicorn.Config(
        app, host=host, port=bound_port, access_log=access_log, log_config=None, lifespan="on"
    )
    resume_after_start_up(freeze=True)
    uvicorn.Server(config).run(sockets=[sock])


def run_stdio(
    config_path: Path,
    generated_dir: Path,
    tenant_id: str,
    store_url: str | None = None,
    upstream_timeout: float | None = None,
    reliability: Reliability | None = None,
    tenants_from: str | None = None,
    list_output_schemas: bool = False,
) -> None:
    """Serve one tenant over stdin/stdout until the client closes stdin."""
    catalog, registry = _load(
        config_path, generated_dir, tenants_from, store_url, list_output_schemas
    )
    executor = _executor(upstream_timeout, reliability)
    services = Services.create(catalog, registry, executor, store_url=store_url)

    async def serve() -> None:
        await serve_stdio(
            generated_dir,
            registry,
            tenant_id,
            executor,
            services=services,
            list_output_schemas=list_output_schemas,
        )

    resume_after_start_up(freeze=True)
    anyio.run(serve)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 3600 seconds")
    return value


def _parser(generated_default: Path) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fastn_gen.gateway.serve")
    sub = parser.add_subparsers(dest="transport", required=True)
    for name in ("http", "stdio"):
        p = sub.add_parser(name)
        p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="tenants file")
        p.add_argument("--generated", type=Path, default=generated_default)
        p.add_argument("--log-level", default="info")
        p.add_argument(
            "--store",
            default=None,
            dest="store_url",
            help="store URL or SQLite path: postgresql://... or a file (default: "
            "$FASTN_STORE_URL, else <data_dir>/fastn.db)",
        )
        p.add_argument(
            "--tenants-from",
            choices=SOURCES,
            default=None,
            help="serve the tenants of the tenants file or of the store (default: "
            "$FASTN_TENANTS_FROM, else the file's tenants_from, else file)",
        )
        p.add_argument(
            "--upstream-timeout",
            type=_positive_seconds,
            default=None,
            help="seconds to wait for an upstream's answer (default 30)",
        )
        p.add_argument(
            "--list-output-schemas",
            action="store_true",
            help="include connector tools' outputSchema in tools/list (default: left out)",
        )
        add_reliability_arguments(p)
        operator_options.add_arguments(p)
    http = sub.choices["http"]
    http.add_argument("--host", default=DEFAULT_HOST)
    http.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    http.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        dest="allowed_hosts",
        help="Host header value to accept, e.g. mcp.example.com or mcp.example.com:* "
        "(repeatable; default: the loopback names with the bound port)",
    )
    http.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        dest="allowed_origins",
        help="browser Origin to accept, e.g. https://app.example.com (repeatable; "
        "default: http:// plus each allowed host)",
    )
    http.add_argument(
        "--anonymous-tenant",
        default=None,
        help="serve requests without an API key as this tenant (loopback only)",
    )
    http.add_argument("--access-log", action="store_true")
    http.add_argument(
        "--watch",
        action="store_true",
        help="reload the tenants file and the generated directory when they change "
        "(SIGHUP reloads them in any case)",
    )
    http.add_argument(
        "--no-list-bytes",
        action="store_true",
        help="serialise every tools/list through the SDK instead of cached bytes (slower; "
        "for comparison)",
    )
    sub.choices["stdio"].add_argument("--tenant", required=True, help="the tenant to serve")
    return parser


def main(argv: Sequence[str] | None = None, *, generated_dir: Path = DEFAULT_GENERATED) -> int:
    """Command-line entry; ``generated_dir`` is the default for ``--generated``.

    Without a transport (``http`` or ``stdio``) first, ``http`` is meant.
    """
    pause_for_start_up()  # resumed by run_http / run_stdio once loaded
    try:
        return _main(argv, generated_dir)
    finally:
        resume_after_start_up()  # also when loading failed


def _main(argv: Sequence[str] | None, generated_dir: Path) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if not words or words[0] not in ("http", "stdio", "-h", "--help"):
        words.insert(0, "http")
    args = _parser(generated_dir).parse_args(words)
    # stderr only: on stdio, stdout is the protocol channel.
    configure_logging(args.log_level, args.log_format)
    try:
        configure_tracing(args.otel_exporter)
        if args.transport == "http":
            try:
                retention = retention_policy(args.retention_days)
            except ValueError as exc:
                logger.error("%s", exc)
                return 2
            run_http(
                args.config,
                args.generated,
                args.host,
                args.port,
                args.allowed_hosts,
                args.allowed_origins,
                args.anonymous_tenant,
                access_log=args.access_log,
                store_url=args.store_url,
                tenants_from=args.tenants_from,
                upstream_timeout=args.upstream_timeout,
                reliability=Reliability.from_args(args),
                operator=operator_options.OperatorOptions.from_args(args),
                watch=args.watch,
                list_output_schemas=args.list_output_schemas,
                list_bytes=not args.no_list_bytes,
                retention=retention,
            )
        else:
            run_stdio(
                args.config,
                args.generated,
                args.tenant,
                args.store_url,
                args.upstream_timeout,
                Reliability.from_args(args),
                tenants_from=args.tenants_from,
                list_output_schemas=args.list_output_schemas,
            )
    except (
        CatalogError,
        TenantConfigError,
        GatewayConfigError,
        UnknownTenantError,
        StoreConfigError,
        StoreError,
        DigestKeyError,
        TracingUnavailable,
        OSError,
    ) as exc:
        logger.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


def serve_generated(generated_dir: Path, argv: Sequence[str] | None = None) -> None:
    """Entry of a generated ``server.py``: serve that directory, options from ``argv``."""
    sys.exit(main(argv, generated_dir=generated_dir))


if __name__ == "__main__":
    sys.exit(main())
