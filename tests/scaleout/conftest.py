"""Fixtures of the scale-out suites: both store backends, PostgreSQL, loopback upstreams."""

from __future__ import annotations

from tests.store.conftest import anyio_backend, backend, pg_schema_prefix

pytest_plugins = ("tests.upstreams.fixtures",)

__all__ = ["anyio_backend", "backend", "pg_schema_prefix"]
