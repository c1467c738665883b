"""Starts event-triggered flows when the recorder reports a failed call or a status change.

The event recorder calls :meth:`tool_call_failed` and :meth:`health_changed` after it
has written the event or outcome; they only queue, so the writer never waits for a
flow. A dispatcher task then starts, for each enabled flow of the tenant whose trigger
matches, one run keyed by the event, in the process that recorded the event (status
changes are read atomically with the update, so only one process sees each change).

Two rules keep flows from feeding themselves: failed calls made by flow steps do not
trigger ``tool_call.failed`` flows, and while an event-triggered run of a flow is in
progress here, further events for that flow start nothing (they are counted in the log).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastn_gen.flows.errors import FlowRunError
from fastn_gen.store.ids import new_event_id
from fastn_gen.store.records import Event, FlowRecord, HealthChange

if TYPE_CHECKING:
    from fastn_gen.flows.runtime import FlowRuntime

logger = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
# The health an integration reaches -> the event; "recovered" needs an unhealthy start.
_BECAME = {
    "failing": "integration.failing",
    "credentials_expired": "integration.credentials_expired",
}
_UNHEALTHY = frozenset({"degraded", "failing", "credentials_expired"})


@dataclass(frozen=True, slots=True)
class Occurrence:
    tenant_id: str
    event: str
    key: str
    connector: str | None
    tool: str | None
    payload: dict[str, Any]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _matches(record: FlowRecord, occurrence: Occurrence) -> bool:
    trigger = record.spec.get("trigger") or {}
    if not record.enabled or trigger.get("type") != "event":
        return False
    if trigger.get("event") != occurrence.event:
        return False
    connector, tool = trigger.get("connector"), trigger.get("tool")
    return (connector is None or connector == occurrence.connector) and (
        tool is None or tool == occurrence.tool
    )


class EventTriggers:
    def __init__(self, runtime: FlowRuntime) -> None:
        self.runtime = runtime
        self._queue: asyncio.Queue[Occurrence] = asyncio.Queue(QUEUE_SIZE)
        self.dropped = 0
        self.coalesced = 0

    # -- the recorder's listener (called from its writer task) ------------------------------

    def tool_call_failed(self, event: Event) -> None:
        payload = {
            "type": "event",
            "event": "tool_call.failed",
            "event_id": event.id,
            "at": _iso(event.at),
            "tool": event.tool,
            "connector": event.connector,
            "error": event.error,
            "error_kind": event.detail.get("error_kind"),
            "upstream_status": event.upstream_status,
        }
        self._put(
            Occurrence(
                event.tenant_id, "tool_call.failed", event.id, event.connector, event.tool, payload
            )
        )

    def health_changed(
        self,
        tenant_id: str,
        connector: str,
        change: HealthChange,
        at: datetime,
        error: str | None,
    ) -> None:
        name = _BECAME.get(change.after)
        if name is None and change.after == "healthy" and change.before in _UNHEALTHY:
            name = "integration.recovered"
        if name is None:
            return
        payload = {
            "type": "event",
            "event": name,
            "at": _iso(at),
            "connector": connector,
            "health": change.after,
            "previous_health": change.before,
            "consecutive_failures": change.consecutive_failures,
            "error": error,
        }
        self._put(Occurrence(tenant_id, name, new_event_id(at), connector, None, payload))

    def _put(self, occurrence: Occurrence) -> None:
        try:
            self._queue.put_nowait(occurrence)
        except asyncio.QueueFull:
            self.dropped += 1
            logger.warning(
                "flow event queue full: %s for %s not handled",
                occurrence.event,
                occurrence.tenant_id,
            )

    # -- dispatch ---------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            occurrence = await self._queue.get()
            try:
                await self.dispatch(occurrence)
            except Exception:
                logger.exception("starting flows for %s failed", occurrence.event)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Return once every event queued so far has been dispatched."""
        await self._queue.join()

    async def dispatch(self, occurrence: Occurrence) -> int:
        runtime = self.runtime
        tenant = await runtime.services.registry.find(occurrence.tenant_id)
        if tenant is None:
            return 0
        started = 0
        for record in await runtime.services.store.list_flows(tenant.id):
            if not _matches(record, occurrence):
                continue
            if runtime.running(tenant.id, record.name, "event"):
                self.coalesced += 1
                logger.info(
                    "flow %s is already running for an event; %s not started again",
                    record.name,
                    occurrence.event,
                )
                continue
            try:
                run = await runtime.start_run(
                    tenant, record, occurrence.payload, "event:" + occurrence.key
                )
            except FlowRunError as exc:
                logger.warning("flow %s of %s not started: %s", record.name, tenant.id, exc)
                continue
            started += run is not None
        return started
