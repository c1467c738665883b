"""OAuth tokens shared by gateway replicas, refreshed by one replica at a time.

With a PostgreSQL store every replica reads a connection's current tokens from the
store (``secret_blobs``, AES-256-GCM under the secrets key, bound to tenant and
connection), and a refresh runs under the store lease ``oauth-refresh:<tenant>:<conn>``.
A replica that finds the lease held waits for it, then reads the tokens the holder
saved: a burst of calls on every replica costs the token endpoint one request, and a
rotated refresh token is never used twice. A holder that dies frees the lease when it
expires (``LEASE_S``).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fastn_gen.gateway.secrets import OAuthToken, SecretStoreError
from fastn_gen.store.base import Store

if TYPE_CHECKING:
    from fastn_gen.gateway.oauth import OAuthContext

LEASE_S = 30.0  # longer than a token request may take (its timeout)
WAIT_S = 35.0  # a waiter gives up only after a holder's lease must have ended
POLL_S = 0.05
_NONCE = 12


class RefreshBusy(Exception):
    """Another replica held the refresh lease for longer than a refresh may take."""


def _blob_key(ctx: OAuthContext) -> str:
    return f"oauth:{ctx.connection}"


def _aad(ctx: OAuthContext) -> bytes:
    return f"fastn-gen oauth token v1|{ctx.tenant_id}|{ctx.connection}".encode()


def _cipher(ctx: OAuthContext) -> AESGCM | None:
    if ctx.store is None:
        return None
    try:
        return AESGCM(ctx.store._load_key(create=True))
    except (SecretStoreError, OSError):
        return None


class SharedTokens:
    def __init__(
        self,
        store: Store,
        *,
        owner: str | None = None,
        lease_s: float = LEASE_S,
        wait_s: float = WAIT_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.owner = owner or f"oauth-{secrets.token_hex(6)}"
        self._lease = timedelta(seconds=lease_s)
        self._wait_s = wait_s
        self._clock = clock

    async def load(self, ctx: OAuthContext) -> OAuthToken | None:
        cipher = _cipher(ctx)
        blob = await self.store.get_secret_blob(ctx.tenant_id, _blob_key(ctx))
        if cipher is None or blob is None or len(blob) <= _NONCE:
            return None
        try:
            doc = json.loads(cipher.decrypt(blob[:_NONCE], blob[_NONCE:], _aad(ctx)))
        except (InvalidTag, ValueError):
            return None  # written under another key (rotated): as if absent
        expires = doc.get("expires_at")
        return OAuthToken(
            doc["access_token"],
            doc.get("refresh_token"),
            float(expires) if isinstance(expires, int | float) else None,
        )

    async def save(self, ctx: OAuthContext, token: OAuthToken) -> bool:
        cipher = _cipher(ctx)
        if cipher is None:
            return False
        doc = {
            "access_token": token.access_token,
            "refresh_token": token.refresh_token,
            "expires_at": token.expires_at,
        }
        nonce = secrets.token_bytes(_NONCE)
        sealed = nonce + cipher.encrypt(nonce, json.dumps(doc).encode(), _aad(ctx))
        await self.store.put_secret_blob(ctx.tenant_id, _blob_key(ctx), sealed)
        return True

    @asynccontextmanager
    async def refreshing(self, ctx: OAuthContext) -> AsyncIterator[None]:
        """Hold this connection's refresh lease (waiting while another replica does)."""
        name = f"oauth-refresh:{ctx.tenant_id}:{ctx.connection}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        while True:
            now = self._clock()
            if await self.store.acquire_lease(name, self.owner, now=now, until=now + self._lease):
                break
            if loop.time() > deadline:
                raise RefreshBusy("another gateway replica is refreshing this token")
            await asyncio.sleep(POLL_S)
        try:
            yield
        finally:
            await self.store.release_lease(name, self.owner)


def share_between_replicas(holder: Any, store: Store) -> None:
    """Give ``holder`` (an ``OAuthTokens``) shared tokens when replicas may share
    ``store``: PostgreSQL. A SQLite store serves one host, where the secrets file and
    the per-process refresh lock already do this job."""
    # A PostgreSQL store exists only once its module was imported; looking it up
    # instead of importing it keeps psycopg out of SQLite gateways' start-up.
    postgres = sys.modules.get("fastn_gen.store.postgres")
    if postgres is not None and isinstance(store, postgres.PostgresStore):
        holder.shared = SharedTokens(store)
