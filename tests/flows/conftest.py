"""Fixtures of the flows suites: the loopback world, and stores on both backends."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.flows.world import World
from tests.store.postgres_server import POSTGRES_URL, drop_schema, ensure_postgres


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    created = World.create(tmp_path / "world")
    try:
        yield created
    finally:
        created.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store no other test uses: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "flows.db")
        return
    ensure_postgres()
    schema = "flows_test_" + secrets.token_hex(5)
    try:
        yield f"{POSTGRES_URL}?schema={schema}"
    finally:
        drop_schema(schema)
