"""Percentiles and the per-phase summaries the report is built from."""

from __future__ import annotations

import math
import statistics
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarise_calls(phase: dict[str, Any]) -> dict[str, Any]:
    if phase.get("skipped"):
        return {k: v for k, v in phase.items() if k != "latencies_ms"}
    lat = phase["latencies_ms"]
    return {
        "concurrency": phase["concurrency"],
        "calls": phase["calls"],
        "errors": phase["errors"],
        "throughput": phase["throughput"],
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "server_cpu_ms_per_call": phase["server_cpu_ms_per_call"],
        "client_cpu_ms_per_call": phase.get("client_cpu_ms_per_call"),
    }


def summarise_list(phase: dict[str, Any]) -> dict[str, Any]:
    return {
        "tools": phase["tools"],
        "bytes": phase["bytes"],
        "rounds": len(phase["client_latencies_ms"]),
        "client_p50_ms": percentile(phase["client_latencies_ms"], 50),
        "client_p99_ms": percentile(phase["client_latencies_ms"], 99),
        "raw_p50_ms": percentile(phase["raw_latencies_ms"], 50),
        "raw_p99_ms": percentile(phase["raw_latencies_ms"], 99),
        "server_cpu_ms_per_list": phase["server_cpu_ms_per_list"],
        "server_cpu_ms_per_replay": phase.get("server_cpu_ms_per_replay"),
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan
