"""``fastn-gen secrets rotate-key``: everything re-encrypted under a new key, the old key
useless afterwards, an interrupted rotation recoverable, a running reader unaffected."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fastn_gen.gateway.secrets import (
    KEY_ENV,
    OAuthToken,
    SecretStore,
    SecretStoreError,
    generate_secrets_key,
)
from tests.gateway.fixtures.gateway_process import REPO_ROOT, gateway_env

VALUE = "xoxb-rotate-me-0123456789abcdef"
TENANTS = """version: 1
tenants:
  - id: acme
    connections:
      - connector: slack
        credentials: {token: "secret:token"}
"""


def setup(tmp_path: Path, environ: dict[str, str] | None = None) -> tuple[Path, SecretStore]:
    config = tmp_path / "tenants.yaml"
    config.write_text(TENANTS, encoding="utf-8")
    store = SecretStore.for_data_dir(tmp_path / ".fastn", environ=environ or {})
    store.set("acme", "slack", "token", VALUE)
    store.set_oauth_token("acme", "crm", OAuthToken("at-123456789", "rt-123456789", 99.0))
    return config, store


def decrypts_with(store: SecretStore, key: bytes) -> bool:
    envelope = json.loads(store.path.read_bytes())
    nonce = base64.b64decode(envelope["nonce"])
    try:
        AESGCM(key).decrypt(
            nonce, base64.b64decode(envelope["ciphertext"]), b"fastn-gen secrets v1"
        )
    except InvalidTag:
        return False
    return True


def key_of(path: Path) -> bytes:
    return base64.b64decode(path.read_text(encoding="ascii"))


def cli(config: Path, *args: str, env: dict[str, str] | None = None, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-c", "from fastn_gen.cli import main; main()", "secrets",
         "rotate-key", "--config", str(config), *args],
        input=stdin, capture_output=True, text=True, env=gateway_env(env), cwd=REPO_ROOT,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_rotate_key_with_a_key_file(tmp_path: Path) -> None:
    config, store = setup(tmp_path)
    old_key = key_of(store.key_path)
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    out = cli(config, env={**env, KEY_ENV: ""})
    assert "re-encrypted 1 value(s) and 1 OAuth token set(s) of 1 tenant(s)" in out
    new_key = key_of(store.key_path)
    assert new_key != old_key and len(new_key) == 32
    assert stat.S_IMODE(store.key_path.stat().st_mode) == 0o600
    assert not decrypts_with(store, old_key) and decrypts_with(store, new_key)
    assert base64.b64encode(new_key).decode() not in out  # the file holds it, not the output
    fresh = SecretStore.for_data_dir(tmp_path / ".fastn", environ={})
    assert fresh.get("acme", "slack", "token") == VALUE
    assert fresh.get_oauth_token("acme", "crm") == OAuthToken("at-123456789", "rt-123456789", 99.0)
    assert not list(store.path.parent.glob("*.new"))


def test_rotate_key_from_the_environment_prints_the_new_key(tmp_path: Path) -> None:
    old = generate_secrets_key()
    config, store = setup(tmp_path, {KEY_ENV: old})
    out = cli(config, env={KEY_ENV: old})
    new = out.strip().splitlines()[-1].strip()
    assert new != old and f"{KEY_ENV} holds the key" in out
    assert not store.key_path.exists()
    with pytest.raises(SecretStoreError, match="wrong key"):
        SecretStore.for_data_dir(tmp_path / ".fastn", environ={KEY_ENV: old}).get(
            "acme", "slack", "t"
        )
    rotated = SecretStore.for_data_dir(tmp_path / ".fastn", environ={KEY_ENV: new})
    assert rotated.get("acme", "slack", "token") == VALUE


def test_rotate_key_to_a_key_given_on_stdin(tmp_path: Path) -> None:
    old = generate_secrets_key()
    config, _ = setup(tmp_path, {KEY_ENV: old})
    chosen = generate_secrets_key()
    out = cli(config, "--new-key-stdin", env={KEY_ENV: old}, stdin=chosen + "\n")
    assert chosen not in out
    store = SecretStore.for_data_dir(tmp_path / ".fastn", environ={KEY_ENV: chosen})
    assert store.get("acme", "slack", "token") == VALUE


def test_a_reader_holding_the_old_key_follows_the_rotation(tmp_path: Path) -> None:
    _, running = setup(tmp_path)
    assert running.get("acme", "slack", "token") == VALUE  # caches the old key
    SecretStore.for_data_dir(tmp_path / ".fastn", environ={}).rotate_key()
    assert running.get("acme", "slack", "token") == VALUE
    running.set("acme", "slack", "other", "value-after-rotation")  # writes with the new key
    fresh = SecretStore.for_data_dir(tmp_path / ".fastn", environ={})
    assert fresh.get("acme", "slack", "other") == "value-after-rotation"


def test_an_interrupted_rotation_is_completed_by_the_next_reader(tmp_path: Path) -> None:
    _, store = setup(tmp_path)
    old_key = store.key_path.read_bytes()
    store.rotate_key()
    # The state after a crash between re-encrypting and replacing the key file: the new
    # key still pending, the old one in place.
    pending = store.key_path.with_name(store.key_path.name + ".new")
    os.replace(store.key_path, pending)
    store.key_path.write_bytes(old_key)
    os.chmod(store.key_path, 0o600)
    recovered = SecretStore.for_data_dir(tmp_path / ".fastn", environ={})
    assert recovered.get("acme", "slack", "token") == VALUE
    assert not pending.exists() and store.key_path.read_bytes() != old_key


def test_rotating_to_the_same_key_or_a_bad_key_is_refused(tmp_path: Path) -> None:
    key = generate_secrets_key()
    _, store = setup(tmp_path, {KEY_ENV: key})
    with pytest.raises(SecretStoreError, match="is the current key"):
        store.rotate_key(base64.b64decode(key))
    with pytest.raises(SecretStoreError, match="32 bytes"):
        store.rotate_key(b"short")
    assert store.get("acme", "slack", "token") == VALUE
