"""Tenant API keys: generation, salted hashes, and O(1) verification.

Generated keys look like ``fgk_<id>_<secret>``: ``<id>`` is 12 random hex characters
that are not secret and name the key's entry in the tenants file, ``<secret>`` is 256
random bits. The file stores the id and ``scrypt$<n>$<r>$<p>$<salt>$<hash>``, so a
request finds the one candidate entry by id (a dict lookup) and runs one scrypt plus a
constant-time comparison, however many keys are configured.

Keys without that shape (the published demo keys, keys carried over from elsewhere)
are stored as ``sha256$<salt>$<hash>`` and found by checking every such entry with a
salted SHA-256, which costs microseconds each. Use them only for high-entropy keys you
cannot replace: a cheap hash offers no protection to a guessable key if the tenants
file leaks, which is why generated keys use scrypt.

Verification results are kept in a bounded LRU keyed by SHA-256 of the presented key,
so a client sending the same key on every request pays the KDF once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from fastn_gen.gateway.toolsets import Toolset

KEY_PREFIX = "fgk_"
KEY_ID_PATTERN = r"[a-f0-9]{12}"
_GENERATED_KEY = re.compile(rf"^{KEY_PREFIX}({KEY_ID_PATTERN})_([A-Za-z0-9_-]{{20,}})$")

# scrypt cost: 16 MiB and ~50 ms per verification; paid once per key thanks to the LRU.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
# Upper bounds accepted from a tenants file, so a hand-edited entry cannot make every
# authentication attempt allocate gigabytes.
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16
_SALT_BYTES = 16
_DKLEN = 32

DEFAULT_CACHE_SIZE = 4096


class KeyHashError(ValueError):
    """A hash string in the tenants file is malformed."""


@dataclass(frozen=True, slots=True)
class KeyHash:
    scheme: Literal["scrypt", "sha256"]
    salt: bytes
    digest: bytes
    n: int = 0
    r: int = 0
    p: int = 0

    def matches(self, key: str) -> bool:
        """Constant-time check of ``key`` against this hash."""
        return hmac.compare_digest(_derive(self, key.encode()), self.digest)


def is_generated_key(key: str) -> bool:
    return _GENERATED_KEY.match(key) is not None


def key_id(key: str) -> str | None:
    """The non-secret id of a generated key, or None for other keys."""
    found = _GENERATED_KEY.match(key)
    return found.group(1) if found else None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _derive(h: KeyHash, key: bytes) -> bytes:
    if h.scheme == "scrypt":
        return hashlib.scrypt(
            key, salt=h.salt, n=h.n, r=h.r, p=h.p, dklen=len(h.digest), maxmem=256 * 1024 * 1024
        )
    return hashlib.sha256(h.salt + key).digest()


def hash_api_key(key: str) -> str:
    """The salted hash stored in the tenants file for ``key``.

    scrypt for generated ``fgk_`` keys (found by id, so the KDF runs once per request at
    most); salted SHA-256 for any other key, because those are found by trying every
    such entry and a KDF per entry would make a wrong key expensive to refuse.
    """
    if not key or key != key.strip():
        raise ValueError("an API key must be non-empty and carry no surrounding whitespace")
    salt = secrets.token_bytes(_SALT_BYTES)
    if is_generated_key(key):
        h = KeyHash("scrypt", salt, b"\0" * _DKLEN, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        digest = _derive(h, key.encode())
        return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"
    digest = hashlib.sha256(salt + key.encode()).digest()
    return f"sha256${_b64(salt)}${_b64(digest)}"


def parse_key_hash(text: str) -> KeyHash:
    parts = text.split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            if n < 2 or n & (n - 1) or n > _MAX_N or not 1 <= r <= _MAX_R or not 1 <= p <= _MAX_P:
                raise KeyHashError(
                    f"scrypt parameters out of range (n a power of two ≤ {_MAX_N}, "
                    f"r ≤ {_MAX_R}, p ≤ {_MAX_P})"
                )
            salt, digest = _unb64(parts[4]), _unb64(parts[5])
            scheme: Literal["scrypt", "sha256"] = "scrypt"
        elif parts[0] == "sha256" and len(parts) == 3:
            salt, digest = _unb64(parts[1]), _unb64(parts[2])
            n = r = p = 0
            scheme = "sha256"
            if len(digest) != 32:
                raise KeyHashError("a sha256 digest is 32 bytes")
        else:
            raise KeyHashError(
                "expected scrypt$<n>$<r>$<p>$<salt>$<hash> or sha256$<salt>$<hash> "
                "(produced by `fastn-gen keys new` or hash_api_key)"
            )
    except (ValueError, binascii.Error) as exc:
        if isinstance(exc, KeyHashError):
            raise
        raise KeyHashError("malformed hash: bad number or base64") from None
    if len(salt) < 8:
        raise KeyHashError("salt must be at least 8 bytes")
    if len(digest) < 16:
        raise KeyHashError("hash must be at least 16 bytes")
    return KeyHash(scheme, salt, digest, n, r, p)


def generate_api_key(tenant_id: str) -> tuple[str, str]:
    """A new key for ``tenant_id`` and the YAML line to add under its ``api_keys``.

    The key itself is shown once and stored nowhere; the line holds only its id and hash.
    """
    kid = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{kid}_{secrets.token_urlsafe(32)}"
    line = f'- {{id: "{kid}", hash: "{hash_api_key(key)}"}}  # tenant {tenant_id}'
    return key, line


@dataclass(frozen=True, slots=True)
class KeyIndexStats:
    hits: int  # answered from the cache
    misses: int  # verified against hashes
    verifications: int  # hash comparisons run (one KDF each for scrypt entries)
    cached: int


@dataclass(frozen=True, slots=True)
class KeyEntry:
    tenant_id: str
    key_id: str
    hash: KeyHash
    # The key's own toolset, already narrowed from its tenant's; None: the tenant's.
    toolset: Toolset | None = None


class ApiKeyIndex:
    """Maps presented keys to tenant ids: by id for generated keys, by scan otherwise."""

    def __init__(self, entries: Iterable[KeyEntry], cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._by_id: dict[str, KeyEntry] = {}
        self._scanned: list[KeyEntry] = []
        for entry in entries:
            if entry.hash.scheme == "scrypt":
                self._by_id[entry.key_id] = entry
            else:
                self._scanned.append(entry)
        self._cache: OrderedDict[bytes, KeyEntry | None] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._hits = self._misses = self._verifications = 0

    @property
    def stats(self) -> KeyIndexStats:
        with self._lock:
            return KeyIndexStats(self._hits, self._misses, self._verifications, len(self._cache))

    def cached(self, presented: str) -> tuple[bool, KeyEntry | None]:
        """(True, answer) when ``presented`` was checked before; no hashing beyond SHA-256.

        Cheap enough for the event loop; a miss needs :meth:`lookup` (scrypt) off it.
        """
        if not presented:
            return True, None
        fingerprint = hashlib.sha256(presented.encode()).digest()
        with self._lock:
            if fingerprint in self._cache:
                self._hits += 1
                self._cache.move_to_end(fingerprint)
                return True, self._cache[fingerprint]
        return False, None

    def lookup(self, presented: str) -> str | None:
        """The tenant id ``presented`` belongs to, or None."""
        entry = self.lookup_entry(presented)
        return entry.tenant_id if entry is not None else None

    def lookup_entry(self, presented: str) -> KeyEntry | None:
        """The entry ``presented`` matches (its tenant and key id), or None."""
        if not presented:
            return None
        fingerprint = hashlib.sha256(presented.encode()).digest()
        with self._lock:
            if fingerprint in self._cache:
                self._hits += 1
                self._cache.move_to_end(fingerprint)
                return self._cache[fingerprint]
        entry, verified = self._verify(presented)
        with self._lock:
            self._misses += 1
            self._verifications += verified
            self._cache[fingerprint] = entry
            self._cache.move_to_end(fingerprint)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return entry

    def _verify(self, presented: str) -> tuple[KeyEntry | None, int]:
        """(the matching entry or None, number of hash comparisons run)."""
        kid = key_id(presented)
        if kid is not None:
            # A generated key is only ever checked against its own entry.
            entry = self._by_id.get(kid)
            if entry is None:
                return None, 0
            return (entry if entry.hash.matches(presented) else None), 1
        found: KeyEntry | None = None
        for entry in self._scanned:
            # No early exit: the time taken does not depend on which entry matched.
            if entry.hash.matches(presented) and found is None:
                found = entry
        return found, len(self._scanned)
