"""``fastn-gen doctor``: is this deployment ready to serve?

Checks, each reported as ok, warn or fail, with names only (environment variable
names, secret names, host names; never a credential value):

- the tenants file loads and agrees with ``generated/``;
- ``generated/`` is current for ``connectors.d/`` (the ``build --check`` logic);
- every credential a connection references is present (the variable is set, the
  secret is stored);
- every upstream host resolves in DNS;
- the store is reachable (PostgreSQL answers; the SQLite file or its folder is usable).
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from fastn_gen.gateway.tenancy import TenantRegistry

Status = Literal["ok", "warn", "fail"]
DNS_TIMEOUT_S = 5.0
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Finding:
    status: Status
    message: str


@dataclass(slots=True)
class Check:
    name: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def status(self) -> Status:
        found = {f.status for f in self.findings}
        return "fail" if "fail" in found else "warn" if "warn" in found else "ok"

    def add(self, status: Status, message: str) -> None:
        self.findings.append(Finding(status, message))


@dataclass(frozen=True, slots=True)
class DoctorOptions:
    config: Path
    generated: Path
    connectors: Path | None
    store_url: str | None = None
    environ: Mapping[str, str] | None = None
    dns_timeout_s: float = DNS_TIMEOUT_S
    resolve: Callable[[str, int], object] = socket.getaddrinfo


def run_doctor(options: DoctorOptions) -> list[Check]:
    env = os.environ if options.environ is None else options.environ
    checks: list[Check] = []
    generated, catalog = _check_generated(options)
    checks.append(generated)
    tenants = Check("tenants file")
    checks.append(tenants)
    registry = _load_tenants(options, catalog, env, tenants)
    if registry is None:
        return checks
    checks.append(_check_credentials(registry, env))
    if catalog is not None:
        checks.append(_check_upstreams(registry, catalog, options))
    checks.append(_check_store(registry, options.store_url, env))
    return checks


# -- generated/ ---------------------------------------------------------------------------


def _check_generated(options: DoctorOptions) -> tuple[Check, object | None]:
    from fastn_gen.gateway.catalog import Catalog, CatalogError

    check = Check("generated code")
    if options.connectors is not None and options.connectors.is_dir():
        from fastn_gen.codegen.build import build

        report = build(options.connectors, options.generated, check=True)
        if report.issues:
            check.add("fail", f"{len(report.issues)} problem(s) in {options.connectors}:")
            for issue in report.issues:
                check.add("fail", f"  {issue}")
        elif report.changed:
            stale = ", ".join(str(options.generated / rel) for rel in report.changed)
            check.add("fail", f"stale, run `fastn-gen build`: {stale}")
        else:
            check.add("ok", f"{options.generated} is current for {options.connectors}")
    try:
        # With the output schemas: a server listing them would read that file too.
        catalog = Catalog.load(options.generated, output_schemas=True)
    except CatalogError as exc:
        check.add("fail", str(exc))
        return check, None
    check.add("ok", f"{catalog.tool_count} tools from {len(catalog.connectors)} connectors")
    return check, catalog


# -- the tenants file ---------------------------------------------------------------------


def _load_tenants(
    options: DoctorOptions, catalog: object | None, env: Mapping[str, str], check: Check
) -> TenantRegistry | None:
    from fastn_gen.gateway.catalog import Catalog
    from fastn_gen.gateway.tenancy import TenantConfigError
    from fastn_gen.native.registry import NATIVE_NAMES

    specs = catalog.connector_specs() if isinstance(catalog, Catalog) else None
    tools = {*catalog.tools, *NATIVE_NAMES} if isinstance(catalog, Catalog) else None
    try:
        registry = TenantRegistry.load(options.config, catalog=specs, environ=env, tools=tools)
    except TenantConfigError as exc:
        for line in str(exc).splitlines():
            check.add("fail", line)
        return None
    connections = sum(len(t.connections) for t in registry.tenants)
    check.add("ok", f"{options.config}: {len(registry)} tenant(s), {connections} connection(s)")
    keyless = _tenants_without_keys(options.config)
    if keyless:
        check.add("warn", f"tenants without API keys (unreachable over HTTP): {', '.join(keyless)}")
    return registry


def _tenants_without_keys(config: Path) -> list[str]:
    import yaml

    data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    return [
        str(raw.get("id"))
        for raw in data.get("tenants") or []
        if isinstance(raw, dict) and not raw.get("api_keys")
    ]


# -- credentials --------------------------------------------------------------------------


def _check_credentials(registry: TenantRegistry, env: Mapping[str, str]) -> Check:
    check = Check("credentials")
    for tenant in registry.tenants:
        stored = tenant.secret_store.fields(tenant.id) if tenant.secret_store else {}
        for conn in tenant.connections.values():
            where = f"{tenant.id}/{conn.name}"
            if not conn.credentials:
                check.add("ok", f"{where}: no credentials needed")
            for name, ref in sorted(conn.credentials.items()):
                described = f"{where} {name} ({ref.describe()})"
                if ref.kind == "env":
                    present = bool(env.get(ref.target))
                    check.add(
                        "ok" if present else "fail",
                        f"{described}: "
                        + ("set" if present else f"environment variable {ref.target} is not set"),
                    )
                elif ref.kind == "secret":
                    present = ref.target in stored.get(conn.name, [])
                    check.add(
                        "ok" if present else "fail",
                        f"{described}: "
                        + (
                            "stored"
                            if present
                            else f"not stored; run `fastn-gen secrets set "
                            f"{tenant.id} {conn.name} {ref.target}`"
                        ),
                    )
                else:
                    check.add("warn", f"{described}: plaintext in the tenants file")
    if not check.findings:
        check.add("ok", "no connections")
    return check


# -- upstream DNS -------------------------------------------------------------------------


def upstream_hosts(registry: TenantRegistry, catalog: object) -> dict[str, list[str]]:
    """Host → the ``tenant/connection`` names that call it."""
    from fastn_gen.gateway.catalog import Catalog

    assert isinstance(catalog, Catalog)
    hosts: dict[str, list[str]] = {}
    for tenant in registry.tenants:
        for conn in tenant.connections.values():
            entry = catalog.connectors.get(conn.connector)
            if entry is None:
                continue
            url = _substitute(entry.spec.base_url, conn.variables)
            host = urlsplit(url).hostname
            if host:
                hosts.setdefault(host, []).append(f"{tenant.id}/{conn.name}")
    return hosts


def _substitute(base_url: str, variables: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: variables.get(m.group(1), ""), base_url)


def _check_upstreams(registry: TenantRegistry, catalog: object, options: DoctorOptions) -> Check:
    check = Check("upstream DNS")
    hosts = upstream_hosts(registry, catalog)
    if not hosts:
        check.add("ok", "no upstream hosts")
        return check
    pool = ThreadPoolExecutor(max_workers=min(8, len(hosts)), thread_name_prefix="doctor-dns")
    try:
        futures = {host: pool.submit(options.resolve, host, 443) for host in sorted(hosts)}
        for host, future in futures.items():
            users = ", ".join(hosts[host])
            try:
                future.result(timeout=options.dns_timeout_s)
            except FutureTimeout:
                check.add(
                    "fail", f"{host}: no DNS answer within {options.dns_timeout_s:g} s ({users})"
                )
            except OSError as exc:
                check.add("fail", f"{host}: does not resolve: {exc.strerror or exc} ({users})")
            else:
                check.add("ok", f"{host} resolves ({users})")
    finally:
        # A resolver stuck past the timeout must not hold the command.
        pool.shutdown(wait=False, cancel_futures=True)
    return check


# -- the store ----------------------------------------------------------------------------


def _check_store(registry: TenantRegistry, store_url: str | None, env: Mapping[str, str]) -> Check:
    from fastn_gen.gateway.services import StoreConfigError, describe_location, store_location

    check = Check("store")
    try:
        location = store_location(registry, store_url, env)
    except StoreConfigError as exc:
        check.add("fail", str(exc))
        return check
    shown = describe_location(location)
    if location.startswith(("postgresql://", "postgres://")):
        try:
            import psycopg

            with psycopg.connect(location, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # psycopg raises several kinds; none may hide the rest
            message = describe_location(str(exc).strip().splitlines()[0] if str(exc) else "")
            check.add("fail", f"{shown}: cannot connect: {message or type(exc).__name__}")
        else:
            check.add("ok", f"{shown}: PostgreSQL answers")
        return check
    from fastn_gen.store.errors import StoreError
    from fastn_gen.store.factory import store_from_url

    try:
        store = store_from_url(location, data_dir=registry.data_dir)
        path = Path(getattr(store, "path"))  # noqa: B009 - SQLite stores have a path
    except StoreError as exc:
        check.add("fail", str(exc))
        return check
    if path.exists():
        check.add(*_read_sqlite(path, shown))
        return check
    folder = _existing_parent(path.parent)
    if os.access(folder, os.W_OK):
        check.add("ok", f"{shown}: will be created at the first start")
    else:
        check.add("fail", f"{shown}: {folder} is not writable")
    return check


def _read_sqlite(path: Path, shown: str) -> tuple[Status, str]:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return "fail", f"{shown}: cannot read the SQLite file: {exc}"
    return "ok", f"{shown}: SQLite file readable"


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
