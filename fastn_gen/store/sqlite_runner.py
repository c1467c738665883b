"""Runs sqlite3 work off the event loop: one writer thread, a few reader threads.

All writes of one store instance go through a single connection on a single thread, so
they never contend with each other inside the process; ``BEGIN IMMEDIATE`` takes
SQLite's write lock up front, so writers in other processes (or other instances) wait
for it (``busy_timeout``) instead of failing half-way. WAL mode lets readers, each on
its own connection, run while a write is in progress.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from fastn_gen.store.errors import StoreError

T = TypeVar("T")


class SQLiteRunner:
    def __init__(self, path: Path, *, busy_timeout_s: float, readers: int) -> None:
        self.path = path
        self._busy_timeout_s = busy_timeout_s
        self._readers = max(1, readers)
        self._writer: ThreadPoolExecutor | None = None
        self._reader: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Created 0600 before SQLite opens it: it holds tenants' events and token blobs.
        # SQLite gives the -wal and -shm files the same permissions.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="fastn-store-write")
        self._reader = ThreadPoolExecutor(self._readers, thread_name_prefix="fastn-store-read")

    def stop(self) -> None:
        for pool in (self._writer, self._reader):
            if pool is not None:
                pool.shutdown(wait=True)
        self._writer = self._reader = None
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

    @property
    def running(self) -> bool:
        return self._writer is not None

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction on the writer thread."""
        return await self._submit(self._writer, lambda: self._transaction(work))

    async def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on a read-only connection (each statement sees committed data)."""
        return await self._submit(self._reader, lambda: work(self._connection(readonly=True)))

    async def _submit(self, pool: ThreadPoolExecutor | None, call: Callable[[], T]) -> T:
        if pool is None:
            raise StoreError("the store is not open")
        return await asyncio.get_running_loop().run_in_executor(pool, call)

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        connection = self._connection(readonly=False)
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(connection)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return result

    def _connection(self, *, readonly: bool) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect(readonly=readonly)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _wal_mode(self, connection: sqlite3.Connection) -> str:
        """Switch to WAL unless already there, retrying while another writer holds a lock.

        Setting journal_mode answers SQLITE_BUSY at once (the busy handler is not
        consulted), so two stores opening one file together would otherwise fail.
        """
        deadline = time.monotonic() + self._busy_timeout_s
        while True:
            mode = str(connection.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            if mode == "wal":
                return mode
            try:
                return str(connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _connect(self, *, readonly: bool) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; we say BEGIN ourselves.
        connection = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,  # closed from the thread that stops the store
        )
        connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
        if readonly:
            connection.execute("PRAGMA query_only = ON")
        else:
            mode = self._wal_mode(connection)
            if mode != "wal":
                raise StoreError(f"could not switch {self.path.name} to WAL mode ({mode})")
            # In WAL mode NORMAL survives an application crash; a power loss may drop the
            # last transactions before a checkpoint but never corrupts the database.
            connection.execute("PRAGMA synchronous = NORMAL")
        return connection
