"""Operator-facing telemetry: request ids, structured logs, Prometheus metrics, traces."""
