"""Options several ``fastn-gen`` commands share, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def path_option(flag: str, dest: str, default: str, help: str | None = None) -> Decorator:
    """A path option with its default shown in ``--help``."""
    return click.option(
        flag, dest, default=default, show_default=True, type=click.Path(path_type=Path), help=help
    )


def config_option(help: str = "Tenants file.") -> Decorator:
    return path_option("--config", "config_path", "tenants.yaml", help)


def generated_option(help: str | None = "Output of `fastn-gen build`.") -> Decorator:
    return path_option("--generated", "generated_dir", "generated", help)


def store_option() -> Decorator:
    return click.option(
        "--store",
        "store_url",
        default=None,
        envvar="FASTN_STORE_URL",
        help="Store: postgresql://... URL or SQLite file (default: <data_dir>/fastn.db).",
    )
