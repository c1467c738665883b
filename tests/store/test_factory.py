"""Choosing a backend from a URL, a path or FASTN_STORE_URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from fastn_gen.store.errors import StoreError
from fastn_gen.store.factory import ENV_VAR, open_store, store_from_url
from fastn_gen.store.migrations import MIGRATIONS
from fastn_gen.store.postgres import PostgresStore
from fastn_gen.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _no_env_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def sqlite_path(target: str | Path | None, data_dir: Path | None = None) -> Path:
    store = store_from_url(target, data_dir=data_dir)
    assert isinstance(store, SQLiteStore)
    return store.path


def test_sqlite_urls_and_paths(tmp_path: Path) -> None:
    assert sqlite_path("sqlite:///var/lib/fastn/store.db") == Path("/var/lib/fastn/store.db")
    assert sqlite_path("sqlite:state.db", tmp_path) == tmp_path / "state.db"
    assert sqlite_path("state.db", tmp_path) == tmp_path / "state.db"
    assert sqlite_path(Path("nested/state.db"), tmp_path) == tmp_path / "nested/state.db"
    assert sqlite_path(str(tmp_path / "abs.db"), Path("/elsewhere")) == tmp_path / "abs.db"
    assert sqlite_path("sqlite:///tmp/with%20space.db") == Path("/tmp/with space.db")
    assert sqlite_path(None, tmp_path) == tmp_path / "fastn.db"


def test_postgres_url_with_schema_parameter() -> None:
    store = store_from_url(
        "postgresql://app:s3cret@db.internal:6432/fastn?schema=gw&sslmode=require"
    )
    assert isinstance(store, PostgresStore)
    assert store.schema == "gw"
    assert store.describe() == "db.internal:6432/fastn schema gw"  # no user or password
    assert isinstance(store_from_url("postgres://db/fastn"), PostgresStore)
    with pytest.raises(ValueError):
        store_from_url("postgresql://db/fastn?schema=Bad-Name")


def test_environment_variable_is_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ENV_VAR, f"sqlite://{tmp_path / 'from-env.db'}")
    assert sqlite_path(None, Path("/ignored")) == tmp_path / "from-env.db"
    assert sqlite_path("explicit.db", tmp_path) == tmp_path / "explicit.db"  # argument wins


def test_unusable_configuration_is_refused() -> None:
    with pytest.raises(StoreError, match=ENV_VAR):
        store_from_url(None)
    with pytest.raises(StoreError, match="mysql"):
        store_from_url("mysql://db/fastn")
    with pytest.raises(StoreError):
        store_from_url("sqlite:")


async def test_open_store_opens_and_migrates(tmp_path: Path) -> None:
    store = await open_store("sqlite:state.db", data_dir=tmp_path / "data")
    try:
        assert isinstance(store, SQLiteStore)
        assert await store.schema_versions() == [m.version for m in MIGRATIONS]
    finally:
        await store.close()


async def test_unreachable_postgres_fails_without_leaking_the_password() -> None:
    store = PostgresStore("postgresql://postgres:hunter2@127.0.0.1:1/test", connect_timeout_s=1.0)
    with pytest.raises(StoreError) as caught:
        await store.open()
    assert "127.0.0.1:1/test" in str(caught.value)
    assert "hunter2" not in str(caught.value)
