"""The serve options of :mod:`fastn_gen.observability` and the admin console.

Shared by ``python -m fastn_gen.gateway.serve`` (argparse) and ``fastn-gen serve``
(click, which forwards them), like :mod:`fastn_gen.gateway.serve_options`. Only light
modules are imported here, so ``fastn-gen --help`` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import click

F = TypeVar("F", bound=Callable[..., Any])

MetricsAccess = Literal["loopback", "admin", "off"]
METRICS_ACCESS: tuple[MetricsAccess, ...] = ("loopback", "admin", "off")
LOG_FORMATS = ("text", "json")
OTEL_EXPORTERS = ("none", "console", "otlp")


@dataclass(frozen=True, slots=True)
class OperatorOptions:
    log_format: Literal["text", "json"] = "text"
    # loopback: loopback clients, or anyone with an admin key; admin: an admin key only.
    metrics_access: MetricsAccess = "loopback"
    # (key id or None, salted hash): the tenants file's admin block and --admin-key-hash.
    admin_keys: tuple[tuple[str | None, str], ...] = ()
    otel_exporter: Literal["none", "console", "otlp"] = "none"

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> OperatorOptions:
        return cls(
            log_format=args.log_format,
            metrics_access=args.metrics_access,
            admin_keys=tuple((None, h) for h in args.admin_key_hashes),
            otel_exporter=args.otel_exporter,
        )

    def with_tenants_file(self, config_path: Path) -> OperatorOptions:
        """Add the admin keys of the tenants file's ``admin:`` block."""
        from fastn_gen.admin.config import load_admin_config

        block = load_admin_config(config_path)
        if block is None:
            return self
        found = tuple((entry.id, entry.hash) for entry in block.api_keys)
        return replace(self, admin_keys=found + self.admin_keys)


def _key_hash(text: str) -> str:
    from fastn_gen.gateway.apikeys import KeyHashError, parse_key_hash

    try:
        parse_key_hash(text)
    except KeyHashError as exc:
        raise argparse.ArgumentTypeError(f"not an admin key hash: {exc}") from None
    return text


def _click_key_hashes(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    for value in values:
        try:
            _key_hash(value)
        except argparse.ArgumentTypeError as exc:
            raise click.BadParameter(str(exc)) from None
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="text",
        help="json: one object per line with request_id and tenant (default text)",
    )
    parser.add_argument(
        "--metrics-access",
        choices=METRICS_ACCESS,
        default="loopback",
        help="who may read /metrics: loopback clients or an admin key (default), an admin "
        "key only, or nobody",
    )
    parser.add_argument(
        "--admin-key-hash",
        action="append",
        default=[],
        type=_key_hash,
        dest="admin_key_hashes",
        help="salted hash of an admin key for /admin and /metrics (repeatable; also the "
        "tenants file's admin.api_keys)",
    )
    parser.add_argument(
        "--otel-exporter",
        choices=OTEL_EXPORTERS,
        default="none",
        help="export OpenTelemetry traces: console (stderr) or otlp (OTEL_EXPORTER_OTLP_*)",
    )


def click_options(func: F) -> F:
    """The same options for ``fastn-gen serve``; :func:`forwarded` turns them into argv."""
    options = [
        click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text",
                     show_default=True,
                     help="json: one object per line with request_id and tenant."),
        click.option("--metrics-access", type=click.Choice(METRICS_ACCESS), default="loopback",
                     show_default=True,
                     help="Who may read /metrics: loopback clients or an admin key, an admin "
                     "key only, or nobody."),
        click.option("--admin-key-hash", "admin_key_hashes", multiple=True,
                     envvar="FASTN_ADMIN_KEY_HASH", callback=_click_key_hashes,
                     help="Salted hash of an admin key for /admin and /metrics (repeatable; "
                     "see `fastn-gen admin new-key`)."),
        click.option("--otel-exporter", type=click.Choice(OTEL_EXPORTERS), default="none",
                     show_default=True,
                     help="Export OpenTelemetry traces (needs the otel extra)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def forwarded(values: dict[str, Any]) -> list[str]:
    """``--name value`` pairs for the options of :func:`click_options` in ``values``."""
    argv = [
        "--log-format",
        str(values["log_format"]),
        "--metrics-access",
        str(values["metrics_access"]),
        "--otel-exporter",
        str(values["otel_exporter"]),
    ]
    for key_hash in cast(tuple[str, ...], values["admin_key_hashes"]):
        argv += ["--admin-key-hash", key_hash]
    return argv
