"""Resolve a connection's credential references to values, at call time."""

from __future__ import annotations

import os
from collections.abc import Mapping

from fastn_gen.gateway.secrets import SecretStore, SecretStoreError
from fastn_gen.gateway.tenancy import Connection, Tenant


class CredentialError(Exception):
    """A credential cannot be resolved. Names fields and references, never values."""


def resolve_credentials(
    tenant: Tenant,
    connection: Connection,
    secret_store: SecretStore | None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Field → value for every credential of ``connection``.

    ``environ`` defaults to the live process environment, so a variable exported after
    start-up (or rotated by the platform) is picked up by the next call. Every
    unresolvable field is reported in one error.
    """
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    problems: list[str] = []
    for field, ref in connection.credentials.items():
        where = f"credential {field!r} ({ref.describe()})"
        if ref.kind == "literal":
            values[field] = ref.target
        elif ref.kind == "env":
            value = env.get(ref.target)
            if value:
                values[field] = value
            else:
                problems.append(f"{where}: environment variable {ref.target} is not set")
        else:
            if secret_store is None:
                problems.append(f"{where}: no secrets file is configured")
                continue
            try:
                secret = secret_store.get(tenant.id, connection.name, ref.target)
            except SecretStoreError as exc:
                problems.append(f"{where}: {exc}")
                continue
            if secret:
                values[field] = secret
            else:
                problems.append(
                    f"{where}: not in the secrets file; run `fastn-gen secrets set "
                    f"{tenant.id} {connection.name} {ref.target}`"
                )
    if problems:
        raise CredentialError(
            f"connection {connection.name} of tenant {tenant.id}: " + "; ".join(problems)
        )
    return values
