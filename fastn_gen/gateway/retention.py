"""Background retention: the gateway prunes old events, usage counters and flow runs.

``serve --retention-days N`` (``FASTN_RETENTION_DAYS``; 90 by default, 0 keeps
everything) keeps N days: at start and then every ``FASTN_RETENTION_INTERVAL_S``
seconds (3600) the gateway deletes older rows in small batches
(``Store.prune_older_than``), on a task of its own so requests never wait for it.
Replicas sharing one store take the ``retention`` lease first, so one prunes at a time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from fastn_gen.gateway.quotas import Clock
from fastn_gen.store.base import Store
from fastn_gen.store.retention import DEFAULT_BATCH, PruneCounts

logger = logging.getLogger(__name__)

LEASE_NAME = "retention"
# Held while one pass runs; a replica that dies mid-pass frees it after this long.
LEASE = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    days: int = 90
    interval_s: float = 3600.0
    batch_size: int = DEFAULT_BATCH

    @property
    def enabled(self) -> bool:
        return self.days > 0


class Pruner:
    """Runs retention passes while the gateway serves; counts what it deleted."""

    def __init__(self, store: Store, policy: RetentionPolicy, clock: Clock) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.deleted: Counter[str] = Counter()
        self.passes = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if not self.policy.enabled:
            logger.info("retention: off (events and usage are kept forever)")
            return
        logger.info(
            "retention: %d days, pruned every %gs", self.policy.days, self.policy.interval_s
        )
        self._task = asyncio.get_running_loop().create_task(self._run(), name="fastn-retention")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    async def _run(self) -> None:
        while True:
            try:
                await self.prune_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("retention: pruning failed; trying again at the next pass")
            await asyncio.sleep(self.policy.interval_s)

    async def prune_once(self) -> PruneCounts | None:
        """One pass, if this process gets the lease; None when another holds it."""
        now = self.clock()
        if not await self.store.acquire_lease(LEASE_NAME, self.owner, now=now, until=now + LEASE):
            logger.debug("retention: another process is pruning")
            return None
        try:
            cutoff = now - timedelta(days=self.policy.days)
            counts = await self.store.prune_older_than(cutoff, batch_size=self.policy.batch_size)
        finally:
            await self.store.release_lease(LEASE_NAME, self.owner)
        self.passes += 1
        self.deleted.update(counts.as_dict())
        logger.info(
            "retention: deleted %d events, %d usage counters, %d flow runs (%d steps) "
            "older than %s",
            counts.events,
            counts.usage,
            counts.flow_runs,
            counts.flow_steps,
            cutoff.isoformat(timespec="seconds"),
        )
        return counts

    def metrics(self) -> Collector:
        return _PrunedCounter(self)


class _PrunedCounter(Collector):
    """``fastn_store_pruned_rows_total{table=...}`` and ``fastn_store_prune_passes_total``."""

    def __init__(self, pruner: Pruner) -> None:
        self.pruner = pruner

    def collect(self) -> Iterator[Metric]:
        rows = CounterMetricFamily(
            "fastn_store_pruned_rows",
            "Rows deleted by retention, by table (events, usage, flow_runs, flow_steps).",
            labels=["table"],
        )
        for table in PruneCounts().as_dict():
            rows.add_metric([table], self.pruner.deleted[table])
        yield rows
        yield CounterMetricFamily(
            "fastn_store_prune_passes",
            "Retention passes this process ran (it held the retention lease).",
            value=self.pruner.passes,
        )
