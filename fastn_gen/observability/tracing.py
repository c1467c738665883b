"""OpenTelemetry traces.

The mcp SDK (2.x) already creates a server span around every MCP request it handles
(``mcp.server._otel.OpenTelemetryMiddleware``: ``tools/call <tool>`` with the method,
protocol version, JSON-RPC id and the tool's error status) and continues a trace
whose context a client put in ``params._meta`` (``traceparent``). It does so through
``opentelemetry-api`` alone, which records nothing until an SDK tracer provider is
installed. This module installs one when asked, and the gateway adds the trace
context (``traceparent``) to its upstream requests (:mod:`.request_id`), so an
upstream that traces too joins the same trace.

Exporters: ``console`` (spans as JSON on stderr, for a look) and ``otlp`` (OTLP over
HTTP, configured by the standard ``OTEL_EXPORTER_OTLP_*`` variables). Both need the
``otel`` extra: ``pip install 'fastn-gen[otel]'``.
"""

from __future__ import annotations

import os
import sys
from typing import Literal

OtelExporter = Literal["none", "console", "otlp"]
OTEL_EXPORTERS: tuple[OtelExporter, ...] = ("none", "console", "otlp")
SERVICE_NAME = "fastn-gen"


class TracingUnavailable(Exception):
    """The exporter asked for needs a package that is not installed."""


def configure_tracing(exporter: OtelExporter) -> bool:
    """Install a tracer provider exporting to ``exporter``; False for ``none``."""
    if exporter == "none":
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
            SpanExporter,
        )
    except ImportError:
        raise TracingUnavailable(
            "--otel-exporter needs opentelemetry-sdk: pip install 'fastn-gen[otel]'"
        ) from None
    # OTEL_SERVICE_NAME, when set, names the service; attributes given here would win.
    named = bool(os.environ.get("OTEL_SERVICE_NAME"))
    attributes = {} if named else {"service.name": SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(attributes))
    span_exporter: SpanExporter
    if exporter == "console":
        # stderr: on stdio, stdout is the protocol channel.
        span_exporter = ConsoleSpanExporter(out=sys.stderr)
        provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise TracingUnavailable(
                "--otel-exporter otlp needs opentelemetry-exporter-otlp-proto-http: "
                "pip install 'fastn-gen[otel]'"
            ) from None
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    # The provider flushes buffered spans at exit (shutdown_on_exit).
    trace.set_tracer_provider(provider)
    return True
