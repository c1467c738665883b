"""The "## Serving" section of docs/benchmarks.md, rebuilt from a results JSON.

Only the text between the serving markers is replaced, so other sections of the file
(the build benchmark's) are left as they are.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

START, END = "<!-- serving:start -->", "<!-- serving:end -->"
NOTES = Path(__file__).resolve().parent / "profile_notes.md"
ORDER = ("direct", "sdk", "fastmcp", "gateway")
BASES = (("direct", "(a)"), ("sdk", "(b)"), ("fastmcp", "(c)"))


def _n(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if 0 < abs(value) < 1:
        return f"{value:.2g}"
    return f"{value:.{digits}f}"


def _mb(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} MB"


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _phase(results: dict[str, Any], key: str, era: str, n: int) -> dict[str, Any] | None:
    calls = results["contenders"].get(key, {}).get("eras", {}).get(era, {}).get("calls", [])
    return next((p for p in calls if p["concurrency"] == n), None)


def _throughput(phase: dict[str, Any] | None) -> tuple[float | None, bool]:
    """(calls/s, is_upper_bound)."""
    if phase is None:
        return None, False
    if phase.get("skipped"):
        return phase.get("throughput_bound"), True
    return phase["throughput"], False


def _ratio(mine: dict[str, Any] | None, base: dict[str, Any] | None) -> str:
    tp, mine_bound = _throughput(mine)
    tb, base_bound = _throughput(base)
    if tp is None or tb is None or tb == 0 or (mine_bound and base_bound):
        return "–"
    prefix = "≥ " if base_bound else "≤ " if mine_bound else ""
    return f"{prefix}{_ratio_text(tp / tb)}×"


def _ratio_text(r: float) -> str:
    return f"{r:,.0f}" if r >= 10 else f"{r:.2f}" if r >= 0.01 else f"{r:.2g}"


def calls_table(results: dict[str, Any], era: str) -> list[str]:
    rows = [
        "| contender | clients | calls/s | p50 ms | p99 ms | server CPU ms/call "
        "| calls/s per server core | vs (a) | vs (b) | vs (c) | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key in ORDER:
        contender = results["contenders"].get(key)
        if not contender or era not in contender.get("eras", {}):
            continue
        for phase in contender["eras"][era]["calls"]:
            n = phase["concurrency"]
            ratios = [
                _ratio(phase, _phase(results, base, era, n)) if base != key else "1×"
                for base, _ in BASES
            ]
            if phase.get("skipped"):
                cells = [
                    f"≤ {_n(phase['throughput_bound'])} (bound)",
                    f"≥ {_n(phase['estimated_round_s'] * 1000)}",
                    "–",
                    "–",
                    _n(phase["throughput_bound"]),
                ]
                errors = "not run"
            else:
                cells = [
                    _n(phase["throughput"]),
                    _n(phase["p50_ms"]),
                    _n(phase["p99_ms"]),
                    _n(phase["server_cpu_ms_per_call"], 2),
                    _n(1000 / phase["server_cpu_ms_per_call"])
                    if phase["server_cpu_ms_per_call"] > 0.5
                    else "–",
                ]
                errors = str(phase["errors"])
            rows.append(
                f"| {contender['label']} | {n} | " + " | ".join(cells + ratios) + f" | {errors} |"
            )
    return rows


def list_table(results: dict[str, Any]) -> list[str]:
    rows = [
        "| contender | tools | answer size | client p50 / p99 ms | server answer p50 / p99 ms "
        "| server CPU ms/list, client's lists (first included) / replays |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key in ORDER:
        contender = results["contenders"].get(key) or {}
        for label, summary in contender.get("lists", {}).items():
            rows.append(
                f"| {contender['label']}{label} | {summary['tools']:,} | {_size(summary['bytes'])} "
                f"| {_n(summary['client_p50_ms'])} / {_n(summary['client_p99_ms'])} "
                f"| {_n(summary['raw_p50_ms'])} / {_n(summary['raw_p99_ms'])} "
                f"| {_n(summary['server_cpu_ms_per_list'])} / "
                f"{_n(summary.get('server_cpu_ms_per_replay') or math.nan)} |"
            )
    return rows


def memory_table(results: dict[str, Any]) -> list[str]:
    rows = ["| contender | start-up | RSS after start | peak RSS |", "| --- | ---: | ---: | ---: |"]
    for key in ORDER:
        c = results["contenders"].get(key)
        if not c or "memory" not in c:
            continue
        rows.append(
            f"| {c['label']} | {_n(c.get('start_s'), 2)} s | {_mb(c['memory'].get('rss_mb'))} "
            f"| {_mb(c['memory'].get('peak_rss_mb'))} |"
        )
    return rows


def cold_table(results: dict[str, Any]) -> list[str]:
    cold = results.get("cold_start", {})
    rows = [
        "| server | specs | tools listed | runs | port open (median) | first tools/list (median) | RSS then |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, entry in cold.items():
        if "median_to_first_list_s" not in entry:
            rows.append(
                f"| {entry.get('label', key)} | {entry.get('specs', '')} | | | | {entry.get('note', 'not run')} | |"
            )
            continue
        rows.append(
            f"| {entry['label']} | {entry['specs']} | {entry['tools']:,} | {entry['runs']} "
            f"| {_n(entry['median_to_listening_s'], 2)} s | {_n(entry['median_to_first_list_s'], 2)} s "
            f"| {_mb(entry.get('rss_mb'))} |"
        )
    return rows


def tenants_table(results: dict[str, Any]) -> list[str]:
    scale = results.get("tenants", [])
    rows = [
        "| tenants in tenants.yaml | start to first tools/list | RSS after first list | added RSS |",
        "| ---: | ---: | ---: | ---: |",
    ]
    base = next((s for s in scale if s["tenants"] == 2), None)
    for s in scale:
        if "to_first_list_s" not in s:
            rows.append(f"| {s['tenants']:,} | {s.get('note', 'failed')} | | |")
            continue
        added = s["rss_mb"] - base["rss_mb"] if base and s is not base else None
        rows.append(
            f"| {s['tenants']:,} | {_n(s['to_first_list_s'], 2)} s | {_mb(s['rss_mb'])} "
            f"| {_mb(added) if added is not None else '–'} |"
        )
    return rows


def store_tenants_table(results: dict[str, Any]) -> list[str]:
    store = results.get("store_tenants")
    if not store:
        return ["(not measured in this run)"]
    sample = store["sample"]
    rows = [
        "| tenants in PostgreSQL | import | start | RSS after start | added "
        f"| RSS after tools/list by up to {sample:,} distinct tenants | added | tools/list per s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    base = next((s for s in store["counts"] if s["tenants"] == 2), None)
    for s in store["counts"]:
        if "rss_after_lists_mb" not in s:
            rows.append(f"| {s['tenants']:,} | {s.get('note', 'failed')} | | | | | | |")
            continue
        start, lists = s["rss_after_start_mb"], s["rss_after_lists_mb"]
        if base is not None and s is not base:
            added = (
                _mb(start - base["rss_after_start_mb"]),
                _mb(lists - base["rss_after_lists_mb"]),
            )
        else:
            added = ("–", "–")
        rows.append(
            f"| {s['tenants']:,} | {s['import_s']:.1f} s | {_n(s['start_s'], 2)} s "
            f"| {_mb(start)} | {added[0]} | {_mb(lists)} ({s['listed']:,} listed) | {added[1]} "
            f"| {_n(s['lists_per_s'])} |"
        )
    return rows


def profile_table(results: dict[str, Any]) -> list[str]:
    prof = results.get("profile")
    if not prof or "owners" not in prof:
        return ["(not profiled in this run)"]
    # Shares from the profiled run, times from the unprofiled sequential calls.
    seq = _phase(results, "gateway", next(iter(results["eras"])), 1)
    cpu = seq["server_cpu_ms_per_call"] if seq else prof.get("server_cpu_ms_per_call")
    rows = [
        f"py-spy, {prof['busy_samples']:,} busy samples over {prof['calls']:,} sequential calls; "
        f"shares of the gateway's {_n(cpu, 2)} ms of CPU per sequential call (measured "
        "without the profiler, above):",
        "",
        "| owner of the CPU time | share | ms per call |",
        "| --- | ---: | ---: |",
    ]
    for owner, share in prof["owners"].items():
        if share < 0.005:
            continue
        rows.append(f"| {owner} | {share * 100:.0f}% | {_n(share * cpu, 2) if cpu else '–'} |")
    return rows


def render(results: dict[str, Any], chart_name: str | None) -> str:
    m = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    lines = [
        START,
        "## Serving",
        "",
        f"Generated by `python bench/runtime/run.py{' --quick' if results['quick'] else ''}` "
        f"on {results['finished']}: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, "
        f"Linux {m['kernel']}, Python {m['python']}; {versions}; FastMCP "
        f"{results.get('fastmcp_version', 'not run')}; fastn-gen {m['fastn_gen']}. Load average "
        f"{' / '.join(map(str, results['load_before']))} before and "
        f"{' / '.join(map(str, results['load_after']))} after the run (other work on the machine "
        "shows up in wall-clock numbers; CPU per call is the server process's own).",
        "",
        "Every contender answers the same operation, Stripe's `GET /v1/customers/{customer}`, "
        "against the same loopback upstream (a raw asyncio HTTP/1.1 server answering a 1.2 kB "
        f"customer; it sustained {_n(results['upstream']['requests_per_s'])} requests/s from a "
        f"raw client and uses {_n(results['upstream']['cpu_us_per_request'])} µs of CPU per "
        "request, so it is never the limit). (a) direct httpx calls; (b) a bare `mcp` "
        "low-level server with that one tool (advertised with the gateway's own tool entry); "
        "(c) FastMCP with its OpenAPI provider serving Stripe's full spec3; (d) the fastn-gen "
        "gateway built from the same spec3 (plus GitHub and Slack), one tenant with Stripe "
        "connected. All MCP servers run stateless streamable HTTP with JSON responses under "
        "uvicorn; all MCP clients are the official `mcp` client, one connection each. Calls run "
        f"for {results['seconds']:g} s per concurrency level; every call started in the window "
        "is waited for. The clients do not re-validate results against output schemas (client "
        "CPU only; the same for every contender).",
        "",
    ]
    if results.get("skipped_steps"):
        lines += [
            f"Not run (over the run's time budget): {', '.join(results['skipped_steps'])}.",
            "",
        ]
    for step, error in results.get("failures", {}).items():
        lines += [f"**{step} failed**: `{error.splitlines()[0][:300]}`", ""]
    for era in results["eras"]:
        lines += [f"### tools/call, protocol {results['eras'][era]}", ""]
        lines += calls_table(results, era) + [""]
    lines += [
        "Ratios are calls/s against the contender named at the same concurrency. On this "
        "machine the wall-clock rates are bounded by its two cores, shared by the load "
        "generator, the server, the upstream and any other work; *calls/s per server core* "
        "(1 / the server's CPU per call) compares the servers themselves. A FastMCP "
        "row marked *bound* was not run: one round of that many calls would take longer than "
        "the run allows, and a server that does one call at a time cannot exceed "
        "1 / (its CPU per call), which is the bound given.",
        "",
    ]
    lines += paired_table(results)
    if chart_name:
        lines += [f"![tools/call throughput and latency by concurrency]({chart_name})", ""]
    lines += (
        ["### tools/list", ""]
        + list_table(results)
        + [
            "",
            "*Client* is the official client's `list_tools()` (its parsing included); *server "
            "answer* is the same request replayed without a client (time to the last byte).",
            "",
            "### Memory",
            "",
        ]
    )
    lines += memory_table(results) + ["", "### Cold start to the first tools/list", ""]
    first = results.get("cold_start", {}).get("gateway", {}).get("first_after_build")
    lines += cold_table(results) + [
        "",
        "From spawning the server process to the official client's first complete `tools/list` "
        "(the client's own import is done beforehand); the listing's own time includes the "
        "client parsing the whole answer."
        + (
            f" The gateway's first start after `fastn-gen build` took "
            f"{first['to_first_list_s']:.2f} s (not in the median)."
            if first and "to_first_list_s" in first
            else ""
        ),
        "",
        "### Tenants in PostgreSQL",
        "",
    ]
    lines += store_tenants_table(results) + [
        "",
        "`fastn-gen serve` with `tenants_from: store` on PostgreSQL "
        f"({results.get('store_tenants', {}).get('postgres', 'not run')}), serving the "
        "repository's `generated/`. Each count is imported into a schema of its own through "
        "the store's import (`bench/tenants.py`: half the tenants on Slack, half on Slack + "
        "Shopify, one generated key each, hashed with tiny scrypt parameters); the first row "
        "is the baseline, one tenant of each connector set. *Start* is from spawning the "
        "gateway to its `startup complete` log line; RSS is read 2 s later, then after "
        "`tools/list` by a sample of distinct tenants (16 at a time), each resolved from the "
        "store and kept in the gateway's bounded tenant caches (10,000 entries by default). "
        "Nothing is loaded per tenant at start, and tenants with the same connector set "
        "share one tool list, so memory follows the cached entries (up to the bound) and the "
        "connector sets, not the tenants in the store. The target below is judged on this "
        "table.",
        "",
        "### Tenants in tenants.yaml (informational)",
        "",
    ]
    lines += tenants_table(results) + [
        "",
        "Each tenant has a salted SHA-256 API key and a Stripe connection; the first request "
        "authenticates a key, which checks it against every such entry. The file is parsed "
        "and kept in memory, and the first start with a tenant records its connections "
        "(`connection_change` events and a snapshot, written in chunks of 500 tenants per "
        "transaction). A deployment with this many tenants keeps them in the store "
        "(above).",
        "",
        "### Targets (issue 9)",
        "",
    ]
    lines += targets_table(results) + ["", "### Where the time goes in a tools/call", ""]
    lines += profile_table(results) + [""]
    if NOTES.exists():
        lines += [NOTES.read_text().strip(), ""]
    lines.append(END)
    return "\n".join(lines) + "\n"


def paired_table(results: dict[str, Any]) -> list[str]:
    paired = results.get("paired")
    if not paired:
        return []
    lines = [
        f"### Gateway against the bare SDK at {paired['clients']} clients, paired rounds",
        "",
        "| protocol | round | SDK calls/s | gateway calls/s | throughput | SDK p50 ms "
        "| gateway p50 ms | p50 | CPU per call |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for era, label in results["eras"].items():
        found = paired.get(era)
        if not found:
            continue
        for i, r in enumerate(found["rounds"], 1):
            s, g = r["sdk"], r["gateway"]
            lines.append(
                f"| {label} | {i} | {s['throughput']:.0f} | {g['throughput']:.0f} "
                f"| {r['throughput_ratio']:.2f}× | {s['p50_ms']:.1f} | {g['p50_ms']:.1f} "
                f"| {r['p50_ratio']:.2f}× | {r['cpu_ratio']:.2f}× |"
            )
        lines.append(
            f"| {label} | **median** | | | **{found['median_throughput_ratio']:.2f}×** | | "
            f"| **{found['median_p50_ratio']:.2f}×** | **{found['median_cpu_ratio']:.2f}×** |"
        )
    return lines + [
        "",
        "Both servers run at once, idle while the other is measured; each round measures "
        f"one {paired['seconds']:g} s window of each, the order flipping every round, so a "
        "round's ratios (gateway ÷ SDK) compare neighbours in time. The SDK-relative targets "
        "below use the medians of these ratios.",
        "",
    ]


def targets_table(results: dict[str, Any]) -> list[str]:
    from targets import evaluate

    rows = ["| target | measured | met |", "| --- | --- | --- |"]
    for target, measured, met in evaluate(results):
        rows.append(f"| {target} | {measured} | {met} |")
    return rows


def write_section(doc: Path, section: str) -> None:
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.write_text(text)
