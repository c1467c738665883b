"""``notifications/tools/list_changed`` for the tenant whose connections changed.

Clients on protocol 2026-07-28 open a ``subscriptions/listen`` stream (the SDK's
``ListenHandler``); this bus files each stream under the tenant that opened it and
delivers an event to that tenant's streams only. With tenants in the store, a change
notice (``StoreTenantRegistry.on_change``) reaches every replica, and each replica
tells its own subscribers when the tenant's set of connectors or its toolset, and so
its tool list, changed. Delivery is best effort, without replay, as the SDK's streams are: a client
whose stream dropped re-listens and lists again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

import anyio.lowlevel
from mcp.server.subscriptions import ListenHandler, ServerEvent, ToolsListChanged

from fastn_gen.gateway.accounts import AccountShape, account_shape
from fastn_gen.gateway.context import current_tenant
from fastn_gen.gateway.tenancy import Tenant, TenantRegistry
from fastn_gen.gateway.toolsets import Toolset

logger = logging.getLogger(__name__)

Listener = Callable[[ServerEvent], None]
# Concurrent listen streams per replica, and events buffered per stream.
MAX_STREAMS = 1024
MAX_BUFFERED = 64


class TenantEventBus:
    """A ``SubscriptionBus`` that scopes every stream to its tenant."""

    def __init__(self) -> None:
        self._listeners: dict[str, dict[object, Listener]] = {}
        # The connector set each subscribed tenant was last told about.
        self._announced: dict[str, ListShape] = {}
        self.delivered = 0

    def handler(self) -> ListenHandler:
        return ListenHandler(self, max_subscriptions=MAX_STREAMS, max_buffered_events=MAX_BUFFERED)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        # Runs in the listen request's task, where authentication set the tenant.
        tenant = current_tenant()
        if tenant is None:
            return lambda: None
        token = object()
        self._listeners.setdefault(tenant.id, {})[token] = listener
        self._announced.setdefault(tenant.id, _connectors(tenant))

        def unsubscribe() -> None:
            mine = self._listeners.get(tenant.id)
            if mine is not None:
                mine.pop(token, None)
                if not mine:
                    del self._listeners[tenant.id]
                    self._announced.pop(tenant.id, None)

        return unsubscribe

    async def publish(self, event: ServerEvent) -> None:
        """Without a tenant: for the current request's tenant only."""
        tenant = current_tenant()
        if tenant is not None:
            await self.publish_to(tenant.id, event)

    async def publish_to(self, tenant_id: str, event: ServerEvent) -> None:
        for listener in list(self._listeners.get(tenant_id, {}).values()):
            try:
                listener(event)
                self.delivered += 1
            except Exception:  # one broken stream must not starve the others
                logger.exception("a listen stream failed to take an event")
        await anyio.lowlevel.checkpoint()

    def subscribed(self) -> list[str]:
        return sorted(self._listeners)

    async def tenant_changed(self, registry: TenantRegistry, tenant_id: str | None) -> None:
        """Tell subscribers whose tenant's connectors changed (None: any tenant may have)."""
        for tid in [tenant_id] if tenant_id is not None else self.subscribed():
            if tid not in self._listeners:
                continue
            tenant = await registry.find(tid)
            now = _connectors(tenant) if tenant is not None else GONE
            if self._announced.get(tid) == now:
                continue
            self._announced[tid] = now
            await self.publish_to(tid, ToolsListChanged())

    async def config_reloaded(
        self, registry: TenantRegistry, changed_connectors: Collection[str]
    ) -> list[str]:
        """After a live reload: tell the subscribed tenants whose tool list changed.

        A tenant's list changed when its set of connectors did, when one of its
        connectors' tools changed in a rebuild, or when the tenant was removed; a removed
        tenant's streams are told once and then dropped. Returns the tenants told.
        """
        changed = frozenset(changed_connectors)
        told: list[str] = []
        for tid in self.subscribed():
            tenant = await registry.find(tid)
            now = _connectors(tenant) if tenant is not None else GONE
            if tenant is not None and self._announced.get(tid) == now and not now[0] & changed:
                continue
            self._announced[tid] = now
            await self.publish_to(tid, ToolsListChanged())
            told.append(tid)
            if tenant is None:
                # Its key is gone: nothing more is sent to streams opened with it.
                self._listeners.pop(tid, None)
                self._announced.pop(tid, None)
        return told


# What a tenant's tool list depends on: its connectors, its accounts per connector (a
# second account changes the schemas without changing the connectors), and its toolset
# (``fastn-gen tenants set-toolset``). A stream opened with a key that narrows the
# toolset records the narrowed one, so it may hear one change more than happened.
ListShape = tuple[frozenset[str], AccountShape, Toolset | None]
GONE: ListShape = (frozenset(), (), None)  # a removed tenant


def _connectors(tenant: Tenant) -> ListShape:
    return frozenset(tenant.connected_connectors()), account_shape(tenant), tenant.toolset


def connect_registry(bus: TenantEventBus, registry: TenantRegistry) -> None:
    """Announce connection changes of a store-backed registry on ``bus``."""
    on_change = getattr(registry, "on_change", None)
    if on_change is None:
        return  # a file's tenants change with a reload (reload.py)

    async def changed(kind: str, tenant_id: str) -> None:
        if kind in ("connections", "tenant"):
            await bus.tenant_changed(registry, None if tenant_id == "*" else tenant_id)

    on_change(changed)
