"""The store-backed tenant registry in one process: resolution, caching, revocation.

Runs on both store backends (the store suite's fixtures). Time is a fake clock, so
the cache's expiry is exercised without waiting.
"""

from __future__ import annotations

import pytest

from fastn_gen.gateway.apikeys import generate_api_key, hash_api_key, key_id
from fastn_gen.gateway.store_registry import StoreTenantRegistry
from fastn_gen.gateway.tenancy import TenantRegistry
from fastn_gen.store.base import Store
from fastn_gen.store.tenant_records import ApiKeyRow, ConnectionRow, TenantRow
from tests.store.conftest import Backend
from tests.store.helpers import T0

pytestmark = pytest.mark.anyio

PLANS = """version: 1
plans:
  small: {tool_calls_per_month: 10}
  pro: {}
tenants: []
tenants_from: store
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def seed(store: Store) -> tuple[str, str]:
    """Tenant acme (Slack, generated key) and beta (a legacy key); returns both keys."""
    await store.put_tenant(TenantRow("acme", "small", "Acme"), at=T0)
    await store.put_tenant(TenantRow("beta", "pro", limits={"tool_calls_per_month": 3}), at=T0)
    acme_key, _ = generate_api_key("acme")
    kid = key_id(acme_key)
    assert kid is not None
    await store.add_api_key(ApiKeyRow(kid, "acme", hash_api_key(acme_key)), at=T0)
    beta_key = "beta-legacy-key-0123456789abcdef"
    await store.add_api_key(ApiKeyRow("beta-main", "beta", hash_api_key(beta_key)), at=T0)
    slack = ConnectionRow("acme", "slack", "slack", {"token": "${ACME_SLACK}"})
    await store.put_connection(slack, at=T0)
    return acme_key, beta_key


def registry(backend: Backend, clock: Clock) -> StoreTenantRegistry:
    base = TenantRegistry.from_text(PLANS)
    return StoreTenantRegistry(backend.make(), base, ttl_s=5.0, clock=clock)


async def test_keys_resolve_to_tenants_with_connections_and_plan_limits(backend: Backend) -> None:
    clock = Clock()
    reg = registry(backend, clock)
    await reg.start()
    try:
        acme_key, beta_key = await seed(reg.store)
        acme = await reg.resolve_key(acme_key)
        beta = await reg.resolve_key(beta_key)
        assert await reg.resolve_key(acme_key + "x") is None
        assert await reg.resolve_key("fgk_000000000000_" + "a" * 43) is None
        assert await reg.resolve_key("") is None
    finally:
        await reg.aclose()
    assert acme is not None and beta is not None
    assert acme.connected_connectors() == ["slack"]
    assert acme.connections["slack"].credentials["token"].describe() == "${ACME_SLACK}"
    assert acme.limits.tool_calls_per_month == 10 and acme.display_name == "Acme"
    assert beta.limits.tool_calls_per_month == 3 and beta.connections == {}


async def test_a_cached_key_is_not_hashed_again_and_stays_one_lookup_when_stale(
    backend: Backend,
) -> None:
    async with backend.make() as store:  # before the registry listens: no notices
        acme_key, _ = await seed(store)
    clock = Clock()
    reg = registry(backend, clock)
    await reg.start()
    try:
        for _ in range(3):
            assert await reg.resolve_key(acme_key) is not None
        assert (reg.hits, reg.misses, reg.verifications) == (2, 1, 1)
        clock.now += 6  # stale: the row is read again, the hash is not recomputed
        assert await reg.resolve_key(acme_key) is not None
        assert (reg.misses, reg.verifications) == (1, 1)
    finally:
        await reg.aclose()


async def test_revocation_and_connection_changes_apply_when_the_cache_expires(
    backend: Backend,
) -> None:
    clock = Clock()
    reg = registry(backend, clock)
    await reg.start()
    store = backend.make()  # another process (the CLI) making the changes
    await store.open()
    try:
        acme_key, beta_key = await seed(store)
        assert await reg.resolve_key(acme_key) is not None
        assert await reg.resolve_key(beta_key) is not None
        kid = key_id(acme_key)
        assert kid is not None
        await store.revoke_api_key("acme", kid, at=T0)
        await store.revoke_api_key("beta", "beta-main", at=T0)
        shop = ConnectionRow("acme", "shop", "shopify", {"api_key": "${K}"}, {"shop": "s"})
        await store.put_connection(shop, at=T0)
        if not reg.listening.is_set():  # no notices (SQLite): cached within the TTL
            assert await reg.resolve_key(acme_key) is not None
        clock.now += 5.0
        assert await reg.resolve_key(acme_key) is None
        assert await reg.resolve_key(beta_key) is None
        acme = await reg.find("acme")
    finally:
        await store.close()
        await reg.aclose()
    assert acme is not None and acme.connected_connectors() == ["shopify", "slack"]


async def test_a_change_notice_drops_the_entries_at_once(backend: Backend) -> None:
    clock = Clock()
    reg = registry(backend, clock)
    await reg.start()
    seen: list[tuple[str, str]] = []

    async def told(kind: str, tenant: str) -> None:
        seen.append((kind, tenant))

    reg.on_change(told)
    try:
        acme_key, _ = await seed(reg.store)
        assert await reg.resolve_key(acme_key) is not None
        kid = key_id(acme_key)
        assert kid is not None
        await reg.store.revoke_api_key("acme", kid, at=T0)
        await reg.on_notice("keys:acme")  # what the listener calls on a notice
        assert await reg.resolve_key(acme_key) is None  # no clock movement needed
        await reg.store.delete_connection("acme", "slack", at=T0)
        await reg.on_notice("tenant:*")
        acme = await reg.find("acme")
    finally:
        await reg.aclose()
    assert acme is not None and acme.connections == {}
    # In order (on PostgreSQL the store's own notices of the same changes come too).
    assert seen.index(("keys", "acme")) < seen.index(("tenant", "*"))


async def test_the_caches_are_bounded(backend: Backend) -> None:
    clock = Clock()
    base = TenantRegistry.from_text(PLANS)
    reg = StoreTenantRegistry(backend.make(), base, cache_size=8, clock=clock)
    await reg.start()
    try:
        for n in range(20):
            await reg.store.put_tenant(TenantRow(f"t{n:02d}"), at=T0)
        for n in range(20):
            assert await reg.find(f"t{n:02d}") is not None
            assert await reg.resolve_key(f"unknown-key-{n}") is None
        assert reg.cached_tenants == 8 and reg.key_stats.cached == 8
        assert [t.id for t in reg.tenants] == [f"t{n}" for n in range(12, 20)]
    finally:
        await reg.aclose()


async def test_concurrent_requests_share_one_load_and_survive_its_cancellation(
    backend: Backend,
) -> None:
    import asyncio

    async with backend.make() as store:
        acme_key, _ = await seed(store)
    reg = registry(backend, Clock())
    await reg.start()
    try:
        results = await asyncio.gather(*(reg.resolve_key(acme_key) for _ in range(10)))
        assert {t.id for t in results if t is not None} == {"acme"} and None not in results
        assert reg.misses == 1  # ten requests, one verification
        fresh = registry(backend, Clock())
        await fresh.start()
        try:
            first = asyncio.ensure_future(fresh.resolve_key(acme_key))
            await asyncio.sleep(0)  # the first request starts the load...
            second = asyncio.ensure_future(fresh.resolve_key(acme_key))
            await asyncio.sleep(0)
            first.cancel()  # ...and goes away; the second still gets its answer
            found = await second
        finally:
            await fresh.aclose()
    finally:
        await reg.aclose()
    assert found is not None and found.id == "acme"
