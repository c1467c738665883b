"""Live reload: a changed tenants file or rebuilt ``generated/``, without a restart.

``serve --watch`` polls the stat signatures (mtime, size, inode) of the tenants file and
of ``generated/`` (the manifest and every module) about once a second; SIGHUP reloads on
demand, with or without ``--watch``. A change is read only once its signature held still
for a whole poll, so a file still being written is not read.

A reload loads and validates everything in a worker thread first: the catalog when
``generated/`` changed, then the tenants file against it. Only when all of it is valid
is it swapped in, in one step on the event loop (:meth:`Serving.swap`, no await between
the assignments, so a request sees the old configuration or the new one, never a mix).
A refused change is logged in full and the previous configuration keeps serving; the
next change is tried again. After a swap, each subscribed tenant whose tool list
changed is told (:meth:`TenantEventBus.config_reloaded`).

With tenants from the store, the store's change notices already cover the tenants, and
a reload swaps only the catalog.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from fastn_gen.collector import release_frozen
from fastn_gen.gateway.catalog import MODULE_PREFIX, Catalog, CatalogError
from fastn_gen.gateway.connection_changes import record_connection_changes
from fastn_gen.gateway.file_watch import Signatures, watched_signatures
from fastn_gen.gateway.serving import Serving
from fastn_gen.gateway.store_registry import StoreTenantRegistry
from fastn_gen.gateway.tenancy import TenantConfigError, TenantRegistry
from fastn_gen.gateway.tenant_source import chosen_source
from fastn_gen.native.registry import NATIVE_NAMES

logger = logging.getLogger(__name__)


class ReloadRefused(Exception):
    """A change that cannot be applied while the gateway runs."""


def changed_connectors(old: Catalog, new: Catalog) -> set[str]:
    """Connectors added, removed, or whose tools (names or definitions) differ."""

    def tools(catalog: Catalog, name: str) -> tuple[object, ...] | None:
        entry = catalog.connectors.get(name)
        if entry is None:
            return None
        return tuple(catalog.tools[tool].tool for tool in entry.tool_names)

    names = old.connectors.keys() | new.connectors.keys()
    return {name for name in names if tools(old, name) != tools(new, name)}


@dataclass(frozen=True, slots=True)
class ReloadOptions:
    config_path: Path
    generated_dir: Path
    # Seconds between polls; None: reload on SIGHUP only.
    watch_interval: float | None = None
    tenants_from: str | None = None
    sighup: bool = True
    # The files' signatures taken before the served configuration was loaded, so a
    # change made while it loaded is still seen (None: taken when the reloader starts).
    baseline: Signatures | None = None


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    outcome: str  # "applied" or "refused"
    trigger: str
    generation: int
    tenants: int
    tools: int
    at: float = field(default_factory=time.time)
    notified: int = 0
    error: str | None = None

    def health(self) -> dict[str, Any]:
        """For /healthz: no error text (it names tenants); the log has it."""
        return {
            "outcome": self.outcome,
            "trigger": self.trigger,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at)),
        }


class Reloader:
    """Reloads on a change (``--watch``) or on SIGHUP, one reload at a time."""

    def __init__(self, serving: Serving, options: ReloadOptions) -> None:
        self.serving = serving
        self.options = options
        # A store's tenants are not the file's: only the catalog is reloaded then.
        self.file_tenants = not isinstance(serving.registry, StoreTenantRegistry)
        self.generation = 0
        self.last: ReloadOutcome | None = None
        self.counts: Counter[str] = Counter()
        self._lock = asyncio.Lock()
        tenants, generated = options.baseline or self._signatures()
        if not self.file_tenants:
            tenants = ()
        self._applied_generated = generated
        self._seen = (tenants, generated)
        # The module names of the catalog served and of the one before it.
        self._modules = [_module_names(serving.catalog)]
        self._loads = 0
        self._tasks: list[asyncio.Task[Any]] = []

    def _signatures(self) -> Signatures:
        tenants, generated = watched_signatures(
            self.options.config_path, self.options.generated_dir
        )
        return (tenants if self.file_tenants else ()), generated

    # -- running ----------------------------------------------------------------------

    @contextmanager
    def running(self) -> Iterator[None]:
        """Watch and hear SIGHUP while the block runs (the app's lifespan)."""
        loop = asyncio.get_running_loop()
        hup = False
        if self.options.sighup:
            try:
                loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
                hup = True
            except (ValueError, RuntimeError, NotImplementedError, AttributeError):
                logger.warning("SIGHUP cannot be handled here; reload with --watch")
        if self.options.watch_interval is not None:
            self._tasks.append(loop.create_task(self.watch(self.options.watch_interval)))
            logger.info(
                "watching %s and %s for changes",
                self.options.config_path if self.file_tenants else "(tenants from the store)",
                self.options.generated_dir,
            )
        try:
            yield
        finally:
            if hup:
                loop.remove_signal_handler(signal.SIGHUP)
            for task in self._tasks:
                task.cancel()
            self._tasks.clear()

    def _on_sighup(self) -> None:
        task = asyncio.get_running_loop().create_task(self._reload_logged("SIGHUP"))
        self._tasks.append(task)
        task.add_done_callback(self._forget)

    async def _reload_logged(self, trigger: str) -> None:
        try:
            await self.reload(trigger)
        except Exception:
            logger.exception("configuration reload (%s) failed", trigger)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        if task in self._tasks:
            self._tasks.remove(task)

    async def watch(self, interval: float) -> None:
        pending: Signatures | None = None
        while True:
            await asyncio.sleep(interval)
            try:
                now = await anyio.to_thread.run_sync(self._signatures)
            except OSError:
                logger.exception("reading the watched files' stats failed")
                continue
            if now == self._seen:
                pending = None
            elif now != pending:
                pending = now  # changed: read it once it held still for a poll
            else:
                pending = None
                try:
                    await self.reload("watch")
                except Exception:  # the watch must go on after any one failure
                    logger.exception("configuration reload (watch) failed")

    # -- one reload -------------------------------------------------------------------

    async def reload(self, trigger: str) -> ReloadOutcome:
        async with self._lock:
            tenants_sig, generated_sig = await anyio.to_thread.run_sync(self._signatures)
            self._seen = (tenants_sig, generated_sig)
            generated_changed = generated_sig != self._applied_generated
            suffix = ""
            if generated_changed:
                self._loads += 1
                suffix = f"__reload{self._loads}"
            try:
                catalog, registry = await anyio.to_thread.run_sync(
                    self._load, generated_changed, suffix
                )
            except (CatalogError, TenantConfigError, ReloadRefused, OSError) as exc:
                return self._refused(trigger, str(exc), suffix)
            except Exception as exc:
                logger.exception("configuration reload (%s) failed", trigger)
                return self._refused(trigger, f"internal error: {exc!r}", suffix)
            if generated_changed:
                self._applied_generated = generated_sig
            return await self._apply(trigger, catalog, registry)

    def _load(self, generated_changed: bool, suffix: str) -> tuple[Catalog, TenantRegistry]:
        """In a worker thread: everything new, validated; nothing served changes."""
        catalog = self.serving.catalog
        if generated_changed:
            catalog = Catalog.load(
                self.options.generated_dir,
                module_suffix=suffix,
                output_schemas=self.serving.handlers.output_schemas,
            )
        native = self.serving.handlers.native
        clash = sorted(name for name in catalog.tools if native is not None and name in native)
        if clash:
            raise CatalogError(
                f"connector tools {', '.join(clash)} have the names of native tools; "
                "rename them in their connector specs"
            )
        if not self.file_tenants:
            return catalog, self.serving.registry
        registry = TenantRegistry.load(
            self.options.config_path,
            catalog=catalog.connector_specs(),
            tools={*catalog.tools, *NATIVE_NAMES},
        )
        if chosen_source(registry, self.options.tenants_from) != "file":
            raise ReloadRefused(
                f"{self.options.config_path}: tenants_from changed to the store; "
                "that takes a restart"
            )
        anonymous = self.serving.anonymous_tenant
        if anonymous is not None and registry.get(anonymous) is None:
            raise ReloadRefused(
                f"{self.options.config_path}: the anonymous tenant {anonymous!r} "
                "(--anonymous-tenant) is no longer configured"
            )
        return catalog, registry

    def _refused(self, trigger: str, error: str, suffix: str) -> ReloadOutcome:
        if suffix:
            # What the failed load imported before it stopped.
            _forget_modules(n for n in sys.modules if n.endswith(suffix))
        serving = self.serving
        outcome = ReloadOutcome(
            "refused",
            trigger,
            self.generation,
            len(serving.registry),
            serving.catalog.tool_count,
            error=error,
        )
        self._record(outcome)
        logger.error(
            "configuration reload (%s) refused; generation %d keeps serving: %s",
            trigger,
            self.generation,
            error,
        )
        return outcome

    async def _apply(
        self, trigger: str, catalog: Catalog, registry: TenantRegistry
    ) -> ReloadOutcome:
        old_catalog, old_registry = self.serving.catalog, self.serving.registry
        before = {t.id for t in old_registry.tenants}
        changed = changed_connectors(old_catalog, catalog) if catalog is not old_catalog else set()
        self.serving.swap(catalog, registry)
        self.generation += 1
        if catalog is not old_catalog:
            self._modules.append(_module_names(catalog))
            if len(self._modules) > 2:
                # The catalog before the previous one: no request can still be using it.
                _forget_modules(self._modules.pop(0))
        try:
            told = await self.serving.handlers.events.config_reloaded(registry, changed)
        except Exception:  # applied all the same; subscribers re-list when they reconnect
            logger.exception("telling subscribers about the reload failed")
            told = []
        after = {t.id for t in registry.tenants}
        outcome = ReloadOutcome(
            "applied",
            trigger,
            self.generation,
            len(registry),
            catalog.tool_count,
            notified=len(told),
        )
        self._record(outcome)
        logger.info(
            "configuration reload (%s) applied as generation %d: %d tenants (+%d -%d), "
            "%d tools, connectors changed: %s; told %d subscribed tenant(s)",
            trigger,
            self.generation,
            len(registry),
            len(after - before),
            len(before - after),
            catalog.tool_count,
            ", ".join(sorted(changed)) or "none",
            len(told),
        )
        await self._record_connection_changes(registry)
        return outcome

    def _record(self, outcome: ReloadOutcome) -> None:
        self.last = outcome
        self.counts[outcome.outcome] += 1

    async def _record_connection_changes(self, registry: TenantRegistry) -> None:
        services = self.serving.services
        if services is None or not self.file_tenants:
            return
        try:
            await record_connection_changes(services.store, services.recorder, registry.tenants)
        except Exception:
            logger.exception("recording the reload's connection changes failed")

    def metrics(self) -> Collector:
        return _ReloadCounter(self.counts)

    def health(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "reloads": dict(self.counts),
            "last_reload": self.last.health() if self.last is not None else None,
        }


class _ReloadCounter(Collector):
    """``fastn_config_reloads_total{outcome="applied"|"refused"}``."""

    def __init__(self, counts: Counter[str]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "fastn_config_reloads",
            "Live reloads of the tenants file and generated/, by outcome.",
            labels=["outcome"],
        )
        for outcome in ("applied", "refused"):
            family.add_metric([outcome], self.counts[outcome])
        yield family


def _module_names(catalog: Catalog) -> list[str]:
    return [entry.module.__name__ for entry in catalog.connectors.values()]


def _forget_modules(names: Iterable[str]) -> None:
    """Unregister connector modules, so an old catalog's can be freed."""
    forgotten = False
    for name in list(names):
        if name.startswith(MODULE_PREFIX):
            forgotten = sys.modules.pop(name, None) is not None or forgotten
    if forgotten:
        release_frozen()  # the start-up catalog's modules may have been frozen
