"""Records of tenants kept in the store: the tenant, its API keys, its connections.

For deployments with many tenants (see docs/tenants.md, "Tenants in the store"). Keys
are stored as salted hashes only (``scrypt$...`` for generated keys, ``sha256$...``
for others); connections hold credential references (``${ENV}``, ``secret:name``),
never credential values, unless the tenant or connection allows plaintext.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# What a change notification says changed, so a replica can tell a connection change
# (tool lists change) from a key change (only authentication does).
ChangeKind = Literal["tenant", "keys", "connections"]
ALL_TENANTS = "*"  # a change notification about every tenant (a large import)


@dataclass(frozen=True, slots=True)
class TenantRow:
    id: str
    plan: str = "default"
    display_name: str | None = None
    # The tenant's overrides of its plan's limits (a ``LimitsModel`` as JSON), or None.
    limits: dict[str, Any] | None = None
    allow_plaintext: bool = False
    created_at: datetime | None = None  # set by the store
    updated_at: datetime | None = None
    # The tenant's toolset (a ``ToolsetModel`` as JSON), or None: every tool.
    toolset: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    """One API key: ``key_id`` is unique across all tenants and is the lookup key."""

    key_id: str
    tenant_id: str
    hash: str = field(repr=False)  # scrypt$... or sha256$...: never the key itself
    label: str | None = None
    created_at: datetime | None = None
    revoked_at: datetime | None = None
    # Narrows the tenant's toolset for this key (a ``ToolsetModel`` as JSON), or None.
    toolset: dict[str, Any] | None = None

    @property
    def indexed(self) -> bool:
        """Generated keys (scrypt) are found by id; other keys by a scan of few rows."""
        return self.hash.startswith("scrypt$")


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    tenant_id: str
    name: str
    connector: str
    credentials: dict[str, str] = field(default_factory=dict)  # field -> reference
    variables: dict[str, str] = field(default_factory=dict)
    allow_plaintext: bool = False
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TenantRecord:
    """A tenant with its connections: everything serving one of its requests needs."""

    tenant: TenantRow
    connections: tuple[ConnectionRow, ...]


@dataclass(frozen=True, slots=True)
class TenantImport:
    """One tenant of an import: its row, keys and the complete set of its connections."""

    tenant: TenantRow
    keys: tuple[ApiKeyRow, ...] = ()
    connections: tuple[ConnectionRow, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportResult:
    tenants_created: int
    tenants_updated: int
    keys_added: int
    connections_written: int
    connections_removed: int
