"""Tenants served from the store (``--tenants-from store``), for very many tenants.

Nothing is loaded up front. A request's key is resolved with one primary-key lookup
(a generated key names its entry by id), one hash verification and one read of its
tenant, then kept in two bounded LRU caches (presented key -> verdict, tenant id ->
tenant) for ``ttl_s`` seconds. Memory is bounded by the cache sizes, whatever the
number of tenants, and tool lists are shared per connector set (``handlers``).

Revocation and changes: an entry older than ``ttl_s`` is checked again (a key: one
lookup of its row; a tenant: one read), so a revoked key or a changed connection is
honoured within ``ttl_s`` at most. On PostgreSQL every change is also announced
(``pg_changes``) and drops the affected entries on every replica at once.

Keys that are not generated (``sha256$`` hashes) cannot be found by id: the few of
them are read into memory (refreshed every ``ttl_s``) and checked one by one, as the
tenants file does. Keep such keys few; ``fastn-gen tenants add`` only makes
generated ones.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anyio.to_thread

from fastn_gen.gateway.apikeys import KeyEntry, KeyHashError, KeyIndexStats, key_id, parse_key_hash
from fastn_gen.gateway.tenancy import Tenant, TenantRegistry
from fastn_gen.gateway.tenant_rows import (
    KeyToolset,
    LimitsResolver,
    key_toolset,
    tenant_from_record,
)
from fastn_gen.store.base import Store
from fastn_gen.store.tenant_records import ALL_TENANTS, ApiKeyRow

logger = logging.getLogger(__name__)

DEFAULT_TTL_S = 5.0
DEFAULT_CACHE_SIZE = 10_000

K = TypeVar("K")
V = TypeVar("V")
# Told about each change notice after the caches dropped what it names: (kind, tenant).
ChangeCallback = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    checked: float  # when it was last read from or confirmed by the store


class _Lru(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self._items: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._size = max(1, size)

    def get(self, key: K) -> _Entry[V] | None:
        entry = self._items.get(key)
        if entry is not None:
            self._items.move_to_end(key)
        return entry

    def put(self, key: K, value: V, checked: float) -> None:
        self._items[key] = _Entry(value, checked)
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def pop(self, key: K) -> None:
        self._items.pop(key, None)

    def drop_where(self, test: Callable[[V], bool]) -> None:
        for key in [k for k, e in self._items.items() if test(e.value)]:
            del self._items[key]

    def clear(self) -> None:
        self._items.clear()

    def values(self) -> Iterator[V]:
        return (e.value for e in self._items.values())

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True, slots=True)
class _Verdict:
    """What a presented key resolved to. ``hash`` is the stored hash it matched."""

    tenant_id: str | None
    key_id: str | None = None
    hash: str | None = None
    # The key's own toolset as stored (JSON), and parsed once here.
    toolset: dict[str, Any] | None = None
    narrowing: KeyToolset | None = None

    @classmethod
    def of(cls, row: ApiKeyRow) -> _Verdict:
        narrowing = key_toolset(row.toolset) if row.toolset is not None else None
        return cls(row.tenant_id, row.key_id, row.hash, row.toolset, narrowing)

    def serve(self, tenant: Tenant) -> Tenant:
        """``tenant`` as served for this key: its id, and its toolset narrowed by the key's."""
        toolset = tenant.toolset
        if self.narrowing is not None:
            toolset = toolset.narrowed(*self.narrowing)
        return dataclasses.replace(tenant, api_key_id=self.key_id, toolset=toolset)


class StoreTenantRegistry(TenantRegistry):
    """A :class:`TenantRegistry` whose tenants live in the store.

    Use the async methods (``resolve_key``, ``find``, ``resolve_claimed``); the
    synchronous ``get``, ``authenticate`` and ``claimed_tenant`` answer from the
    caches only, and ``tenants`` lists the cached tenants, not every tenant.
    """

    def __init__(
        self,
        store: Store,
        base: TenantRegistry,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        cache_size: int = DEFAULT_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            (),
            (),
            plans=base.plans,
            data_dir=base.data_dir,
            secret_store=base.secret_store,
            source=f"store (plans from {base.source})",
        )
        self.store = store
        self.ttl_s = ttl_s
        self._clock = clock
        self._limits = LimitsResolver(self.plans)
        self._verdicts: _Lru[bytes, _Verdict] = _Lru(cache_size)
        self._cache: _Lru[str, Tenant | None] = _Lru(cache_size)
        self._scanned: _Entry[list[KeyEntry]] | None = None
        self._inflight: dict[object, asyncio.Future[Any]] = {}
        self._generation = 0  # moves on every change notice: loads begun earlier are stale
        self._count = 0
        self._listener: asyncio.Task[None] | None = None
        self._callbacks: list[ChangeCallback] = []
        self.listening = asyncio.Event()
        self.hits = self.misses = self.verifications = 0

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        await self.store.open()
        self._count = await self.store.count_tenants()
        make_listener = getattr(self.store, "change_listener", None)
        if make_listener is not None and self._listener is None:
            listener = make_listener()
            self._listener = asyncio.get_running_loop().create_task(
                listener.run(self.on_notice), name="fastn-tenant-changes"
            )
            # Serve once notices flow, so no change is missed between start and first use.
            waiting = asyncio.ensure_future(listener.connected.wait())
            await asyncio.wait(
                [waiting, self._listener], timeout=10.0, return_when=asyncio.FIRST_COMPLETED
            )
            waiting.cancel()
            if listener.connected.is_set():
                self.listening.set()
            else:
                logger.warning("change notices unavailable; changes apply within %ss", self.ttl_s)

    async def aclose(self) -> None:
        task, self._listener = self._listener, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.store.close()

    def on_change(self, callback: ChangeCallback) -> None:
        """Call ``callback(kind, tenant_id)`` after each change notice is applied."""
        self._callbacks.append(callback)

    # -- change notices -------------------------------------------------------------------
    async def on_notice(self, payload: str) -> None:
        kind, _, tenant_id = payload.partition(":")
        self._generation += 1
        if tenant_id == ALL_TENANTS:
            self._verdicts.clear()
            self._cache.clear()
            self._scanned = None
            self._count = await self.store.count_tenants()
        else:
            self._cache.pop(tenant_id)
            self._verdicts.drop_where(lambda v: v.tenant_id == tenant_id)
            if kind in ("keys", "tenant"):
                self._verdicts.drop_where(lambda v: v.tenant_id is None)
                self._scanned = None
            if kind == "tenant":
                self._count = await self.store.count_tenants()
        for callback in self._callbacks:
            try:
                await callback(kind, tenant_id)
            except Exception:
                logger.exception("a tenant change callback failed")

    # -- resolution -----------------------------------------------------------------------
    def _fresh(self, entry: _Entry[Any]) -> bool:
        return self._clock() - entry.checked < self.ttl_s

    async def _once(self, key: object, load: Callable[[], Awaitable[V]]) -> V:
        """Concurrent callers asking for the same thing share one load."""
        running = self._inflight.get(key)
        if running is not None:
            try:
                result: V = await asyncio.shield(running)
                return result
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not running.cancelled() or (task is not None and task.cancelling()):
                    raise
                return await load()  # the request that was loading went away, not this one
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await load()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning
            raise
        else:
            future.set_result(value)
            return value
        finally:
            del self._inflight[key]

    async def find(self, tenant_id: str) -> Tenant | None:
        entry = self._cache.get(tenant_id)
        if entry is not None and self._fresh(entry):
            return entry.value
        return await self._once(("tenant", tenant_id), lambda: self._load_tenant(tenant_id))

    async def _load_tenant(self, tenant_id: str) -> Tenant | None:
        generation, started = self._generation, self._clock()
        record = await self.store.get_tenant(tenant_id)
        tenant = (
            None if record is None else tenant_from_record(record, self._limits, self.secret_store)
        )
        # A change announced while reading may not be in what was read: keep it stale.
        self._cache.put(tenant_id, tenant, started if generation == self._generation else 0.0)
        return tenant

    async def resolve_key(self, presented: str) -> Tenant | None:
        if not presented:
            return None
        fingerprint = hashlib.sha256(presented.encode()).digest()
        entry = self._verdicts.get(fingerprint)
        if entry is not None and self._fresh(entry):
            self.hits += 1
            verdict = entry.value
        else:
            verdict = await self._once(
                ("key", fingerprint), lambda: self._verify(fingerprint, presented, entry)
            )
        tenant = None if verdict.tenant_id is None else await self.find(verdict.tenant_id)
        return None if tenant is None else verdict.serve(tenant)

    async def _verify(
        self, fingerprint: bytes, presented: str, previous: _Entry[_Verdict] | None
    ) -> _Verdict:
        generation, started = self._generation, self._clock()
        verdict = await self._still_valid(previous) if previous is not None else None
        if verdict is None:
            self.misses += 1
            kid = key_id(presented)
            verdict = await (self._by_id(kid, presented) if kid else self._by_scan(presented))
        self._verdicts.put(fingerprint, verdict, started if generation == self._generation else 0)
        return verdict

    async def _still_valid(self, previous: _Entry[_Verdict]) -> _Verdict | None:
        """A matched key whose row is unchanged needs no new hash check: one lookup."""
        old = previous.value
        if old.key_id is None or old.hash is None:
            return None
        row = await self.store.get_api_key(old.key_id)
        if row is None or row.revoked_at is not None or row.hash != old.hash:
            return None
        return old if row.toolset == old.toolset else _Verdict.of(row)

    async def _by_id(self, kid: str, presented: str) -> _Verdict:
        row = await self.store.get_api_key(kid)
        if row is None or row.revoked_at is not None or not row.indexed:
            return _Verdict(None)
        self.verifications += 1
        if await anyio.to_thread.run_sync(_matches, row, presented):
            return _Verdict.of(row)
        return _Verdict(None)

    async def _by_scan(self, presented: str) -> _Verdict:
        scanned = self._scanned
        if scanned is None or not self._fresh(scanned):
            rows = await self.store.scanned_api_keys()
            entries = []
            for row in rows:
                try:
                    entries.append(KeyEntry(row.tenant_id, row.key_id, parse_key_hash(row.hash)))
                except KeyHashError:
                    logger.warning("API key %s has an unreadable hash; ignored", row.key_id)
            scanned = self._scanned = _Entry(entries, self._clock())
        self.verifications += len(scanned.value)
        found = await anyio.to_thread.run_sync(_scan, scanned.value, presented)
        if found is None:
            return _Verdict(None)
        stored = await self.store.get_api_key(found.key_id)  # for revalidation by id later
        if stored is None or stored.tenant_id != found.tenant_id:
            return _Verdict(found.tenant_id, found.key_id)
        return _Verdict.of(stored)

    async def resolve_claimed(self, presented: str) -> Tenant | None:
        kid = key_id(presented)
        row = await self.store.get_api_key(kid) if kid is not None else None
        return None if row is None else await self.find(row.tenant_id)

    # -- the synchronous surface: caches only ---------------------------------------------
    def get(self, tenant_id: str) -> Tenant | None:
        entry = self._cache.get(tenant_id)
        return None if entry is None else entry.value

    def authenticate(self, presented: str) -> Tenant | None:
        entry = self._verdicts.get(hashlib.sha256(presented.encode()).digest())
        if entry is None or entry.value.tenant_id is None or not self._fresh(entry):
            return None
        tenant = self.get(entry.value.tenant_id)
        return None if tenant is None else entry.value.serve(tenant)

    def claimed_tenant(self, presented: str) -> Tenant | None:
        return None

    @property
    def tenants(self) -> tuple[Tenant, ...]:
        return tuple(t for t in self._cache.values() if t is not None)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Tenant]:
        return iter(self.tenants)

    @property
    def key_stats(self) -> KeyIndexStats:
        return KeyIndexStats(self.hits, self.misses, self.verifications, len(self._verdicts))

    @property
    def cached_tenants(self) -> int:
        return len(self._cache)


def _matches(row: ApiKeyRow, presented: str) -> bool:
    try:
        return parse_key_hash(row.hash).matches(presented)
    except KeyHashError:
        return False


def _scan(entries: list[KeyEntry], presented: str) -> KeyEntry | None:
    found: KeyEntry | None = None
    for entry in entries:
        # No early exit: the time taken does not depend on which entry matched.
        if entry.hash.matches(presented) and found is None:
            found = entry
    return found
