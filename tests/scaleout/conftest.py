"""Fixtures of the scale-out suites: both store backends and PostgreSQL (the loopback
upstreams come from the top-level conftest)."""

from __future__ import annotations

from tests.store.conftest import backend, pg_schema_prefix

__all__ = ["backend", "pg_schema_prefix"]
