"""The PostgreSQL server the store suite runs against (127.0.0.1:5432, database ``test``).

If it is down, start the local cluster; if that fails too, fail the suite with the
reason. A suite that silently skipped its PostgreSQL half would prove nothing.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

POSTGRES_URL = os.environ.get(
    "FASTN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
_START_WAIT_S = 30.0


def _connect() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(POSTGRES_URL, connect_timeout=3, autocommit=True)


def _start_local_cluster() -> str:
    versions = sorted(
        (p.name for p in Path("/etc/postgresql").glob("*") if p.name.isdigit()), key=int
    )
    if not versions:
        return "no cluster under /etc/postgresql"
    done = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return f"pg_ctlcluster exit {done.returncode}: {(done.stderr or done.stdout).strip()}"


def ensure_postgres() -> None:
    """Returns once ``POSTGRES_URL`` accepts connections, or fails the test run."""
    try:
        _connect().close()
        return
    except psycopg.OperationalError as first:
        problem = str(first).strip()
    started = _start_local_cluster()
    deadline = time.monotonic() + _START_WAIT_S
    while time.monotonic() < deadline:
        try:
            _connect().close()
            return
        except psycopg.OperationalError as exc:
            problem = str(exc).strip()
            time.sleep(0.5)
    pytest.fail(
        f"PostgreSQL is required at {POSTGRES_URL} and is not reachable ({problem}); "
        f"tried to start it: {started}",
        pytrace=False,
    )


def drop_schema(name: str) -> None:
    with _connect() as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def drop_schemas(prefix: str) -> None:
    """Every schema this test session created (a test that crashed may leave one)."""
    with _connect() as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (prefix,)
        ).fetchall()
    for (name,) in rows:
        drop_schema(str(name))
