"""The store interface: events, usage counters, integration status, flows, OAuth tokens.

Every backend (SQLite as the embedded default, PostgreSQL for several replicas)
implements this protocol, and the same test suite runs against each. Methods are
async so a network database does not block the event loop; every method is scoped by
tenant id, and no method returns another tenant's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from fastn_gen.store.records import (
    CounterLimit,
    CounterRefusal,
    Event,
    EventPage,
    EventQuery,
    FlowRecord,
    IntegrationStatus,
    UsageRow,
)


class Store(Protocol):
    async def open(self) -> None:
        """Connect and apply pending schema migrations."""

    async def close(self) -> None: ...

    # -- events ---------------------------------------------------------------------------
    async def record_event(self, event: Event) -> None: ...

    async def list_events(self, tenant_id: str, query: EventQuery) -> EventPage:
        """Newest first; stable pagination through ``EventPage.next_cursor``."""

    # -- usage ----------------------------------------------------------------------------
    async def consume(
        self, tenant_id: str, counters: Sequence[CounterLimit], amount: int = 1
    ) -> CounterRefusal | None:
        """Atomically increment every counter by ``amount`` if none would pass its limit.

        All or nothing: on refusal nothing is incremented and the first offending
        counter is returned. Concurrent callers never over-admit.
        """

    async def usage(
        self, tenant_id: str, periods: Sequence[str] | None = None
    ) -> list[UsageRow]: ...

    # -- integration status ---------------------------------------------------------------
    async def record_outcome(
        self,
        tenant_id: str,
        connector: str,
        *,
        ok: bool,
        at: datetime,
        error: str | None = None,
        credentials_expired: bool = False,
    ) -> None:
        """Update health counters after a call or health check."""

    async def set_token_expiry(
        self, tenant_id: str, connector: str, expires_at: datetime | None
    ) -> None: ...

    async def integration_status(
        self, tenant_id: str, connector: str | None = None
    ) -> list[IntegrationStatus]: ...

    # -- flows ----------------------------------------------------------------------------
    async def save_flow(
        self, tenant_id: str, name: str, spec: dict[str, Any], *, at: datetime
    ) -> FlowRecord:
        """Store a new version (1 for a new name, previous + 1 otherwise)."""

    async def get_flow(
        self, tenant_id: str, name: str, version: int | None = None
    ) -> FlowRecord | None: ...

    async def list_flows(self, tenant_id: str) -> list[FlowRecord]:
        """The latest version of each flow."""

    async def set_flow_enabled(self, tenant_id: str, name: str, enabled: bool) -> bool: ...

    async def delete_flow(self, tenant_id: str, name: str) -> bool: ...

    # -- OAuth tokens (encrypted by the caller before they get here) ----------------------
    async def put_secret_blob(self, tenant_id: str, key: str, blob: bytes) -> None: ...

    async def get_secret_blob(self, tenant_id: str, key: str) -> bytes | None: ...
