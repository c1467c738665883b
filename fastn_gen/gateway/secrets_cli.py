"""What ``fastn-gen secrets ...`` and ``fastn-gen keys new`` do, without the CLI parsing.

Secret values are read from standard input (piped) or typed at a hidden prompt, never
taken from the command line, where they would land in shell history and ``ps`` output.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from fastn_gen.gateway.apikeys import generate_api_key
from fastn_gen.gateway.secrets import KEY_ENV, SecretStore, SecretStoreError, decode_key
from fastn_gen.gateway.tenancy import TenantRegistry


def read_secret_value(stream: TextIO | None = None, prompt: str = "Secret value: ") -> str:
    """The value from ``stream`` (default stdin): a hidden prompt on a terminal, else
    everything piped in, minus one trailing newline."""
    stream = sys.stdin if stream is None else stream
    if stream.isatty():
        value = getpass.getpass(prompt, stream=sys.stderr)
    else:
        value = stream.read()
        if value.endswith("\r\n"):
            value = value[:-2]
        elif value.endswith("\n"):
            value = value[:-1]
    if not value:
        raise SecretStoreError("no value given (empty input)")
    return value


def store_for_config(
    config_path: Path, environ: Mapping[str, str] | None = None
) -> tuple[TenantRegistry, SecretStore]:
    registry = TenantRegistry.load(config_path, environ=environ)
    assert registry.secret_store is not None  # always set by load()
    return registry, registry.secret_store


def set_secret_command(
    config_path: Path,
    tenant_id: str,
    connection: str,
    field: str,
    *,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """``fastn-gen secrets set TENANT CONNECTION FIELD``: store a value, return a report.

    The tenant and connection must exist in the tenants file, so a typo does not store
    a secret nothing will read. The report names where it went, never the value.
    """
    registry, store = store_for_config(config_path, environ)
    tenant = registry.get(tenant_id)
    if tenant is None:
        raise SecretStoreError(f"tenant {tenant_id!r} is not in {config_path}")
    conn = tenant.connections.get(connection)
    if conn is None:
        names = ", ".join(sorted(tenant.connections)) or "none"
        raise SecretStoreError(
            f"tenant {tenant_id} has no connection {connection!r} (connections: {names})"
        )
    store.set(tenant_id, connection, field, read_secret_value(stream))
    referenced = any(
        ref.kind == "secret" and ref.target == field for ref in conn.credentials.values()
    )
    hint = (
        "" if referenced else f"; reference it from the connection's credentials as secret:{field}"
    )
    return f"stored {field!r} for {tenant_id}/{connection} in {store.path}{hint}"


def delete_secret_command(
    config_path: Path,
    tenant_id: str,
    connection: str,
    field: str,
    *,
    environ: Mapping[str, str] | None = None,
) -> str:
    _, store = store_for_config(config_path, environ)
    if store.delete(tenant_id, connection, field):
        return f"deleted {field!r} for {tenant_id}/{connection}"
    return f"nothing stored as {field!r} for {tenant_id}/{connection}"


def list_secrets_command(
    config_path: Path, tenant_id: str, *, environ: Mapping[str, str] | None = None
) -> list[str]:
    """``connection: field`` lines for what is stored (names only)."""
    _, store = store_for_config(config_path, environ)
    return [
        f"{conn}: {field}" for conn, fields in store.fields(tenant_id).items() for field in fields
    ]


def new_key_command(tenant_id: str) -> tuple[str, str]:
    """``fastn-gen keys new --tenant ID``: (the key, shown once; the YAML line to add)."""
    return generate_api_key(tenant_id)


def rotate_key_command(
    config_path: Path,
    *,
    new_key_stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """``fastn-gen secrets rotate-key``: re-encrypt under a new key; the report lines.

    The new key is generated, or read from ``new_key_stream`` (base64, as
    ``FASTN_SECRETS_KEY`` takes it). It is shown only when the operator has to install
    it (the key comes from the environment) and did not supply it.
    """
    _, store = store_for_config(config_path, environ)
    supplied = None
    if new_key_stream is not None:
        supplied = decode_key(read_secret_value(new_key_stream, "New key (base64): "), "new key")
    rotation = store.rotate_key(supplied)
    lines = [
        f"re-encrypted {rotation.values} value(s) and {rotation.oauth_tokens} OAuth token "
        f"set(s) of {rotation.tenants} tenant(s) in {store.path} under a new key"
    ]
    if rotation.key_file is not None:
        lines.append(f"the new key replaced {rotation.key_file}; back it up, the old key is gone")
    elif supplied is None:
        lines.append(
            f"{KEY_ENV} holds the key: set it to the new key below before the gateway next "
            f"starts (the old key no longer decrypts the file):\n  {rotation.new_key}"
        )
    else:
        lines.append(f"set {KEY_ENV} to the new key before the gateway next starts")
    return lines
