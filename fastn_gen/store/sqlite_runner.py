"""Runs sqlite3 work off the event loop: one writer thread, a few reader threads.

All writes of one store instance go through a single connection on a single thread, so
they never contend with each other inside the process; ``BEGIN IMMEDIATE`` takes
SQLite's write lock up front, so writers in other processes (or other instances) wait
for it (``busy_timeout``) instead of failing half-way. WAL mode lets readers, each on
its own connection, run while a write is in progress.

Writes are committed in groups: the writer thread takes every write queued while it was
busy and runs them, in the order they were queued, in one transaction, each inside its
own savepoint (a write that raises is rolled back alone and its caller gets the error).
Each caller still gets its answer only after the commit, and a quota check still sees
every increment before it, so nothing is less exact; a group costs one thread wake-up,
one commit and one wake-up of the event loop instead of one of each per write.
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
from typing import Any, TypeVar

from fastn_gen.store.errors import StoreError

T = TypeVar("T")

# A queued write: its work, and the future (on its caller's loop) that gets the answer.
_Write = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]"]
GROUP_LIMIT = 256  # writes per transaction at most


def _settle(outcomes: list[tuple[asyncio.Future[Any], BaseException | None, Any]]) -> None:
    """On the caller's loop: hand each write its answer or its error."""
    for future, error, result in outcomes:
        if future.done():  # the caller was cancelled meanwhile
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


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
        self._queued: list[_Write] = []
        self._draining = False  # a drain job is queued or running on the writer thread
        self.transactions = 0  # write transactions begun (for diagnostics and tests)

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Created 0600 before SQLite opens it: it holds tenants' events and token blobs.
        # SQLite gives the -wal and -shm files the same permissions.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="fastn-store-write")
        self._reader = ThreadPoolExecutor(self._readers, thread_name_prefix="fastn-store-read")

    def stop(self) -> None:
        writer, self._writer = self._writer, None  # no new writes from here on
        for pool in (writer, self._reader):
            if pool is not None:
                pool.shutdown(wait=True)
        self._reader = None
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

    @property
    def running(self) -> bool:
        return self._writer is not None

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a ``BEGIN IMMEDIATE`` transaction on the writer thread.

        The transaction may hold other writes queued at the same time (see above).
        """
        writer = self._writer
        if writer is None:
            raise StoreError("the store is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._queued.append((work, future))
            start, self._draining = not self._draining, True
        if start:
            try:
                writer.submit(self._drain)
            except RuntimeError:  # shut down meanwhile
                with self._lock:
                    self._queued.clear()
                    self._draining = False
                raise StoreError("the store is not open") from None
        return await future

    def _drain(self) -> None:
        """Writer thread: commit the queued writes, group by group, until none is left."""
        while True:
            with self._lock:
                group, self._queued = self._queued[:GROUP_LIMIT], self._queued[GROUP_LIMIT:]
                if not group:
                    self._draining = False
                    return
            outcomes = self._commit_group(group)
            by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
            for outcome in outcomes:
                by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
            for loop, settled in by_loop.items():
                try:
                    loop.call_soon_threadsafe(_settle, settled)
                except RuntimeError:  # that loop is closed: nobody is waiting any more
                    pass

    def _commit_group(
        self, group: list[_Write]
    ) -> list[tuple[asyncio.Future[Any], BaseException | None, Any]]:
        if len(group) == 1:
            work, future = group[0]
            try:
                return [(future, None, self._transaction(work))]
            except BaseException as exc:  # handed to the caller
                return [(future, exc, None)]
        done: list[tuple[asyncio.Future[Any], BaseException | None, Any]] = []
        try:
            connection = self._connection(readonly=False)
            connection.execute("BEGIN IMMEDIATE")
            self.transactions += 1
            try:
                for work, future in group:
                    connection.execute("SAVEPOINT one_write")
                    try:
                        result = work(connection)
                    except Exception as exc:
                        connection.execute("ROLLBACK TO one_write")
                        done.append((future, exc, None))
                    else:
                        done.append((future, None, result))
                    connection.execute("RELEASE one_write")
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        except BaseException as exc:
            # Nothing of the group was committed: every write in it failed.
            return [(future, exc, None) for _, future in group]
        return done

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
        self.transactions += 1
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
