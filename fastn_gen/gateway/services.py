"""What the management surface needs at run time: the store, the event recorder, quotas.

Built when the gateway starts (``create_app`` or the stdio server), opened in the
server's lifespan (the store connects and migrates, the recorder's writer starts) and
closed when it stops (everything queued is written first).

The store is, in order of precedence: ``--store URL``, ``FASTN_STORE_URL``, then
``<data_dir>/fastn.db`` (SQLite). A URL starting ``postgresql://`` selects PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from fastn_gen.gateway.calls import ConnectorCalls
from fastn_gen.gateway.catalog import Catalog
from fastn_gen.gateway.connection_changes import record_connection_changes
from fastn_gen.gateway.digest import ArgsDigest
from fastn_gen.gateway.executor import Executor
from fastn_gen.gateway.quotas import Clock, QuotaEnforcer, utc_now
from fastn_gen.gateway.recording import EventRecorder
from fastn_gen.gateway.retention import Pruner, RetentionPolicy
from fastn_gen.gateway.tenancy import TenantRegistry
from fastn_gen.store.base import Store
from fastn_gen.store.errors import StoreError
from fastn_gen.store.factory import store_from_url

logger = logging.getLogger(__name__)

STORE_ENV = "FASTN_STORE_URL"
DEFAULT_DB = "fastn.db"


class StoreConfigError(Exception):
    """No store could be chosen or opened."""


def store_location(
    registry: TenantRegistry,
    store_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    env = os.environ if environ is None else environ
    chosen = store_url or env.get(STORE_ENV)
    if chosen:
        return chosen
    if registry.data_dir is None:
        raise StoreConfigError(
            f"no store: give --store, set {STORE_ENV}, or load the tenants from a file"
        )
    return str(registry.data_dir / DEFAULT_DB)


def describe_location(location: str) -> str:
    """The location for logs, without a password a URL may carry."""
    scheme, sep, rest = location.partition("://")
    if not sep or "@" not in rest:
        return location
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else location


class BackgroundWork(Protocol):
    """Work that runs while the services are open (the flows runtime)."""

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


@dataclass
class Services:
    catalog: Catalog
    registry: TenantRegistry
    executor: Executor
    store: Store
    recorder: EventRecorder
    quotas: QuotaEnforcer
    calls: ConnectorCalls
    location: str
    clock: Clock = utc_now
    # The flows runtime, attached by the native tools; started and stopped with the rest.
    flows: BackgroundWork | None = None
    # Whether this process runs the flow scheduler and resumes interrupted runs (a
    # one-tenant stdio server does not).
    schedule_flows: bool = True
    # Background retention (an HTTP gateway's; None: this process never prunes).
    pruner: Pruner | None = None
    _opened: bool = field(default=False, repr=False)
    _startup: asyncio.Task[int] | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        catalog: Catalog,
        registry: TenantRegistry,
        executor: Executor,
        *,
        store_url: str | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Clock = utc_now,
        retention: RetentionPolicy | None = None,
    ) -> Services:
        """Choose the store and build the parts; nothing is opened yet.

        With ``retention`` the services prune the store in the background while open."""
        location = store_location(registry, store_url, environ)
        data_dir = registry.data_dir
        if data_dir is None:
            if "://" in location:
                raise StoreConfigError("no data directory for the argument digest key")
            data_dir = Path(location).expanduser().parent
        # Private: it holds the database of the embedded store and the digest key.
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            store = store_from_url(location, data_dir=data_dir)
        except StoreError as exc:
            raise StoreConfigError(str(exc)) from None
        recorder = EventRecorder(store, ArgsDigest.for_data_dir(data_dir, environ), clock=clock)
        quotas = QuotaEnforcer(store, clock)
        calls = ConnectorCalls(executor, quotas, recorder)
        services = cls(catalog, registry, executor, store, recorder, quotas, calls, location, clock)
        if retention is not None:
            services.pruner = Pruner(store, retention, clock)
        return services

    async def open(self) -> None:
        await self.store.open()
        self.recorder.start()
        self.executor.oauth.observer = self.recorder
        self._opened = True
        logger.info("store: %s", describe_location(self.location))
        if self.flows is not None:
            await self.flows.start()
        # In the background: with many tenants it must not delay serving.
        self._startup = asyncio.get_running_loop().create_task(
            record_connection_changes(self.store, self.recorder, self.registry.tenants),
            name="fastn-connection-changes",
        )
        if self.pruner is not None:
            self.pruner.start()

    async def flush(self) -> None:
        """Return once everything recorded so far (start-up records included) is stored."""
        if self._startup is not None and not self._startup.done():
            # Shielded: a reader giving up must not cancel the start-up task.
            await asyncio.wait([self._startup])
        await self.recorder.flush()

    async def aclose(self) -> None:
        if not self._opened:
            return
        self._opened = False
        try:
            if self.pruner is not None:
                await self.pruner.aclose()  # cancelled; each batch commits whole or not at all
            if self.flows is not None:
                # First: runs still going are interrupted and recorded as such.
                try:
                    await self.flows.aclose()
                except Exception:
                    logger.exception("stopping the flows runtime failed")
            self.executor.oauth.observer = None
            if self._startup is not None:
                try:
                    await self._startup
                except Exception:
                    logger.exception("recording connection changes failed")
                self._startup = None
            await self.recorder.aclose()
        finally:
            await self.store.close()
