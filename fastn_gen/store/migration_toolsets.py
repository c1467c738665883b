"""Migration 4: toolsets of tenants and API keys (JSON, as in the tenants file).

A null column is "no toolset": the tenant sees every tool of its connections, a key
its tenant's toolset.
"""

from __future__ import annotations

TOOLSETS_SQLITE = (
    "ALTER TABLE tenants ADD COLUMN toolset TEXT",
    "ALTER TABLE tenant_api_keys ADD COLUMN toolset TEXT",
)

TOOLSETS_POSTGRES = (
    "ALTER TABLE tenants ADD COLUMN toolset JSONB",
    "ALTER TABLE tenant_api_keys ADD COLUMN toolset JSONB",
)
