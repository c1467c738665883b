"""The runtime shapes of tenants: connections, credential references, configuration
errors, and what a connection to a connector must provide.

Credential references (values under a connection's ``credentials``):

- ``${ENV_VAR}``: read from the environment when a tool is called;
- ``secret:<name>``: the value stored for (tenant, connection, ``<name>``) in the
  encrypted secrets file (:mod:`fastn_gen.gateway.secrets`);
- anything else is a plaintext literal, refused unless the connection or its tenant
  sets ``allow_plaintext: true``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from fastn_gen.gateway.auth_inject import AUTH_FIELDS, REQUIRED_FIELDS
from fastn_gen.gateway.limits import UNLIMITED, Limits
from fastn_gen.gateway.secrets import SecretStore
from fastn_gen.gateway.tenants_model import (
    ENV_REF,
    SECRET_PREFIX,
)
from fastn_gen.gateway.toolsets import FULL, Toolset
from fastn_gen.runtime.operation import ConnectorSpec

# -- configuration errors -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    pointer: str  # JSON pointer into the document, "" for the root
    message: str
    line: int | None = None  # 1-based line in the YAML file, when known

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.pointer or '/'}: {self.message}"


class TenantConfigError(Exception):
    """Every problem found in a tenants file."""

    def __init__(self, source: str, issues: Iterable[ConfigIssue]) -> None:
        self.source = source
        self.issues = list(issues)
        lines = "\n".join(f"  {source}: {issue}" for issue in self.issues)
        super().__init__(f"{len(self.issues)} problem(s) in {source}:\n{lines}")


# -- runtime types ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CredentialRef:
    """Where a credential's value comes from. ``target`` of a literal is the value."""

    kind: Literal["env", "secret", "literal"]
    target: str = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> CredentialRef:
        env = ENV_REF.match(text)
        if env is not None:
            return cls("env", env.group(1))
        if text.startswith(SECRET_PREFIX):
            return cls("secret", text[len(SECRET_PREFIX) :])
        return cls("literal", text)

    def describe(self) -> str:
        """A safe description: the reference itself, never a literal's value."""
        if self.kind == "env":
            return "${" + self.target + "}"
        if self.kind == "secret":
            return SECRET_PREFIX + self.target
        return "a plaintext value"

    def __repr__(self) -> str:
        return f"CredentialRef({self.kind}, {self.describe()})"


@dataclass(frozen=True, slots=True)
class Connection:
    connector: str
    name: str
    credentials: dict[str, CredentialRef]
    variables: dict[str, str]


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    display_name: str
    plan: str
    # Keyed by connection name, which is the connector name unless set explicitly.
    connections: dict[str, Connection]
    # The registry's secrets file; None for tenants built outside a registry.
    secret_store: SecretStore | None = field(default=None, compare=False, repr=False)
    # The plan's usage limits with this tenant's overrides applied.
    limits: Limits = UNLIMITED
    # The tools this request may see: the tenant's toolset, narrowed by its API key's.
    toolset: Toolset = FULL
    # The id of the API key the request authenticated with (None for other credentials).
    api_key_id: str | None = None

    def connected_connectors(self) -> list[str]:
        return sorted({c.connector for c in self.connections.values()})

    def connection_for(self, connector: str) -> Connection | None:
        """The connection named like ``connector``, else its first connection to it."""
        named = self.connections.get(connector)
        if named is not None and named.connector == connector:
            return named
        return next((c for c in self.connections.values() if c.connector == connector), None)


@dataclass(frozen=True, slots=True)
class ConnectorRequirements:
    """What a connection to one connector must provide, for validating the file."""

    credential_fields: tuple[str, ...]
    required_fields: tuple[str, ...]
    variables: tuple[tuple[str, str], ...] = ()  # (name, regular expression)

    @classmethod
    def from_spec(cls, spec: ConnectorSpec) -> ConnectorRequirements:
        return cls(
            credential_fields=AUTH_FIELDS.get(spec.auth.kind, ()),
            required_fields=REQUIRED_FIELDS.get(spec.auth.kind, ()),
            variables=spec.variables,
        )


ConnectorCatalog = Mapping[str, ConnectorRequirements | ConnectorSpec]
