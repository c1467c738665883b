"""Checking a presented admin key against the configured hashes.

Entries from the tenants file carry the key's id, so a generated key is checked
against its own entry only; hashes given with ``--admin-key-hash`` have no id and are
each tried. Results are cached by the SHA-256 of the presented key (bounded), so a
browser sending its cookie on every page pays the KDF once.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from fastn_gen.gateway.apikeys import KEY_PREFIX, KeyHash, hash_api_key, key_id, parse_key_hash

CACHE_SIZE = 256


@dataclass(frozen=True, slots=True)
class AdminKeyEntry:
    key_id: str | None
    hash: KeyHash


class AdminKeys:
    def __init__(self, entries: Iterable[AdminKeyEntry]) -> None:
        self._entries = tuple(entries)
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_hashes(cls, hashes: Iterable[tuple[str | None, str]]) -> AdminKeys:
        """From ``(id or None, hash text)`` pairs; raises KeyHashError on a bad hash."""
        return cls(AdminKeyEntry(kid, parse_key_hash(text)) for kid, text in hashes)

    @property
    def configured(self) -> bool:
        return bool(self._entries)

    def verify(self, presented: str | None) -> bool:
        if not presented or not self._entries:
            return False
        fingerprint = hashlib.sha256(presented.encode()).digest()
        with self._lock:
            cached = self._cache.get(fingerprint)
        if cached is not None:
            return cached
        kid = key_id(presented)
        ok = False
        for entry in self._entries:
            if entry.key_id is not None and kid is not None and entry.key_id != kid:
                continue
            # No early exit: the time taken does not say which entry matched.
            if entry.hash.matches(presented):
                ok = True
        with self._lock:
            self._cache[fingerprint] = ok
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return ok


def generate_admin_key() -> tuple[str, str]:
    """A new admin key (shown once) and the entry to add under ``admin.api_keys``."""
    kid = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{kid}_{secrets.token_urlsafe(32)}"
    return key, f'- {{id: "{kid}", hash: "{hash_api_key(key)}", label: admin}}'
