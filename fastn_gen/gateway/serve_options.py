"""The serve options for request limits, upstream timeouts, retries and circuit breaking.

Shared by ``python -m fastn_gen.gateway.serve`` (argparse) and ``fastn-gen serve``
(click, which forwards them), so both spell and default them the same way. Whatever
the options, the served gateway refuses private upstream destinations for connectors
that are not ``self_hosted`` (:mod:`.egress`).

Only light modules are imported here, so ``fastn-gen --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from fastn_gen.gateway.body_limit import RequestLimits
    from fastn_gen.gateway.executor import Executor
    from fastn_gen.gateway.oauth_config import OAuthResourceModel
    from fastn_gen.gateway.retention import RetentionPolicy

F = TypeVar("F", bound=Callable[..., Any])

# The defaults of body_limit, http_pool and resilience (tests/security/test_serve_options.py
# keeps them in step).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_ATTEMPTS = 3
DEFAULT_BREAKER_FAILURES = 5
DEFAULT_BREAKER_COOLDOWN = 30.0
# Retention (fastn_gen.gateway.retention): days of events, usage and flow runs kept.
DEFAULT_RETENTION_DAYS = 90
RETENTION_DAYS_ENV = "FASTN_RETENTION_DAYS"
RETENTION_INTERVAL_ENV = "FASTN_RETENTION_INTERVAL_S"
DEFAULT_RETENTION_INTERVAL_S = 3600.0


@dataclass(frozen=True, slots=True)
class Reliability:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    retry_attempts: int = DEFAULT_ATTEMPTS
    breaker_failures: int = DEFAULT_BREAKER_FAILURES
    breaker_cooldown: float = DEFAULT_BREAKER_COOLDOWN

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Reliability:
        return cls(
            max_body_bytes=args.max_body_bytes,
            connect_timeout=args.upstream_connect_timeout,
            retry_attempts=args.retry_attempts,
            breaker_failures=args.breaker_failures,
            breaker_cooldown=args.breaker_cooldown,
        )

    @property
    def limits(self) -> RequestLimits:
        from fastn_gen.gateway.body_limit import RequestLimits

        return RequestLimits(max_body_bytes=self.max_body_bytes)

    def executor(self, upstream_timeout: float | None) -> Executor:
        from fastn_gen.gateway.executor import Executor
        from fastn_gen.gateway.http_pool import UpstreamOptions
        from fastn_gen.gateway.resilience import Resilience, ResilienceOptions

        read = upstream_timeout if upstream_timeout is not None else DEFAULT_READ_TIMEOUT
        upstream = UpstreamOptions(
            connect_timeout=self.connect_timeout,
            read_timeout=read,
            write_timeout=read,
            public_only=True,
        )
        resilience = ResilienceOptions(
            max_attempts=self.retry_attempts,
            breaker_failures=self.breaker_failures,
            breaker_cooldown_s=self.breaker_cooldown,
        )
        return Executor(upstream, resilience=Resilience(resilience))


def oauth_config(config_path: Path) -> OAuthResourceModel | None:
    """The tenants file's ``oauth:`` block (the file was validated when it was loaded)."""
    from fastn_gen.gateway.oauth_config import load_resource_config

    return load_resource_config(config_path)


def retention_policy(days: int, environ: Mapping[str, str] | None = None) -> RetentionPolicy:
    """``--retention-days`` with the pass interval of ``FASTN_RETENTION_INTERVAL_S``."""
    from fastn_gen.gateway.retention import RetentionPolicy

    env = os.environ if environ is None else environ
    text = env.get(RETENTION_INTERVAL_ENV)
    interval = DEFAULT_RETENTION_INTERVAL_S
    if text is not None:
        try:
            interval = float(text)
        except ValueError:
            raise ValueError(f"{RETENTION_INTERVAL_ENV}: not a number: {text!r}") from None
        if not 0 < interval <= 86_400:
            raise ValueError(f"{RETENTION_INTERVAL_ENV}: must be above 0, at most 86400 seconds")
    return RetentionPolicy(days=days, interval_s=interval)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _count(text: str) -> int:
    value = _positive_int(text) if text != "0" else 0
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 3600 seconds")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = Reliability()
    parser.add_argument(
        "--max-body-bytes",
        type=_positive_int,
        default=d.max_body_bytes,
        help=f"larger request bodies are answered 413 (default {d.max_body_bytes})",
    )
    parser.add_argument(
        "--upstream-connect-timeout",
        type=_seconds,
        default=d.connect_timeout,
        help=f"seconds to wait for an upstream connection (default {d.connect_timeout:g})",
    )
    parser.add_argument(
        "--retry-attempts",
        type=_positive_int,
        default=d.retry_attempts,
        help="attempts per idempotent upstream call, 1 for no retries "
        f"(default {d.retry_attempts})",
    )
    parser.add_argument(
        "--breaker-failures",
        type=_count,
        default=d.breaker_failures,
        help="consecutive upstream failures that pause a tenant's calls to a connector, "
        f"0 for never (default {d.breaker_failures})",
    )
    parser.add_argument(
        "--breaker-cooldown",
        type=_seconds,
        default=d.breaker_cooldown,
        help=f"seconds such a pause lasts (default {d.breaker_cooldown:g})",
    )
    parser.add_argument(
        "--retention-days",
        type=_count,
        # A string default goes through ``type`` too, so a bad variable is refused.
        default=os.environ.get(RETENTION_DAYS_ENV, str(DEFAULT_RETENTION_DAYS)),
        help="days of events, usage counters and finished flow runs the HTTP gateway "
        f"keeps, pruning older ones hourly; 0 keeps everything (default: "
        f"${RETENTION_DAYS_ENV}, else {DEFAULT_RETENTION_DAYS})",
    )


# -- fastn-gen serve (click) ----------------------------------------------------------


def click_options(func: F) -> F:
    """The same options for ``fastn-gen serve``; :func:`forwarded` turns them into argv."""
    d = Reliability()
    options = [
        click.option("--max-body-bytes", type=click.IntRange(min=1), default=d.max_body_bytes,
                     show_default=True, help="Larger request bodies are answered 413."),
        click.option("--upstream-connect-timeout", type=click.FloatRange(0, 3600, min_open=True),
                     default=d.connect_timeout, show_default=True,
                     help="Seconds to wait for an upstream connection."),
        click.option("--retry-attempts", type=click.IntRange(min=1), default=d.retry_attempts,
                     show_default=True, help="Attempts per idempotent upstream call."),
        click.option("--breaker-failures", type=click.IntRange(min=0),
                     default=d.breaker_failures, show_default=True,
                     help="Consecutive upstream failures that pause a tenant's calls to a "
                     "connector (0: never)."),
        click.option("--breaker-cooldown", type=click.FloatRange(0, 3600, min_open=True),
                     default=d.breaker_cooldown, show_default=True,
                     help="Seconds such a pause lasts."),
        click.option("--retention-days", type=click.IntRange(min=0),
                     default=DEFAULT_RETENTION_DAYS, envvar=RETENTION_DAYS_ENV,
                     show_default=True,
                     help="Days of events, usage counters and finished flow runs kept; older "
                     "ones are pruned hourly (0: keep everything)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


CLICK_NAMES = (
    "max_body_bytes",
    "upstream_connect_timeout",
    "retry_attempts",
    "breaker_failures",
    "breaker_cooldown",
    "retention_days",
)


def forwarded(values: dict[str, Any]) -> list[str]:
    """``--name value`` pairs for the options of :func:`click_options` in ``values``."""
    argv: list[str] = []
    for name in CLICK_NAMES:
        argv += ["--" + name.replace("_", "-"), str(values[name])]
    return argv
