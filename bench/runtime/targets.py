"""The issue's targets, checked against one run's results (medians, same run)."""

from __future__ import annotations

from typing import Any


def _phase(results: dict[str, Any], key: str, era: str, n: int) -> dict[str, Any] | None:
    calls = results["contenders"].get(key, {}).get("eras", {}).get(era, {}).get("calls", [])
    return next((p for p in calls if p["concurrency"] == n), None)


def _tp(phase: dict[str, Any] | None) -> float | None:
    if phase is None:
        return None
    return phase.get("throughput_bound") if phase.get("skipped") else phase["throughput"]


def _ratio(r: float) -> str:
    return f"{r:,.0f}" if r >= 100 else f"{r:.1f}" if r >= 10 else f"{r:.2f}"


def _rate(r: float) -> str:
    return f"{r:.0f}" if r >= 10 else f"{r:.2g}"


def _mark(ok: bool | None) -> str:
    return "–" if ok is None else ("yes" if ok else "**no**")


def evaluate(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    cold = results.get("cold_start", {})
    gw = cold.get("gateway", {}).get("median_to_first_list_s")
    fm = cold.get("fastmcp", {}).get("median_to_first_list_s")
    tools = cold.get("gateway", {}).get("tools")
    out.append(
        (
            "cold start with ~1,800 tools < 1 s",
            f"{gw:.2f} s ({tools:,} tools)" if gw is not None else "not measured",
            _mark(gw < 1.0 if gw is not None else None),
        )
    )
    out.append(
        (
            "cold start ≥ 15× faster than FastMCP",
            f"{_ratio(fm / gw)}× ({fm:.1f} s vs {gw:.2f} s)" if gw and fm else "not measured",
            _mark(fm / gw >= 15 if gw and fm else None),
        )
    )
    for era, label in results["eras"].items():
        g16 = _phase(results, "gateway", era, 16)
        s16 = _phase(results, "sdk", era, 16)
        f16 = _phase(results, "fastmcp", era, 16)
        g, s, f = _tp(g16), _tp(s16), _tp(f16)
        bound = bool(f16 and f16.get("skipped"))
        floor = _tp(_phase(results, "direct", era, 16))
        # 20× a peer that already runs near the SDK's floor can exceed what calling the
        # upstream directly reaches; say so rather than leave a bare "no".
        beyond = (
            f"; 20× would be {20 * f:,.0f} calls/s, above the {floor:,.0f} of direct "
            "calls to the upstream (a), which no server can exceed"
            if f and floor and 20 * f > floor and not bound
            else ""
        )
        out.append(
            (
                f"tools/call at 16 clients ≥ 20× FastMCP ({label})",
                f"{'≥ ' if bound else ''}{_ratio(g / f)}× ({g:.0f} vs {_rate(f)} calls/s)" + beyond
                if g and f
                else "not measured",
                _mark(g / f >= 20 if g and f else None),
            )
        )
        paired = results.get("paired", {}).get(era)
        if paired:
            out.extend(_paired_rows(paired, label, g / s if g and s else None, g16, s16))
            continue
        out.append(
            (
                f"tools/call at 16 clients ≥ 0.75× bare SDK ({label})",
                f"{g / s:.2f}× ({g:.0f} vs {s:.0f} calls/s)" if g and s else "not measured",
                _mark(g / s >= 0.75 if g and s else None),
            )
        )
        if g16 and s16 and not g16.get("skipped") and not s16.get("skipped"):
            capacity = s16["server_cpu_ms_per_call"] / g16["server_cpu_ms_per_call"]
            out.append(
                (
                    f"same, as server capacity (1 / CPU per call) ({label})",
                    f"{capacity:.2f}× ({g16['server_cpu_ms_per_call']:.2f} vs "
                    f"{s16['server_cpu_ms_per_call']:.2f} ms per call)",
                    _mark(capacity >= 0.75),
                )
            )
            ratio = g16["p50_ms"] / s16["p50_ms"]
            out.append(
                (
                    f"tools/call p50 at 16 clients within 1.3× bare SDK ({label})",
                    f"{ratio:.2f}× ({g16['p50_ms']:.1f} vs {s16['p50_ms']:.1f} ms)",
                    _mark(ratio <= 1.3),
                )
            )
    lists = results["contenders"].get("gateway", {}).get("lists", {})
    big = max(lists.values(), key=lambda s: s["tools"], default=None)
    # Server-side: the server process's CPU per cached answer (the replays); the time to
    # the last byte at a client is shown beside it (it adds moving and reading the bytes).
    steady = big.get("server_cpu_ms_per_replay") if big else None
    out.append(
        (
            "tools/list p50 < 10 ms server-side for ~1,800 tools",
            f"{steady:.1f} ms server CPU per cached answer; {big['raw_p50_ms']:.1f} ms to the "
            f"client's last byte; {big['server_cpu_ms_per_list']:.0f} ms CPU per list with the "
            f"first one ({big['tools']:,} tools)"
            if big and steady is not None
            else "not measured",
            _mark(steady < 10 if steady is not None else None),
        )
    )
    out.append(store_tenants_target(results))
    return out


def _paired_rows(
    paired: dict[str, Any],
    label: str,
    single_tp: float | None,
    g16: dict[str, Any] | None,
    s16: dict[str, Any] | None,
) -> list[tuple[str, str, str]]:
    """The SDK-relative targets judged on the paired rounds (medians of per-round
    ratios); the single serving window's ratio is shown beside them."""
    n = len(paired["rounds"])
    tp, p50, cpu = (
        paired["median_throughput_ratio"],
        paired["median_p50_ratio"],
        paired["median_cpu_ratio"],
    )
    single_p50 = (
        g16["p50_ms"] / s16["p50_ms"]
        if g16 and s16 and not g16.get("skipped") and not s16.get("skipped")
        else None
    )

    def spread(key: str) -> str:
        values = sorted(r[key] for r in paired["rounds"])
        return f"{values[0]:.2f}–{values[-1]:.2f}"

    def single(r: float | None) -> str:
        return f"; the single window above: {r:.2f}×" if r is not None else ""

    return [
        (
            f"tools/call at 16 clients ≥ 0.75× bare SDK ({label})",
            f"{tp:.2f}×, median of {n} paired rounds ({spread('throughput_ratio')})"
            + single(single_tp),
            _mark(tp >= 0.75),
        ),
        (
            f"same, as server capacity (1 / CPU per call) ({label})",
            f"{1 / cpu:.2f}× (gateway CPU per call {cpu:.2f}× the SDK's, median of {n} rounds)",
            _mark(1 / cpu >= 0.75),
        ),
        (
            f"tools/call p50 at 16 clients within 1.3× bare SDK ({label})",
            f"{p50:.2f}×, median of {n} paired rounds ({spread('p50_ratio')})" + single(single_p50),
            _mark(p50 <= 1.3),
        ),
    ]


def store_tenants_target(results: dict[str, Any]) -> tuple[str, str, str]:
    """Tenants in the store (the deployment the target is about): RSS after ``tools/list``
    by a sample of distinct tenants, against the one-tenant-per-connector-set baseline.
    The tenants.yaml figures are shown in their own table, not judged here."""
    target = "100,000 tenants in the store add < 100 MB"
    store = results.get("store_tenants", {})
    scale = {s["tenants"]: s for s in store.get("counts", []) if "rss_after_lists_mb" in s}
    if 2 not in scale or len(scale) < 2:
        return target, "not measured", _mark(None)
    top = max(scale)
    added = scale[top]["rss_after_lists_mb"] - scale[2]["rss_after_lists_mb"]
    at_start = scale[top]["rss_after_start_mb"] - scale[2]["rss_after_start_mb"]
    measured = (
        f"{added:,.0f} MB with {top:,} tenants in PostgreSQL, after tools/list by "
        f"{scale[top]['listed']:,} distinct tenants ({at_start:,.0f} MB after start)"
    )
    return target, measured, _mark(added < 100) if top >= 100_000 else "– (100,000 not run)"
