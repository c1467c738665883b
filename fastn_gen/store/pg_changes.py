"""Change notices from PostgreSQL: LISTEN on the store's channel.

Writers send ``pg_notify(channel, '<kind>:<tenant id>')`` inside the transaction that
makes a change, so a notice arrives exactly when the change is visible, and not at all
for a change that rolled back. Delivery is at most once and only while connected:
after a lost connection the listener reports ``tenant:*`` (anything may have changed)
once it is back, and readers must also bound staleness on their own (cache entries
expire; see docs/tenants.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql

from fastn_gen.store.tenant_records import ALL_TENANTS
from fastn_gen.store.tenant_rules import change_notice

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "fastn_changes"
RECONNECT_S = 1.0

OnNotice = Callable[[str], Awaitable[None]]


def channel_for(schema: str | None) -> str:
    """One channel per schema (replicas on other schemas of the database hear nothing)."""
    if schema is None:
        return CHANNEL_PREFIX
    return f"{CHANNEL_PREFIX}_{hashlib.sha256(schema.encode()).hexdigest()[:16]}"


class ChangeListener:
    """Runs until cancelled, calling ``on_notice`` for every notice, in order."""

    def __init__(self, conninfo: str, channel: str, *, reconnect_s: float = RECONNECT_S) -> None:
        self._conninfo = conninfo
        self.channel = channel
        self._reconnect_s = reconnect_s
        self.connected = asyncio.Event()

    async def run(self, on_notice: OnNotice) -> None:
        missed = False
        while True:
            try:
                conn: psycopg.AsyncConnection[Any] = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                )
            except psycopg.Error as exc:
                logger.warning("change notices: cannot connect (%s); retrying", type(exc).__name__)
                await asyncio.sleep(self._reconnect_s)
                continue
            try:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                self.connected.set()
                if missed:
                    # Notices sent while disconnected are gone: anything may have changed.
                    await on_notice(change_notice("tenant", ALL_TENANTS))
                async for notice in conn.notifies():
                    await on_notice(notice.payload)
            except psycopg.Error as exc:
                logger.warning("change notices: connection lost (%s)", type(exc).__name__)
            finally:
                self.connected.clear()
                missed = True
                await conn.close()
            await asyncio.sleep(self._reconnect_s)
