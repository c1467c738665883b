"""One store suite, two backends: every contract test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from fastn_gen.store.migrations import Migration
from fastn_gen.store.postgres import PostgresStore
from fastn_gen.store.sqlite import SQLiteStore
from tests.store.postgres_server import POSTGRES_URL, drop_schema, drop_schemas, ensure_postgres

BACKENDS = ("sqlite", "postgres")
_counter = itertools.count()


@dataclass(frozen=True)
class Backend:
    """Where one test's store lives; ``make()`` gives a new instance on the same data."""

    name: str
    url: str  # what ``open_store`` and the worker process are given
    sqlite_path: Path | None = None
    pg_schema: str | None = None

    def make(self, migrations: Sequence[Migration] | None = None) -> SQLiteStore | PostgresStore:
        options = {} if migrations is None else {"migrations": migrations}
        if self.sqlite_path is not None:
            return SQLiteStore(self.sqlite_path, **options)
        return PostgresStore(POSTGRES_URL, schema=self.pg_schema, **options)


@pytest.fixture(scope="session")
def pg_schema_prefix() -> Iterator[str]:
    ensure_postgres()
    prefix = f"store_test_{os.getpid()}_{secrets.token_hex(3)}_"
    yield prefix
    drop_schemas(prefix)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "store.sqlite3"
        yield Backend("sqlite", f"sqlite://{path}", sqlite_path=path)
        return
    prefix: str = request.getfixturevalue("pg_schema_prefix")
    schema = f"{prefix}{next(_counter)}"
    yield Backend("postgres", f"{POSTGRES_URL}?schema={schema}", pg_schema=schema)
    drop_schema(schema)
