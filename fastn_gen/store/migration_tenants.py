"""Migration 3: tenants, their API keys and connections (for tenants kept in the store).

``tenant_api_keys.key_id`` is the primary key, so finding the entry of a presented
generated key is one index lookup whatever the number of tenants. Keys that are not
generated (``sha256$`` hashes) cannot be found by id; the partial index keeps the scan
of those few rows cheap. No foreign keys: SQLite enforces them only per connection
setting, so both backends delete a tenant's rows explicitly instead.
"""

from __future__ import annotations

TENANTS_SQLITE = (
    """CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        display_name TEXT,
        plan TEXT NOT NULL DEFAULT 'default',
        limits TEXT,
        allow_plaintext INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    )""",
    """CREATE TABLE tenant_api_keys (
        key_id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        hash TEXT NOT NULL,
        scheme TEXT NOT NULL,
        label TEXT,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    )""",
    "CREATE INDEX tenant_api_keys_by_tenant ON tenant_api_keys (tenant_id)",
    """CREATE INDEX tenant_api_keys_scanned ON tenant_api_keys (key_id)
        WHERE scheme <> 'scrypt' AND revoked_at IS NULL""",
    """CREATE TABLE tenant_connections (
        tenant_id TEXT NOT NULL,
        name TEXT NOT NULL,
        connector TEXT NOT NULL,
        credentials TEXT NOT NULL DEFAULT '{}',
        variables TEXT NOT NULL DEFAULT '{}',
        allow_plaintext INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, name)
    )""",
)

TENANTS_POSTGRES = (
    """CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        display_name TEXT,
        plan TEXT NOT NULL DEFAULT 'default',
        limits JSONB,
        allow_plaintext BOOLEAN NOT NULL DEFAULT false,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    )""",
    """CREATE TABLE tenant_api_keys (
        key_id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        hash TEXT NOT NULL,
        scheme TEXT NOT NULL,
        label TEXT,
        created_at TIMESTAMPTZ NOT NULL,
        revoked_at TIMESTAMPTZ
    )""",
    "CREATE INDEX tenant_api_keys_by_tenant ON tenant_api_keys (tenant_id)",
    """CREATE INDEX tenant_api_keys_scanned ON tenant_api_keys (key_id)
        WHERE scheme <> 'scrypt' AND revoked_at IS NULL""",
    """CREATE TABLE tenant_connections (
        tenant_id TEXT NOT NULL,
        name TEXT NOT NULL,
        connector TEXT NOT NULL,
        credentials JSONB NOT NULL DEFAULT '{}',
        variables JSONB NOT NULL DEFAULT '{}',
        allow_plaintext BOOLEAN NOT NULL DEFAULT false,
        updated_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (tenant_id, name)
    )""",
)
