"""Measure candidate gateway changes before making them: each variant of
``gateway_variant.py`` against the same upstream, interleaved, medians of the rounds.

    python bench/runtime/experiments.py [--variants none,auth-inline,...] [--rounds 2]
        [--sdk] [--baseline-tree DIR] [--mode legacy]

``--sdk`` adds the bare SDK server (the floor) to every round; ``--baseline-tree`` adds
the variant ``base``: the gateway as found in DIR (e.g. ``git archive`` of an earlier
commit), to measure changes already made in the working tree against it.

Prints a table and writes ``bench/results/experiments-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gateway_setup as gw  # noqa: E402
from procs import Proc, free_port, sdk_server_args  # noqa: E402
from stats import median, percentile  # noqa: E402

RESULTS = HERE.parents[0] / "results"
FASTN_GEN = str(Path(sys.executable).parent / "fastn-gen")
VARIANTS = "none,auth-inline,list-bytes,gc-freeze,auth-inline+list-bytes+gc-freeze"


def loadgen(job: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(HERE / "loadgen.py")],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return dict(json.loads(out.stdout))


def server_proc(
    work: Path, generated: Path, tenants: Path, variant: str, port: int, extra: dict[str, str]
) -> Proc:
    if variant == "sdk":
        args = sdk_server_args(port, extra["upstream"], extra["tool"])
        return Proc("sdk", args, work / "sdk.log", env=gw.gateway_env(), cwd=work)
    env = gw.gateway_env()
    if variant == "base":
        env["PYTHONPATH"] = extra["baseline_tree"]
    args = [
        sys.executable,
        str(HERE / "gateway_variant.py"),
        "none" if variant == "base" else variant.replace("+", ","),
        "--",
        "http",
        "--config",
        str(tenants),
        "--generated",
        str(generated),
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    return Proc(f"variant-{variant}", args, work / f"variant-{variant}.log", env=env, cwd=work)


def measure(
    work: Path,
    generated: Path,
    tenants: Path,
    keys: gw.Keys,
    variant: str,
    seconds: float,
    extra: dict[str, str],
    list_rounds: int = 5,
    mode: str = "2026-07-28",
) -> dict[str, Any]:
    port = free_port()
    proc = server_proc(work, generated, tenants, variant, port, extra).start()
    try:
        proc.wait_port(port, 120)
        url = f"http://127.0.0.1:{port}/mcp"
        base = {
            "kind": "mcp",
            "url": url,
            "pid": proc.pid,
            "tool": gw.CALL_TOOL,
            "mode": mode,
            "arguments": {"customer": "cus_NffrFeUfNV2Hib"},
            "seconds": seconds,
            "warmup": 2,
            "list_budget_s": 20.0,
            "max_phase_s": 60.0,
        }
        listed = loadgen(
            {
                **base,
                "headers": {"Authorization": f"Bearer {keys.all_connectors}"},
                "concurrency": [],
                "list_rounds": 0 if variant == "sdk" else list_rounds,
            }
        ).get("list")
        calls = loadgen(
            {
                **base,
                "headers": {"Authorization": f"Bearer {keys.stripe_only}"},
                "concurrency": [1, 16],
                "list_rounds": 0,
            }
        )
    finally:
        proc.stop()
    row: dict[str, Any] = {"list_raw_p50_ms": 0.0, "list_cpu_ms": 0.0, "tools": 1}
    if listed:
        row["list_raw_p50_ms"] = percentile(
            listed["raw_latencies_ms"][1:] or listed["raw_latencies_ms"], 50
        )
        row["list_cpu_ms"] = listed["server_cpu_ms_per_list"]
        row["tools"] = listed["tools"]
    for phase in calls["calls"]:
        n = phase["concurrency"]
        row[f"c{n}_calls_per_s"] = phase["throughput"]
        row[f"c{n}_p50_ms"] = percentile(phase["latencies_ms"], 50)
        row[f"c{n}_cpu_ms_per_call"] = phase["server_cpu_ms_per_call"]
        row[f"c{n}_client_cpu_ms_per_call"] = phase["client_cpu_ms_per_call"]
        row[f"c{n}_errors"] = phase["errors"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variants", default=VARIANTS)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sdk", action="store_true", help="measure the bare SDK floor too")
    parser.add_argument("--list-rounds", type=int, default=5, help="tools/list rounds (0: none)")
    parser.add_argument(
        "--mode",
        default="2026-07-28",
        help="client mode: 2026-07-28, or legacy (the 2025-11-25 handshake)",
    )
    parser.add_argument("--baseline-tree", type=Path, help="source tree of variant 'base'")
    parser.add_argument(
        "--generated",
        type=Path,
        help="reuse a built directory (its Stripe base URL must be --upstream-port)",
    )
    args = parser.parse_args()
    variants = args.variants.split(",")
    if args.baseline_tree is not None:
        variants.insert(0, "base")
    if args.sdk:
        variants.insert(0, "sdk")
    with tempfile.TemporaryDirectory(prefix="fastn-exp-") as tmp:
        work = Path(tmp)
        port = free_port()
        upstream = Proc(
            "upstream",
            [sys.executable, str(HERE / "upstream.py"), "serve", "--port", str(port)],
            work / "upstream.log",
        ).start()
        try:
            upstream.wait_port(port, 30)
            generated = work / "generated"
            gw.build(FASTN_GEN, gw.write_connectors(work, f"http://127.0.0.1:{port}"), generated)
            tenants = work / "tenants.yaml"
            keys = gw.write_tenants(tenants)
            tool_json = work / "tool.json"
            tool_json.write_text(json.dumps(gw.tool_entry(generated)))
            extra = {
                "upstream": f"http://127.0.0.1:{port}",
                "tool": str(tool_json),
                "baseline_tree": str(args.baseline_tree or ""),
            }
            rows: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
            for r in range(args.rounds):
                for v in variants:
                    print(f"round {r + 1}: {v}", file=sys.stderr, flush=True)
                    rows[v].append(
                        measure(
                            work,
                            generated,
                            tenants,
                            keys,
                            v,
                            args.seconds,
                            extra,
                            args.list_rounds,
                            args.mode,
                        )
                    )
        finally:
            upstream.stop()
    table = {v: {k: median([row[k] for row in rs]) for k in rs[0]} for v, rs in rows.items()}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"experiments-{stamp}.json").write_text(
        json.dumps({"rounds": rows, "medians": table}, indent=1)
    )
    cols = [
        "list_raw_p50_ms",
        "list_cpu_ms",
        "c1_calls_per_s",
        "c1_p50_ms",
        "c1_cpu_ms_per_call",
        "c16_calls_per_s",
        "c16_p50_ms",
        "c16_cpu_ms_per_call",
        "c16_client_cpu_ms_per_call",
    ]
    print("| variant | " + " | ".join(cols) + " |")
    print("| --- |" + " ---: |" * len(cols))
    for v, row in table.items():
        print(f"| {v} | " + " | ".join(f"{row[c]:.2f}" for c in cols) + " |")


if __name__ == "__main__":
    main()
