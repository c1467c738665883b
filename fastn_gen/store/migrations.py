"""Numbered schema migrations, one list for every backend.

Each migration has a version, a name and its statements per dialect. A backend applies,
in one transaction holding its migration lock, every migration whose version is above
the highest row in ``schema_version``, and records each one there. Migrations are only
ever appended: never edit or renumber one that has shipped.

SQLite keeps times as integer microseconds since the epoch (UTC); PostgreSQL uses
``timestamptz``. Column names are the same in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastn_gen.store.errors import SchemaTooNew
from fastn_gen.store.migration_tenants import TENANTS_POSTGRES, TENANTS_SQLITE
from fastn_gen.store.migration_toolsets import TOOLSETS_POSTGRES, TOOLSETS_SQLITE


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


SCHEMA_VERSION_SQLITE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
)"""

SCHEMA_VERSION_POSTGRES = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""

_INITIAL_SQLITE = (
    """CREATE TABLE events (
        tenant_id TEXT NOT NULL,
        id TEXT NOT NULL,
        at INTEGER NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        connector TEXT,
        tool TEXT,
        latency_ms REAL,
        upstream_status INTEGER,
        error TEXT,
        args_digest TEXT,
        detail TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (tenant_id, id)
    )""",
    "CREATE INDEX events_by_tenant_time ON events (tenant_id, at DESC, id DESC)",
    """CREATE TABLE usage_counters (
        tenant_id TEXT NOT NULL,
        key TEXT NOT NULL,
        period TEXT NOT NULL,
        used INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, key, period)
    )""",
    """CREATE TABLE integration_status (
        tenant_id TEXT NOT NULL,
        connector TEXT NOT NULL,
        last_success_at INTEGER,
        last_error_at INTEGER,
        last_error TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        credentials_expired INTEGER NOT NULL DEFAULT 0,
        token_expires_at INTEGER,
        calls_ok INTEGER NOT NULL DEFAULT 0,
        calls_failed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, connector)
    )""",
    """CREATE TABLE flows (
        tenant_id TEXT NOT NULL,
        name TEXT NOT NULL,
        latest_version INTEGER NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (tenant_id, name)
    )""",
    """CREATE TABLE flow_versions (
        tenant_id TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        spec TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, name, version)
    )""",
    """CREATE TABLE secret_blobs (
        tenant_id TEXT NOT NULL,
        key TEXT NOT NULL,
        blob BLOB NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, key)
    )""",
)

# The check-and-increment runs inside the server in one call, so counter rows stay
# locked for microseconds rather than several client round trips. Rows are created, then
# locked in one fixed order (no deadlocks between callers naming several counters). A
# refusal returns the first offending counter and increments nothing; the zero rows it
# may have created are invisible to ``usage`` (which lists counters above zero).
_CONSUME_FUNCTION = """
CREATE FUNCTION fastn_usage_consume(
    p_tenant TEXT, p_keys TEXT[], p_periods TEXT[], p_limits BIGINT[], p_amount BIGINT
) RETURNS TABLE (refused_key TEXT, refused_period TEXT, refused_limit BIGINT, used_now BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    current_used BIGINT;
BEGIN
    INSERT INTO usage_counters AS u (tenant_id, key, period, used)
    SELECT p_tenant, c.k, c.p, 0 FROM unnest(p_keys, p_periods) AS c(k, p)
    ORDER BY c.k, c.p
    ON CONFLICT (tenant_id, key, period) DO NOTHING;
    PERFORM 1 FROM usage_counters u
    WHERE u.tenant_id = p_tenant
      AND (u.key, u.period) IN (SELECT * FROM unnest(p_keys, p_periods))
    ORDER BY u.key, u.period
    FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
        SELECT u.used INTO current_used FROM usage_counters u
        WHERE u.tenant_id = p_tenant AND u.key = p_keys[i] AND u.period = p_periods[i];
        IF p_limits[i] IS NOT NULL AND current_used + p_amount > p_limits[i] THEN
            RETURN QUERY SELECT p_keys[i], p_periods[i], p_limits[i], current_used;
            RETURN;
        END IF;
    END LOOP;
    UPDATE usage_counters u SET used = u.used + p_amount
    WHERE u.tenant_id = p_tenant
      AND (u.key, u.period) IN (SELECT * FROM unnest(p_keys, p_periods));
END
$$"""

_INITIAL_POSTGRES = (
    """CREATE TABLE events (
        tenant_id TEXT NOT NULL,
        id TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        connector TEXT,
        tool TEXT,
        latency_ms DOUBLE PRECISION,
        upstream_status INTEGER,
        error TEXT,
        args_digest TEXT,
        detail JSONB NOT NULL DEFAULT '{}',
        PRIMARY KEY (tenant_id, id)
    )""",
    "CREATE INDEX events_by_tenant_time ON events (tenant_id, at DESC, id DESC)",
    """CREATE TABLE usage_counters (
        tenant_id TEXT NOT NULL,
        key TEXT NOT NULL,
        period TEXT NOT NULL,
        used BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, key, period)
    )""",
    """CREATE TABLE integration_status (
        tenant_id TEXT NOT NULL,
        connector TEXT NOT NULL,
        last_success_at TIMESTAMPTZ,
        last_error_at TIMESTAMPTZ,
        last_error TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        credentials_expired BOOLEAN NOT NULL DEFAULT false,
        token_expires_at TIMESTAMPTZ,
        calls_ok BIGINT NOT NULL DEFAULT 0,
        calls_failed BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, connector)
    )""",
    """CREATE TABLE flows (
        tenant_id TEXT NOT NULL,
        name TEXT NOT NULL,
        latest_version INTEGER NOT NULL,
        enabled BOOLEAN NOT NULL DEFAULT true,
        PRIMARY KEY (tenant_id, name)
    )""",
    """CREATE TABLE flow_versions (
        tenant_id TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        spec JSON NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (tenant_id, name, version)
    )""",
    """CREATE TABLE secret_blobs (
        tenant_id TEXT NOT NULL,
        key TEXT NOT NULL,
        blob BYTEA NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (tenant_id, key)
    )""",
    _CONSUME_FUNCTION,
)

# Flow runs and their steps; a run's lease (owner, lease_expires_at) says which process
# executes it, and ``flow_leases`` holds named leases such as the scheduler's.
_FLOW_RUNS_SQLITE = (
    """CREATE TABLE flow_runs (
        tenant_id TEXT NOT NULL,
        id TEXT NOT NULL,
        flow_name TEXT NOT NULL,
        flow_version INTEGER NOT NULL,
        trigger_type TEXT NOT NULL,
        trigger_key TEXT NOT NULL,
        trigger TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        error TEXT,
        resumed INTEGER NOT NULL DEFAULT 0,
        owner TEXT,
        lease_expires_at INTEGER,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, flow_name, trigger_key)
    )""",
    "CREATE INDEX flow_runs_by_flow ON flow_runs (tenant_id, flow_name, started_at DESC, id DESC)",
    "CREATE INDEX flow_runs_by_time ON flow_runs (tenant_id, started_at DESC, id DESC)",
    """CREATE INDEX flow_runs_unfinished ON flow_runs (tenant_id, lease_expires_at)
        WHERE status IN ('running', 'interrupted')""",
    """CREATE TABLE flow_steps (
        tenant_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        step_id TEXT NOT NULL,
        item_index INTEGER,
        branch_of TEXT,
        tool TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        latency_ms REAL,
        output TEXT,
        output_truncated INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        detail TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (tenant_id, run_id, seq)
    )""",
    """CREATE TABLE flow_leases (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    )""",
)

_FLOW_RUNS_POSTGRES = (
    """CREATE TABLE flow_runs (
        tenant_id TEXT NOT NULL,
        id TEXT NOT NULL,
        flow_name TEXT NOT NULL,
        flow_version INTEGER NOT NULL,
        trigger_type TEXT NOT NULL,
        trigger_key TEXT NOT NULL,
        trigger JSONB NOT NULL DEFAULT '{}',
        status TEXT NOT NULL,
        started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ,
        error TEXT,
        resumed INTEGER NOT NULL DEFAULT 0,
        owner TEXT,
        lease_expires_at TIMESTAMPTZ,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, flow_name, trigger_key)
    )""",
    "CREATE INDEX flow_runs_by_flow ON flow_runs (tenant_id, flow_name, started_at DESC, id DESC)",
    "CREATE INDEX flow_runs_by_time ON flow_runs (tenant_id, started_at DESC, id DESC)",
    """CREATE INDEX flow_runs_unfinished ON flow_runs (tenant_id, lease_expires_at)
        WHERE status IN ('running', 'interrupted')""",
    """CREATE TABLE flow_steps (
        tenant_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        step_id TEXT NOT NULL,
        item_index INTEGER,
        branch_of TEXT,
        tool TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ,
        latency_ms DOUBLE PRECISION,
        output JSONB,
        output_truncated BOOLEAN NOT NULL DEFAULT false,
        error TEXT,
        detail JSONB NOT NULL DEFAULT '{}',
        PRIMARY KEY (tenant_id, run_id, seq)
    )""",
    """CREATE TABLE flow_leases (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    )""",
)

# Retention deletes across tenants by time (``fastn_gen.store.retention``); the indexes
# above all lead with tenant_id, so without these every pass would scan whole tables.
_RETENTION_INDEXES = (
    "CREATE INDEX events_by_time ON events (at)",
    "CREATE INDEX usage_counters_by_period ON usage_counters (period)",
    """CREATE INDEX flow_runs_finished ON flow_runs (finished_at)
        WHERE status IN ('succeeded', 'failed')""",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "events, usage, integration status, flows, secret blobs",
        _INITIAL_SQLITE,
        _INITIAL_POSTGRES,
    ),
    Migration(2, "flow runs, flow steps, leases", _FLOW_RUNS_SQLITE, _FLOW_RUNS_POSTGRES),
    Migration(3, "tenants, API keys, connections", TENANTS_SQLITE, TENANTS_POSTGRES),
    Migration(4, "toolsets of tenants and API keys", TOOLSETS_SQLITE, TOOLSETS_POSTGRES),
    Migration(5, "indexes for retention", _RETENTION_INDEXES, _RETENTION_INDEXES),
)


def pending(migrations: Sequence[Migration], current: int) -> list[Migration]:
    """Migrations above ``current``, in order; refuses a database newer than the code."""
    ordered = sorted(migrations, key=lambda m: m.version)
    versions = [m.version for m in ordered]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1..N without gaps, got {versions}")
    newest = versions[-1] if versions else 0
    if current > newest:
        raise SchemaTooNew(
            f"the store's schema is at version {current}, newer than this release "
            f"knows ({newest}); upgrade fastn-gen before using this database"
        )
    return [m for m in ordered if m.version > current]
