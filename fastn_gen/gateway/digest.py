"""A keyed digest of tool-call arguments, stored in events instead of the arguments.

Two calls with the same arguments get the same digest (so an operator can spot a
client repeating a call), but the digest reveals nothing about the values: it is an
HMAC-SHA256 under a key the store never holds, so a copy of the database cannot be
used to guess low-entropy arguments by hashing candidates.

The key comes from ``FASTN_DIGEST_KEY`` (base64, 32 bytes; set the same value on every
replica) or from ``<data_dir>/digest.key``, created with mode 0600 on first start.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

KEY_ENV = "FASTN_DIGEST_KEY"
KEY_FILE = "digest.key"
KEY_BYTES = 32
PREFIX = "hmac-sha256:"


class DigestKeyError(Exception):
    pass


def canonical_json(value: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no whitespace, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


class ArgsDigest:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise DigestKeyError("the argument digest key must be at least 16 bytes")
        self._key = key

    def __call__(self, arguments: Mapping[str, Any] | None) -> str:
        mac = hmac.new(self._key, canonical_json(dict(arguments or {})), hashlib.sha256)
        return PREFIX + mac.hexdigest()[:32]

    def __repr__(self) -> str:
        return "ArgsDigest(<key>)"

    @classmethod
    def for_data_dir(cls, data_dir: Path, environ: Mapping[str, str] | None = None) -> ArgsDigest:
        env = os.environ if environ is None else environ
        from_env = env.get(KEY_ENV)
        if from_env:
            return cls(_decode(from_env, KEY_ENV))
        return cls(_key_file(Path(data_dir) / KEY_FILE))


def _decode(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise DigestKeyError(f"{source} is not valid base64") from None
    if len(key) < 16:
        raise DigestKeyError(f"{source} must decode to at least 16 bytes")
    return key


def _key_file(path: Path) -> bytes:
    try:
        st = path.stat()
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            # O_EXCL: of two processes starting at once, one creates and both read it.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _decode(path.read_text(encoding="ascii"), str(path))
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(base64.b64encode(key).decode("ascii") + "\n")
            f.flush()
            os.fsync(f.fileno())
        return key
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise DigestKeyError(f"{path} is accessible by other users; run chmod 600 {path}")
    return _decode(path.read_text(encoding="ascii"), str(path))
