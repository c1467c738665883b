"""The encrypted secrets file, the CLI helpers and credential resolution."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from fastn_gen.gateway.credentials import CredentialError, resolve_credentials
from fastn_gen.gateway.secrets import (
    KEY_ENV,
    OAuthToken,
    SecretStore,
    SecretStoreError,
    generate_secrets_key,
)
from fastn_gen.gateway.secrets_cli import (
    delete_secret_command,
    list_secrets_command,
    read_secret_value,
    set_secret_command,
)
from tests.upstreams.specs import connection, tenant

VALUE = "xoxb-super-secret-value-123"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_round_trip_and_nothing_in_plaintext(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = SecretStore.for_data_dir(data_dir, environ={})
    assert store.get("acme", "slack", "token") is None  # no file yet, no key needed
    assert not data_dir.exists()

    store.set("acme", "slack", "token", VALUE)
    store.set("acme", "shopify", "api_key", "shpat_abc")
    assert store.get("acme", "slack", "token") == VALUE

    raw = (data_dir / "secrets.enc.json").read_bytes()
    for text in (VALUE, "shpat_abc", "acme", "slack", "token"):
        assert text.encode() not in raw
    envelope = json.loads(raw)
    assert (envelope["format"], envelope["alg"]) == ("fastn-gen-secrets", "AES-256-GCM")

    assert mode(data_dir) == 0o700
    assert mode(data_dir / "secrets.key") == 0o600
    assert mode(data_dir / "secrets.enc.json") == 0o600
    assert sorted(p.name for p in data_dir.iterdir()) == [
        "secrets.enc.json",
        "secrets.enc.json.lock",
        "secrets.key",
    ]

    reopened = SecretStore.for_data_dir(data_dir, environ={})
    assert reopened.get("acme", "slack", "token") == VALUE
    assert reopened.fields("acme") == {"shopify": ["api_key"], "slack": ["token"]}
    assert reopened.delete("acme", "slack", "token")
    assert not reopened.delete("acme", "slack", "token")
    assert store.get("acme", "slack", "token") is None  # the other instance sees the change


def test_each_write_uses_a_fresh_nonce(tmp_path: Path) -> None:
    store = SecretStore.for_data_dir(tmp_path, environ={})
    store.set("a", "b", "c", "same")
    first = json.loads((tmp_path / "secrets.enc.json").read_bytes())
    store.set("a", "b", "c", "same")
    second = json.loads((tmp_path / "secrets.enc.json").read_bytes())
    assert first["nonce"] != second["nonce"]
    assert first["ciphertext"] != second["ciphertext"]


def test_key_from_the_environment(tmp_path: Path) -> None:
    env = {KEY_ENV: generate_secrets_key()}
    store = SecretStore.for_data_dir(tmp_path, environ=env)
    store.set("acme", "slack", "token", VALUE)
    assert not (tmp_path / "secrets.key").exists()
    assert SecretStore.for_data_dir(tmp_path, environ=env).get("acme", "slack", "token") == VALUE

    wrong = SecretStore.for_data_dir(tmp_path, environ={KEY_ENV: generate_secrets_key()})
    with pytest.raises(SecretStoreError, match="cannot decrypt: wrong key") as caught:
        wrong.get("acme", "slack", "token")
    assert VALUE not in str(caught.value)

    no_key = SecretStore.for_data_dir(tmp_path, environ={})
    with pytest.raises(SecretStoreError, match="no secrets key"):
        no_key.get("acme", "slack", "token")


@pytest.mark.parametrize(
    ("key", "message"),
    [("not base64!", "not valid base64"), (base64.b64encode(b"short").decode(), "32 bytes")],
)
def test_bad_environment_key(tmp_path: Path, key: str, message: str) -> None:
    store = SecretStore.for_data_dir(tmp_path, environ={KEY_ENV: key})
    with pytest.raises(SecretStoreError, match=message):
        store.set("a", "b", "c", "d")


def test_tampering_is_detected(tmp_path: Path) -> None:
    store = SecretStore.for_data_dir(tmp_path, environ={})
    store.set("acme", "slack", "token", VALUE)
    path = tmp_path / "secrets.enc.json"
    envelope = json.loads(path.read_bytes())
    blob = bytearray(base64.b64decode(envelope["ciphertext"]))
    blob[5] ^= 0x01
    envelope["ciphertext"] = base64.b64encode(bytes(blob)).decode()
    path.write_text(json.dumps(envelope))
    with pytest.raises(SecretStoreError, match="or the file was modified"):
        SecretStore.for_data_dir(tmp_path, environ={}).get("acme", "slack", "token")


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    SecretStore.for_data_dir(tmp_path, environ={}).set("a", "b", "c", "d")
    os.chmod(tmp_path / "secrets.key", 0o644)
    with pytest.raises(SecretStoreError, match="chmod 600"):
        SecretStore.for_data_dir(tmp_path, environ={}).get("a", "b", "c")


def test_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    SecretStore.for_data_dir(tmp_path, environ={}).set("seed", "x", "y", "z")

    def writer(n: int) -> None:
        # Separate instances: only the file lock serialises them.
        store = SecretStore.for_data_dir(tmp_path, environ={})
        for i in range(10):
            store.set("acme", f"conn{n}", f"field{i}", f"value-{n}-{i}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fields = SecretStore.for_data_dir(tmp_path, environ={}).fields("acme")
    assert fields == {f"conn{n}": [f"field{i}" for i in range(10)] for n in range(4)}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_oauth_tokens_round_trip(tmp_path: Path) -> None:
    store = SecretStore.for_data_dir(tmp_path, environ={})
    assert store.get_oauth_token("acme", "github") is None
    token = OAuthToken("at-1", "rt-1", 1_900_000_000.5)
    store.set_oauth_token("acme", "github", token)
    assert SecretStore.for_data_dir(tmp_path, environ={}).get_oauth_token("acme", "github") == token
    assert "at-1" not in repr(token)


def test_empty_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretStoreError, match="empty"):
        SecretStore.for_data_dir(tmp_path, environ={}).set("a", "b", "c", "")


# -- CLI helpers -----------------------------------------------------------------------

TENANTS = """\
version: 1
tenants:
  - id: acme
    connections:
      - connector: slack
        credentials: {token: "secret:token"}
"""


class Piped(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_set_secret_from_piped_input(tmp_path: Path) -> None:
    config = tmp_path / "tenants.yaml"
    config.write_text(TENANTS)
    report = set_secret_command(
        config, "acme", "slack", "token", stream=Piped(VALUE + "\n"), environ={}
    )
    assert report == f"stored 'token' for acme/slack in {tmp_path / '.fastn' / 'secrets.enc.json'}"
    assert VALUE not in report
    store = SecretStore.for_data_dir(tmp_path / ".fastn", environ={})
    assert store.get("acme", "slack", "token") == VALUE  # trailing newline removed

    other = set_secret_command(config, "acme", "slack", "signing", stream=Piped("s3"), environ={})
    assert other.endswith("; reference it from the connection's credentials as secret:signing")
    assert list_secrets_command(config, "acme", environ={}) == [
        "slack: signing",
        "slack: token",
    ]
    assert delete_secret_command(config, "acme", "slack", "signing", environ={}) == (
        "deleted 'signing' for acme/slack"
    )


def test_set_secret_refuses_unknown_targets_and_empty_input(tmp_path: Path) -> None:
    config = tmp_path / "tenants.yaml"
    config.write_text(TENANTS)
    with pytest.raises(SecretStoreError, match="tenant 'globex' is not in"):
        set_secret_command(config, "globex", "slack", "token", stream=Piped("x"), environ={})
    with pytest.raises(SecretStoreError, match=r"no connection 'github' \(connections: slack\)"):
        set_secret_command(config, "acme", "github", "token", stream=Piped("x"), environ={})
    with pytest.raises(SecretStoreError, match="empty input"):
        read_secret_value(Piped("\n"))
    assert not (tmp_path / ".fastn" / "secrets.enc.json").exists()


# -- credential resolution -------------------------------------------------------------


def test_resolve_credentials_from_each_source(tmp_path: Path) -> None:
    store = SecretStore.for_data_dir(tmp_path, environ={})
    store.set("acme", "svc", "password", "pw-from-store")
    conn = connection(
        "svc", {"username": "${SVC_USER}", "password": "secret:password", "realm": "literal-x"}
    )
    who = tenant("acme", conn)
    assert resolve_credentials(who, conn, store, {"SVC_USER": "ada"}) == {
        "username": "ada",
        "password": "pw-from-store",
        "realm": "literal-x",
    }


def test_unresolvable_credentials_are_all_named_without_values(tmp_path: Path) -> None:
    store = SecretStore.for_data_dir(tmp_path, environ={})
    conn = connection(
        "svc", {"username": "${SVC_USER}", "password": "secret:password", "realm": "literal-x"}
    )
    with pytest.raises(CredentialError) as caught:
        resolve_credentials(tenant("acme", conn), conn, store, {"SVC_USER": ""})
    assert str(caught.value) == (
        "connection svc of tenant acme: credential 'username' (${SVC_USER}): environment "
        "variable SVC_USER is not set; credential 'password' (secret:password): not in the "
        "secrets file; run `fastn-gen secrets set acme svc password`"
    )
    assert "literal-x" not in str(caught.value)


def test_store_problems_become_credential_errors(tmp_path: Path) -> None:
    SecretStore.for_data_dir(tmp_path, environ={}).set("acme", "svc", "token", VALUE)
    (tmp_path / "secrets.key").unlink()
    conn = connection("svc", {"token": "secret:token"})
    with pytest.raises(CredentialError, match="no secrets key") as caught:
        resolve_credentials(
            tenant("acme", conn), conn, SecretStore.for_data_dir(tmp_path, environ={}), {}
        )
    assert VALUE not in str(caught.value)
    with pytest.raises(CredentialError, match="no secrets file is configured"):
        resolve_credentials(tenant("acme", conn), conn, None, {})
