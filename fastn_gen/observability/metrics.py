"""Prometheus metrics, fed by the event recorder.

Every tool call, quota refusal, authentication failure and credential refresh passes
through :class:`fastn_gen.gateway.recording.EventRecorder`, which hands each event to
its observers as it is recorded; :meth:`GatewayMetrics.observe` is one. Counting from
events means the metrics and the event history can never disagree.

Labels are bounded: connector and tool names come from the catalog, error kinds and
limits from fixed lists. Tenant ids are deliberately not a label (one series per
tenant and tool would grow without bound); per-tenant usage is in the store, the
native usage tool and the admin console.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from fastn_gen.store.records import Event

# ``*_created`` timestamps double the series count and no dashboard here reads them
# (process-wide: the gateway's registry is the process's only one).
disable_created_metrics()  # type: ignore[no-untyped-call]

NATIVE = "native"  # the connector label of native tools
ACTIVE_WINDOW_S = 300.0
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# ``ToolOutcome.error`` kinds that are the upstream's doing (or its reachability), as
# opposed to bad arguments, missing credentials or a gateway bug.
UPSTREAM_ERROR_KINDS = frozenset(
    {
        "timeout",
        "connect",
        "transport",
        "response_too_large",
        "redirect",
        "http_status",
        "upstream_error",
        "oauth_refresh",
        "egress_refused",
        "circuit_open",
    }
)
# Kinds of calls that never sent a request: their latency says nothing about upstreams.
NOT_SENT_KINDS = frozenset(
    {"invalid_arguments", "credentials", "internal", "egress_refused", "circuit_open"}
)


class _TenantGauges(Collector):
    """``fastn_tenants_active`` (a tool call in the last window) and configured."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        window = self.metrics.active_window_s
        yield GaugeMetricFamily(
            "fastn_tenants_active",
            f"Tenants that made at least one tool call in the last {window:g} seconds.",
            value=self.metrics.active_tenants(),
        )
        configured = self.metrics.tenants_configured
        if configured is not None:
            yield GaugeMetricFamily(
                "fastn_tenants_configured", "Tenants the gateway serves.", value=configured()
            )


class GatewayMetrics:
    """The gateway's metrics, in a registry of their own (one per app)."""

    def __init__(
        self,
        tenants_configured: Callable[[], int] | None = None,
        *,
        active_window_s: float = ACTIVE_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        process_metrics: bool = True,
    ) -> None:
        self.tenants_configured = tenants_configured
        self.active_window_s = active_window_s
        self._clock = clock
        self._last_call: dict[str, float] = {}
        self._lock = threading.Lock()
        r = self.registry = CollectorRegistry()
        self.tool_calls = Counter(
            "fastn_tool_calls",
            "Tool calls by connector, tool and status (success or failure).",
            ["connector", "tool", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "fastn_tool_call_duration_seconds",
            "Time from the gateway's upstream request to its complete answer, per connector.",
            ["connector"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "fastn_upstream_errors",
            "Failed upstream calls by connector and kind (timeout, connect, http_status...).",
            ["connector", "kind"],
            registry=r,
        )
        self.quota_refusals = Counter(
            "fastn_quota_refusals",
            "Calls refused by a usage limit before going upstream, by limit and scope.",
            ["limit", "scope"],
            registry=r,
        )
        self.events = Counter(
            "fastn_events", "Recorded events by type and status.", ["type", "status"], registry=r
        )
        r.register(_TenantGauges(self))
        if process_metrics:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)

    # -- fed by the recorder --------------------------------------------------------------

    def observe(self, event: Event) -> None:
        """Count one recorded event. Cheap and never raises into the call path."""
        try:
            self._observe(event)
        except Exception:  # pragma: no cover - a metrics bug must not fail a call
            pass

    def _observe(self, event: Event) -> None:
        self.events.labels(event.type, event.status).inc()
        connector = event.connector or NATIVE
        if event.type == "tool_call":
            with self._lock:
                self._last_call[event.tenant_id] = self._clock()
            self.tool_calls.labels(connector, event.tool or "", event.status).inc()
            kind = event.detail.get("error_kind")
            sent = event.connector is not None and kind not in NOT_SENT_KINDS
            if event.latency_ms is not None and sent:
                self.latency.labels(connector).observe(event.latency_ms / 1000.0)
            if event.status == "failure" and kind in UPSTREAM_ERROR_KINDS:
                self.upstream_errors.labels(connector, str(kind)).inc()
        elif event.type == "quota_refusal":
            limit = str(event.detail.get("limit", "unknown"))
            scope = str(event.detail.get("scope", "unknown"))
            self.quota_refusals.labels(limit, scope).inc()

    # -- read at scrape time --------------------------------------------------------------

    def active_tenants(self) -> int:
        horizon = self._clock() - self.active_window_s
        with self._lock:
            stale = [tenant for tenant, at in self._last_call.items() if at < horizon]
            for tenant in stale:
                del self._last_call[tenant]
            return len(self._last_call)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def series(text: str, name: str) -> Iterable[tuple[dict[str, str], float]]:
    """The samples named ``name`` in exposition text (for tests and ``doctor``)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                yield dict(sample.labels), float(sample.value)
