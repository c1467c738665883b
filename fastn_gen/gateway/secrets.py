"""The encrypted secrets file: credential values and OAuth tokens per tenant connection.

One JSON document, encrypted whole with AES-256-GCM (authenticated: a modified or
truncated file fails to decrypt instead of yielding altered secrets). The 256-bit key
comes from ``FASTN_SECRETS_KEY`` (base64) or from ``<data_dir>/secrets.key``, which is
created with mode 0600 on first write. Writes go to a temporary file in the same
directory and are renamed over the old file, under an exclusive lock file, so readers
never see a half-written file and concurrent writers (the gateway persisting refreshed
OAuth tokens while an operator runs ``fastn-gen secrets set``) do not lose updates.

``fastn-gen secrets rotate-key`` re-encrypts everything under a new key
(:meth:`SecretStore.rotate_key`). The new key file is written first as
``secrets.key.new``, then the secrets file is re-encrypted, then the new key replaces
the old one; a reader that finds the file encrypted under the pending key (a rotation
interrupted between the last two steps) uses it and completes the rotation. A running
gateway that cannot decrypt with its cached key re-reads the key file, so it picks up
a rotated key without a restart.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import secrets
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if sys.platform != "win32":
    import fcntl

KEY_ENV = "FASTN_SECRETS_KEY"
DATA_DIR_ENV = "FASTN_DATA_DIR"
DEFAULT_DATA_DIR = ".fastn"
SECRETS_FILE = "secrets.enc.json"
KEY_FILE = "secrets.key"
PENDING_SUFFIX = ".new"

FORMAT = "fastn-gen-secrets"
FORMAT_VERSION = 1
ALGORITHM = "AES-256-GCM"
# Binds the ciphertext to this format, so it cannot be replayed as another document.
_AAD = b"fastn-gen secrets v1"
_NONCE_BYTES = 12


class SecretStoreError(Exception):
    """The secrets file or its key cannot be used. Messages never contain secret values."""


@dataclass(frozen=True, slots=True)
class Rotation:
    """What :meth:`SecretStore.rotate_key` did (names and counts, never values)."""

    tenants: int
    values: int
    oauth_tokens: int
    key_file: Path | None  # None: the key comes from FASTN_SECRETS_KEY
    new_key: str  # base64; the operator must install it where the key comes from


@dataclass(frozen=True, slots=True)
class OAuthToken:
    """A connection's current OAuth tokens. ``expires_at`` is a Unix time, if known."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None

    def expires_within(self, seconds: float, now: float) -> bool:
        return self.expires_at is not None and self.expires_at - now <= seconds

    def __repr__(self) -> str:
        return f"OAuthToken(access_token=<hidden>, expires_at={self.expires_at!r})"


def generate_secrets_key() -> str:
    """A new random key, base64-encoded, suitable for ``FASTN_SECRETS_KEY``."""
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii")


def decode_key(text: str, source: str) -> bytes:
    """Decode a base64 (standard or URL-safe, padding optional) 256-bit key."""
    cleaned = text.strip()
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        key = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise SecretStoreError(f"{source} is not valid base64") from None
    if len(key) != 32:
        raise SecretStoreError(f"{source} must decode to 32 bytes (AES-256), not {len(key)}")
    return key


def resolve_data_dir(
    config_dir: Path, configured: str | None, environ: Mapping[str, str] | None = None
) -> Path:
    """Where the gateway keeps its state.

    ``FASTN_DATA_DIR`` wins (deployments set it per environment), then ``data_dir`` from
    the tenants file (relative to that file), then ``.fastn/`` next to the tenants file.
    """
    env = os.environ if environ is None else environ
    from_env = env.get(DATA_DIR_ENV)
    if from_env:
        return Path(from_env).expanduser()
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else config_dir / path
    return config_dir / DEFAULT_DATA_DIR


class SecretStore:
    """Encrypted values keyed by (tenant, connection, field), plus OAuth tokens.

    ``connection`` is the connection's name in the tenants file, which is the connector
    name unless the connection was given its own ``name``.
    """

    def __init__(
        self,
        path: Path,
        key_path: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.key_path = Path(key_path) if key_path is not None else self.path.parent / KEY_FILE
        self._environ = environ
        self._key: bytes | None = None
        self._lock = threading.Lock()
        self._cache_stamp: tuple[int, int, int] | None = None
        self._cache: dict[str, Any] | None = None

    @classmethod
    def for_data_dir(cls, data_dir: Path, environ: Mapping[str, str] | None = None) -> SecretStore:
        return cls(Path(data_dir) / SECRETS_FILE, Path(data_dir) / KEY_FILE, environ)

    # -- values ---------------------------------------------------------------------

    def get(self, tenant: str, connection: str, field: str) -> str | None:
        value = self._read().get("values", {}).get(tenant, {}).get(connection, {}).get(field)
        return value if isinstance(value, str) else None

    def set(self, tenant: str, connection: str, field: str, value: str) -> None:
        if not value:
            raise SecretStoreError("refusing to store an empty secret")
        with self._update() as doc:
            doc.setdefault("values", {}).setdefault(tenant, {}).setdefault(connection, {})[
                field
            ] = value

    def delete(self, tenant: str, connection: str, field: str) -> bool:
        """Remove one value; True if it existed."""
        if not self.path.exists():
            return False
        with self._update() as doc:
            fields = doc.get("values", {}).get(tenant, {}).get(connection, {})
            return fields.pop(field, None) is not None

    def fields(self, tenant: str) -> dict[str, list[str]]:
        """Connection name → stored field names for ``tenant`` (names only, no values)."""
        stored = self._read().get("values", {}).get(tenant, {})
        return {conn: sorted(values) for conn, values in sorted(stored.items())}

    # -- OAuth tokens ---------------------------------------------------------------

    def get_oauth_token(self, tenant: str, connection: str) -> OAuthToken | None:
        raw = self._read().get("oauth", {}).get(tenant, {}).get(connection)
        if not isinstance(raw, dict) or not isinstance(raw.get("access_token"), str):
            return None
        expires = raw.get("expires_at")
        refresh = raw.get("refresh_token")
        return OAuthToken(
            access_token=raw["access_token"],
            refresh_token=refresh if isinstance(refresh, str) else None,
            expires_at=float(expires) if isinstance(expires, int | float) else None,
        )

    def set_oauth_token(self, tenant: str, connection: str, token: OAuthToken) -> None:
        with self._update() as doc:
            doc.setdefault("oauth", {}).setdefault(tenant, {})[connection] = {
                "access_token": token.access_token,
                "refresh_token": token.refresh_token,
                "expires_at": token.expires_at,
            }

    # -- file handling --------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise SecretStoreError(f"{self.path}: {exc.strerror}") from None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            if self._cache is not None and self._cache_stamp == stamp:
                return self._cache
        doc = self._decrypt_file()
        with self._lock:
            self._cache, self._cache_stamp = doc, stamp
        return doc

    # -- key rotation ---------------------------------------------------------------

    def rotate_key(self, new_key: bytes | None = None) -> Rotation:
        """Re-encrypt the secrets file under ``new_key`` (default: a fresh random key).

        With the key in a file, the new key replaces it (see the module docstring for
        the order of writes). With ``FASTN_SECRETS_KEY`` the file is re-encrypted and the
        new key returned: set it in the environment before the next start.
        """
        key = new_key if new_key is not None else AESGCM.generate_key(bit_length=256)
        if len(key) != 32:
            raise SecretStoreError("the new key must be 32 bytes (AES-256)")
        from_env = bool(self._env().get(KEY_ENV))
        with self._locked():
            doc = self._decrypt_file()
            if self._load_key(create=False) == key:
                raise SecretStoreError("the new key is the current key")
            pending = self._pending_key_path()
            if not from_env:
                self._write_key(pending, key)
            try:
                self._key = key
                self._write_atomic(self._encrypt(doc))
            except OSError as exc:
                self._key = None
                raise SecretStoreError(f"cannot write {self.path}: {exc.strerror}") from None
            if not from_env:
                os.replace(pending, self.key_path)
                _fsync_dir(self.key_path.parent)
            self._cache, self._cache_stamp = None, None
        values = doc.get("values", {})
        oauth = doc.get("oauth", {})
        return Rotation(
            tenants=len(set(values) | set(oauth)),
            values=sum(len(f) for conns in values.values() for f in conns.values()),
            oauth_tokens=sum(len(conns) for conns in oauth.values()),
            key_file=None if from_env else self.key_path,
            new_key=base64.b64encode(key).decode("ascii"),
        )

    def _pending_key_path(self) -> Path:
        return self.key_path.with_name(self.key_path.name + PENDING_SUFFIX)

    def _env(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def _write_key(self, path: Path, key: bytes) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # a leftover of an interrupted rotation that never got used
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(base64.b64encode(key).decode("ascii") + "\n")
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(path.parent)

    def _decrypt_with_fallbacks(self, nonce: bytes, ciphertext: bytes) -> bytes:
        """Decrypt with the cached key, else a key file that changed since (a rotation by
        another process), else the pending key of an interrupted rotation."""
        key = self._load_key(create=False)
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, _AAD)
        except InvalidTag:
            pass
        if self._env().get(KEY_ENV):
            raise InvalidTag()
        self._key = None
        candidates = [self._load_key(create=False)]
        pending = self._pending_key_path()
        if pending.exists():
            candidates.append(decode_key(pending.read_text(encoding="ascii"), str(pending)))
        for candidate in candidates:
            try:
                plain = AESGCM(candidate).decrypt(nonce, ciphertext, _AAD)
            except InvalidTag:
                continue
            if candidate != candidates[0]:
                os.replace(pending, self.key_path)  # finish the interrupted rotation
            self._key = candidate
            return plain
        raise InvalidTag()

    def _decrypt_file(self) -> dict[str, Any]:
        try:
            envelope = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise SecretStoreError(f"{self.path}: cannot read secrets file: {exc}") from None
        if (
            not isinstance(envelope, dict)
            or envelope.get("format") != FORMAT
            or envelope.get("version") != FORMAT_VERSION
            or envelope.get("alg") != ALGORITHM
        ):
            raise SecretStoreError(f"{self.path}: not a version {FORMAT_VERSION} secrets file")
        try:
            nonce = base64.b64decode(envelope["nonce"], validate=True)
            ciphertext = base64.b64decode(envelope["ciphertext"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            raise SecretStoreError(f"{self.path}: damaged secrets file") from None
        try:
            plain = self._decrypt_with_fallbacks(nonce, ciphertext)
        except InvalidTag:
            raise SecretStoreError(
                f"{self.path}: cannot decrypt: wrong key ({KEY_ENV} or {self.key_path}) "
                "or the file was modified"
            ) from None
        doc = json.loads(plain)
        if not isinstance(doc, dict):
            raise SecretStoreError(f"{self.path}: damaged secrets file")
        return doc

    def _encrypt(self, doc: dict[str, Any]) -> bytes:
        key = self._load_key(create=True)
        nonce = secrets.token_bytes(_NONCE_BYTES)
        plain = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        envelope = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "alg": ALGORITHM,
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "ciphertext": base64.b64encode(AESGCM(key).encrypt(nonce, plain, _AAD)).decode("ascii"),
        }
        return (json.dumps(envelope, indent=1) + "\n").encode()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The in-process lock and an exclusive lock on the lock file."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        with self._lock:
            try:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise SecretStoreError(f"cannot write {self.path}: {exc.strerror}") from None
            try:
                if sys.platform != "win32":  # elsewhere only the in-process lock applies
                    fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the lock

    @contextlib.contextmanager
    def _update(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write under the in-process lock and an exclusive file lock."""
        with self._locked():
            doc = self._decrypt_file()
            yield doc
            try:
                self._write_atomic(self._encrypt(doc))
            except OSError as exc:
                raise SecretStoreError(f"cannot write {self.path}: {exc.strerror}") from None
            self._cache, self._cache_stamp = None, None

    def _write_atomic(self, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".secrets.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:  # mkstemp files are 0600 already
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.path.parent)

    def _load_key(self, *, create: bool) -> bytes:
        if self._key is not None:
            return self._key
        from_env = self._env().get(KEY_ENV)
        if from_env:
            self._key = decode_key(from_env, KEY_ENV)
            return self._key
        try:
            st = self.key_path.stat()
        except FileNotFoundError:
            if not create:
                raise SecretStoreError(
                    f"no secrets key: set {KEY_ENV} or restore {self.key_path}"
                ) from None
            self._key = self._create_key_file()
            return self._key
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretStoreError(
                f"{self.key_path} is accessible by other users; run chmod 600 {self.key_path}"
            )
        self._key = decode_key(self.key_path.read_text(encoding="ascii"), str(self.key_path))
        return self._key

    def _create_key_file(self) -> bytes:
        self.key_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = AESGCM.generate_key(bit_length=256)
        try:
            # O_EXCL: two processes creating the key at once must not both win.
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return decode_key(self.key_path.read_text(encoding="ascii"), str(self.key_path))
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(base64.b64encode(key).decode("ascii") + "\n")
            f.flush()
            os.fsync(f.fileno())
        return key


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
