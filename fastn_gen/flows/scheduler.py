"""Fires scheduled flows: one scheduler at a time across processes, each due time once.

Every gateway process runs this loop, but only the holder of the ``flows:scheduler``
lease in the store looks for due runs; the others keep trying to take the lease, so
one of them carries on within a lease period if the holder dies. Beyond the lease, a
run is created with the key ``schedule:<due time>``, unique per flow in the store: even
two schedulers believing they hold the lease (a paused process waking up late) cannot
fire the same due time twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from fastn_gen.flows.cron import HORIZON, CronSchedule
from fastn_gen.flows.errors import FlowRunError
from fastn_gen.store.base import Store
from fastn_gen.store.records import FlowRecord

if TYPE_CHECKING:
    from fastn_gen.flows.runtime import FlowRuntime

logger = logging.getLogger(__name__)

LEASE_NAME = "flows:scheduler"


@dataclass(frozen=True, slots=True)
class Scheduled:
    tenant_id: str
    record: FlowRecord
    schedule: CronSchedule
    cron: str
    timezone: str


def _scheduled(tenant_id: str, record: FlowRecord) -> Scheduled | None:
    trigger = record.spec.get("trigger") or {}
    if not record.enabled or trigger.get("type") != "schedule":
        return None
    cron, zone = str(trigger.get("cron", "")), str(trigger.get("timezone") or "UTC")
    try:
        return Scheduled(tenant_id, record, CronSchedule.parse(cron, zone), cron, zone)
    except (ValueError, KeyError) as exc:  # stored before a check existed, or a zone gone
        logger.warning("flow %s of %s has an unusable schedule: %s", record.name, tenant_id, exc)
        return None


class Scheduler:
    def __init__(self, runtime: FlowRuntime) -> None:
        self.runtime = runtime
        self.leader = False
        self._entries: list[Scheduled] = []
        self._refreshed_at: datetime | None = None
        self._tried: dict[tuple[str, str, datetime], datetime] = {}
        # (tenant, flow, version) -> the next due time after the last look at it.
        self._quiet_until: dict[tuple[str, str, int], datetime] = {}

    @property
    def _store(self) -> Store:
        return self.runtime.services.store

    def refresh_soon(self) -> None:
        self._refreshed_at = None

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                logger.exception("flow scheduler tick failed")
            await asyncio.sleep(self.runtime.options.tick_s)

    async def release(self) -> None:
        if self.leader:
            self.leader = False
            try:
                await self._store.release_lease(LEASE_NAME, self.runtime.owner)
            except Exception:
                logger.exception("could not release the scheduler lease")

    async def tick(self, now: datetime | None = None) -> int:
        """Fire what is due at ``now`` if this process holds the lease; how many fired."""
        runtime = self.runtime
        now = now or runtime.services.clock()
        held = await self._store.acquire_lease(
            LEASE_NAME, runtime.owner, now=now, until=now + runtime.lease
        )
        if held != self.leader:
            logger.info("flow scheduler: %s", "this process schedules" if held else "standing by")
            self.leader = held
            self.refresh_soon()
        if not held:
            return 0
        refresh = timedelta(seconds=runtime.options.refresh_s)
        if self._refreshed_at is None or now - self._refreshed_at >= refresh:
            await self._refresh()
            self._refreshed_at = now
        fired = 0
        misfire = timedelta(seconds=runtime.options.misfire_s)
        for entry in self._entries:
            key = (entry.tenant_id, entry.record.name, entry.record.version)
            quiet = self._quiet_until.get(key)
            if quiet is not None and now < quiet:
                continue  # nothing falls due before then: no need to look
            since = max(entry.record.created_at, now - misfire)
            for due in entry.schedule.due_times(since, now):
                slot = (entry.tenant_id, entry.record.name, due)
                if slot in self._tried:
                    continue
                self._tried[slot] = due
                outcome = await self._fire(entry, due)
                if outcome is None:  # the flow changed since it was read: look again
                    del self._tried[slot]
                    break
                fired += outcome
            self._quiet_until[key] = entry.schedule.next_due(now) or now + HORIZON
        self._tried = {k: v for k, v in self._tried.items() if v >= now - misfire}
        return fired

    async def _refresh(self) -> None:
        # One query for every tenant; flows of tenants no longer configured are left out.
        registry = self.runtime.services.registry
        entries = []
        for record in await self._store.list_scheduled_flows():
            if await registry.find(record.tenant_id) is not None:
                entry = _scheduled(record.tenant_id, record)
                if entry is not None:
                    entries.append(entry)
        self._entries = entries
        kept = {(e.tenant_id, e.record.name, e.record.version) for e in entries}
        self._quiet_until = {k: v for k, v in self._quiet_until.items() if k in kept}

    async def _fire(self, entry: Scheduled, due: datetime) -> int | None:
        """1 when a run started, 0 when the due time was fired already, None when the
        flow was changed, disabled or deleted since the schedules were read."""
        runtime = self.runtime
        tenant = await runtime.services.registry.find(entry.tenant_id)
        # The latest word on the flow: it may have been disabled, changed or deleted.
        current = await self._store.get_flow(entry.tenant_id, entry.record.name)
        if tenant is None or current is None or current.version != entry.record.version:
            self.refresh_soon()
            return None
        if not current.enabled:
            self.refresh_soon()
            return None
        trigger = {
            "type": "schedule",
            "due_at": due.isoformat().replace("+00:00", "Z"),
            "local_time": due.astimezone(entry.schedule.zone).isoformat(),
            "cron": entry.cron,
            "timezone": entry.timezone,
        }
        key = "schedule:" + trigger["due_at"]
        try:
            run = await runtime.start_run(tenant, current, trigger, key)
        except FlowRunError as exc:
            logger.warning("flow %s of %s not fired: %s", current.name, tenant.id, exc)
            return 0
        if run is not None:
            logger.info("flow %s of %s fired for %s", current.name, tenant.id, trigger["due_at"])
        return int(run is not None)
