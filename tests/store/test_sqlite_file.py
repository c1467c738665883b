"""What the SQLite backend leaves on disk."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from fastn_gen.store.migrations import MIGRATIONS
from fastn_gen.store.sqlite import SQLiteStore
from tests.store.helpers import event

pytestmark = pytest.mark.anyio


async def test_database_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "data" / "store.sqlite3"
    async with SQLiteStore(path) as store:
        await store.record_event(event("acme", 0))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        with sqlite3.connect(path) as other:
            assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            versions = other.execute("SELECT version FROM schema_version").fetchall()
            assert versions == [(m.version,) for m in MIGRATIONS]
            assert other.execute("SELECT count(*) FROM events").fetchone() == (1,)
