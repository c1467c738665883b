"""The store interface: events, usage counters, integration status, flows, OAuth tokens.

Every backend (SQLite as the embedded default, PostgreSQL for several replicas)
implements this protocol, and the same test suite runs against each. Methods are
async so a network database does not block the event loop; every method is scoped by
tenant id, and no method returns another tenant's rows, except the two the flows
runtime uses to find its work across tenants and the one the gateway's start-up reads
connection snapshots with (none of them ever answers a tenant).

Changes since the first draft (all additive; no existing signature changed):
- ``async with store:`` opens and closes it (``__aenter__``/``__aexit__``).
- ``list_flow_versions``, ``delete_secret_blob`` and ``prune_events`` were added.
- Errors: ``fastn_gen.store.errors`` (``StoreError``, ``InvalidCursor``, ``SchemaTooNew``).
- Event ids: ``fastn_gen.store.ids.new_event_id(at)`` makes the time-ordered ids events
  should use; backends order by (``at``, ``id``) so any unique id works.
- Backends: ``fastn_gen.store.factory.open_store(url_or_path)``.
- Flows engine (migration 2): flow runs, flow steps and leases; ``record_outcome``
  returns the integration's health before and after (it returned None, which no caller
  used); ``delete_flow`` also deletes the flow's runs and steps. Two methods read across
  tenants, for the flows runtime only: ``list_scheduled_flows``, ``tenants_with_stale_runs``.
- Tenants in the store (migration 3): tenants, API keys (salted hashes) and
  connections, for deployments too large for ``tenants.yaml``; records in
  ``fastn_gen.store.tenant_records``. PostgreSQL also notifies every change (``pg_changes``).
- ``get_secret_blobs`` and ``put_secret_blobs``: many tenants' blobs read in one query and
  written, with events, in one transaction (the connection snapshots of a start with
  many tenants; ``fastn_gen.gateway.connection_changes``).
- ``prune_older_than`` (migration 5 indexes what it deletes by): retention across
  tenants, in bounded batches (``fastn_gen.store.retention``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from fastn_gen.store.records import (
    CounterLimit,
    CounterRefusal,
    Event,
    EventPage,
    EventQuery,
    FlowRecord,
    FlowRun,
    FlowRunStatus,
    FlowStepRecord,
    HealthChange,
    IntegrationStatus,
    UsageRow,
)
from fastn_gen.store.retention import DEFAULT_BATCH, PruneCounts
from fastn_gen.store.tenant_records import (
    ApiKeyRow,
    ConnectionRow,
    ImportResult,
    TenantImport,
    TenantRecord,
    TenantRow,
)


class Store(Protocol):
    async def open(self) -> None:
        """Connect and apply pending schema migrations."""

    async def close(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    # -- events ---------------------------------------------------------------------------
    async def record_event(self, event: Event) -> None:
        """Store an event; recording the same (tenant, id) again is a no-op."""

    async def list_events(self, tenant_id: str, query: EventQuery) -> EventPage:
        """Newest first; stable pagination through ``EventPage.next_cursor``.

        ``since`` is inclusive and ``until`` exclusive. A page never holds more than
        1000 events. An unreadable cursor raises ``InvalidCursor``.
        """

    async def prune_events(self, before: datetime, tenant_id: str | None = None) -> int:
        """Delete events older than ``before`` (of one tenant, or all); returns how many."""

    async def prune_older_than(
        self, before: datetime, *, batch_size: int = DEFAULT_BATCH, dry_run: bool = False
    ) -> PruneCounts:
        """Retention, across tenants: delete events before ``before``, usage counters
        whose period ended by then and finished flow runs (with their steps) that
        finished before it, in transactions of at most ``batch_size`` rows (of runs for
        runs). Unfinished runs and the current periods' counters always stay. With
        ``dry_run`` nothing is deleted and the counts are what would be."""

    # -- usage ----------------------------------------------------------------------------
    async def consume(
        self, tenant_id: str, counters: Sequence[CounterLimit], amount: int = 1
    ) -> CounterRefusal | None:
        """Atomically increment every counter by ``amount`` if none would pass its limit.

        All or nothing: on refusal nothing is incremented and the first offending
        counter is returned. Concurrent callers never over-admit.
        """

    async def usage(self, tenant_id: str, periods: Sequence[str] | None = None) -> list[UsageRow]:
        """Counters above zero, sorted by (period, key), optionally only of ``periods``."""

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
    ) -> HealthChange:
        """Update health counters after a call or health check.

        A success resets the consecutive failures and clears ``credentials_expired``;
        a failure flagged ``credentials_expired`` keeps that health until a success.
        Returns the health just before and just after this outcome, read atomically
        with the update: of several processes, exactly one sees a given change.
        """

    async def set_token_expiry(
        self, tenant_id: str, connector: str, expires_at: datetime | None
    ) -> None: ...

    async def integration_status(
        self, tenant_id: str, connector: str | None = None
    ) -> list[IntegrationStatus]:
        """Sorted by connector. Health: 0 consecutive failures healthy, 1-2 degraded,
        3 or more failing; ``unknown`` before any outcome is recorded."""

    # -- flows ----------------------------------------------------------------------------
    async def save_flow(
        self, tenant_id: str, name: str, spec: dict[str, Any], *, at: datetime
    ) -> FlowRecord:
        """Store a new version (1 for a new name, previous + 1 otherwise).

        A new flow starts enabled; a new version keeps the flow's enabled state.
        """

    async def get_flow(
        self, tenant_id: str, name: str, version: int | None = None
    ) -> FlowRecord | None: ...

    async def list_flows(self, tenant_id: str) -> list[FlowRecord]:
        """The latest version of each flow, sorted by name."""

    async def list_flow_versions(self, tenant_id: str, name: str) -> list[FlowRecord]:
        """Every stored version of one flow, oldest first (empty if unknown)."""

    async def set_flow_enabled(self, tenant_id: str, name: str, enabled: bool) -> bool:
        """False when there is no such flow."""

    async def delete_flow(self, tenant_id: str, name: str) -> bool:
        """Delete every version, and the flow's runs and steps; False when there was no
        such flow. Saving the name again later starts at version 1."""

    # -- flow runs ------------------------------------------------------------------------
    async def create_flow_run(self, run: FlowRun) -> bool:
        """Store a new run (status running, with owner and lease); False, storing
        nothing, when the flow already has a run with this ``trigger_key``."""

    async def get_flow_run(self, tenant_id: str, run_id: str) -> FlowRun | None: ...

    async def list_flow_runs(
        self,
        tenant_id: str,
        flow_name: str | None = None,
        *,
        status: FlowRunStatus | None = None,
        limit: int = 20,
    ) -> list[FlowRun]:
        """Newest first (by start); at most 1000."""

    async def finish_flow_run(
        self,
        tenant_id: str,
        run_id: str,
        owner: str,
        *,
        status: FlowRunStatus,
        at: datetime,
        error: str | None = None,
    ) -> bool:
        """End a running run that ``owner`` holds: ``succeeded``/``failed`` (final), or
        ``interrupted`` (its lease ends now, so another process may take it over).
        False when the run is not running or ``owner`` no longer holds it."""

    async def renew_run_lease(
        self, tenant_id: str, run_id: str, owner: str, *, until: datetime
    ) -> bool:
        """Extend the lease of a running run ``owner`` holds; False when it lost it."""

    async def claim_stale_runs(
        self, tenant_id: str, owner: str, *, now: datetime, until: datetime
    ) -> list[FlowRun]:
        """Take over the tenant's unfinished runs whose lease ended by ``now``: they
        become ``owner``'s, running, leased until ``until``, ``resumed`` + 1. Oldest
        first. A run is taken over by one claimer only, and never by the owner that is
        running it (its lease renewal was late; it has not stopped)."""

    async def record_flow_step(self, step: FlowStepRecord) -> None:
        """Insert or replace the record ``(tenant, run_id, seq)``."""

    async def list_flow_steps(self, tenant_id: str, run_id: str) -> list[FlowStepRecord]:
        """A run's step records by ``seq``."""

    # -- across tenants, for the flows runtime only (never answered to a tenant) ---------
    async def list_scheduled_flows(self) -> list[FlowRecord]:
        """The latest version of every enabled flow with a schedule trigger, of every
        tenant, sorted by (tenant, name)."""

    async def tenants_with_stale_runs(self, now: datetime) -> list[str]:
        """The tenants having unfinished runs whose lease ended by ``now``, sorted."""

    # -- leases (not a tenant's: the scheduler's, for instance) ---------------------------
    async def acquire_lease(self, name: str, owner: str, *, now: datetime, until: datetime) -> bool:
        """Hold lease ``name`` until ``until``: True when it was free, expired by
        ``now`` or already ``owner``'s (then renewed); False when another holds it."""

    async def release_lease(self, name: str, owner: str) -> bool:
        """Give up ``owner``'s lease now; False when ``owner`` did not hold it."""

    # -- OAuth tokens (encrypted by the caller before they get here) ----------------------
    async def put_secret_blob(self, tenant_id: str, key: str, blob: bytes) -> None: ...

    async def get_secret_blob(self, tenant_id: str, key: str) -> bytes | None: ...

    async def delete_secret_blob(self, tenant_id: str, key: str) -> bool: ...

    # -- many tenants at once, for the gateway's start-up only (never answered to a tenant)
    async def get_secret_blobs(self, key: str, tenant_ids: Sequence[str]) -> dict[str, bytes]:
        """The blob stored under ``key`` of each of ``tenant_ids`` that has one, by tenant."""

    async def put_secret_blobs(
        self, blobs: Sequence[tuple[str, str, bytes]], *, events: Sequence[Event] = ()
    ) -> None:
        """Create or replace each ``(tenant_id, key, blob)`` and record ``events``
        (as ``record_event`` does), all in one transaction."""

    # -- tenants, API keys, connections (tenants kept in the store) -----------------------
    async def put_tenant(self, tenant: TenantRow, *, at: datetime) -> bool:
        """Create or update a tenant (its keys and connections stay); True if created."""

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        """The tenant with its connections (by name), or None."""

    async def list_tenants(self, *, after: str | None = None, limit: int = 100) -> list[TenantRow]:
        """Tenants by id, those after ``after`` (keyset pages); at most 1000."""

    async def count_tenants(self) -> int: ...

    async def delete_tenant(self, tenant_id: str) -> bool:
        """Delete the tenant with its keys and connections; False when there was none."""

    async def add_api_key(self, key: ApiKeyRow, *, at: datetime) -> None:
        """Store a key's hash. ``UnknownTenant`` without the tenant; ``KeyIdTaken`` when
        the id is another key's (ids are unique across tenants). Adding the same key
        again changes nothing."""

    async def get_api_key(self, key_id: str) -> ApiKeyRow | None:
        """The key with this id, revoked or not: one primary-key lookup."""

    async def list_api_keys(self, tenant_id: str) -> list[ApiKeyRow]: ...

    async def scanned_api_keys(self) -> list[ApiKeyRow]:
        """Every unrevoked key that is not a generated one (found by scan, not by id)."""

    async def revoke_api_key(self, tenant_id: str, key_id: str, *, at: datetime) -> bool:
        """False when the tenant has no such unrevoked key."""

    async def set_toolset(
        self, tenant_id: str, key_id: str | None, toolset: dict[str, Any] | None, *, at: datetime
    ) -> bool:
        """Set (None: clear) the toolset of the tenant, or of its key ``key_id``; False
        when the tenant (or that key of it) does not exist. Nothing else changes."""

    async def put_connection(self, connection: ConnectionRow, *, at: datetime) -> bool:
        """Create or replace a connection (``UnknownTenant`` without the tenant);
        True if it was created."""

    async def delete_connection(self, tenant_id: str, name: str, *, at: datetime) -> bool: ...

    async def import_tenants(self, batch: Sequence[TenantImport], *, at: datetime) -> ImportResult:
        """Upsert each tenant, add its keys, and make its connections exactly the given
        ones, all in one transaction (nothing is written if any key id is taken)."""
