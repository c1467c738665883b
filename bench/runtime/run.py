"""Serving benchmark: fastn-gen's gateway side by side with its floors and its peer.

One run, one loopback upstream answering like Stripe, four contenders measured in turn:
(a) direct httpx calls, (b) a bare ``mcp`` SDK server, (c) FastMCP's OpenAPI provider,
(d) the fastn-gen gateway. Then cold start (GitHub + Stripe + Slack connected), RSS
with many tenants (in a tenants file, and in PostgreSQL, which the issue's memory target
is about), and a py-spy profile of the gateway's ``tools/call``.

    python bench/runtime/run.py            # full run (about 20-30 minutes)
    python bench/runtime/run.py --quick    # bounded run for CI (under 3 minutes)
    python bench/runtime/run.py --quick --only store_tenant_scale   # one step alone

Results go to ``bench/results/serving-<time>.json`` (and ``serving-latest.json``). A full
run rewrites the "## Serving" section of docs/benchmarks.md and
docs/benchmarks-serving.png; a quick run prints the section instead (``--write-docs``
writes it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import machine  # noqa: E402
import report  # noqa: E402
from paired import Paired  # noqa: E402
from serving import Serving  # noqa: E402
from startup import Startup  # noqa: E402
from store_tenants import StoreTenants  # noqa: E402

REPO = HERE.parents[1]
RESULTS = REPO / "bench" / "results"
DOC = REPO / "docs" / "benchmarks.md"
CHART = REPO / "docs" / "benchmarks-serving.png"


class Bench(Serving, Paired, Startup, StoreTenants):
    def run(self) -> None:
        self.start_upstream()
        self.build()
        # Cold start first: its first run is the first start after the build (bytecode
        # compiled), reported apart from the others.
        steps = [self.cold_start, self.measure_direct, self.measure_sdk, self.measure_gateway]
        steps.append(self.paired_rounds)
        if self.args.peer:
            steps += [self.measure_fastmcp, self.cold_start_fastmcp]
        steps += [self.tenant_scale, self.store_tenant_scale]
        if self.args.profile:
            steps.append(self.profile)
        if self.args.only:
            steps = [step for step in steps if step.__name__ in self.args.only]
        started = time.monotonic()
        for step in steps:
            if time.monotonic() - started > self.args.deadline_s:
                # A bounded run stops short rather than overrun its budget; it says so.
                self.results.setdefault("skipped_steps", []).append(step.__name__)
                continue
            try:
                step()
            except Exception as exc:  # keep what was measured; say what failed
                self.results.setdefault("failures", {})[step.__name__] = repr(exc)[:2000]
                self.log(f"{step.__name__} failed: {exc!r}"[:2000])

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            p.stop()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="bounded run for CI (< 3 min)")
    parser.add_argument("--eras", help="comma-separated: modern,legacy")
    parser.add_argument("--seconds", type=float, help="window per concurrency level")
    parser.add_argument(
        "--peer",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="include FastMCP (default: full runs only)",
    )
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument(
        "--pin", action="store_true", help="pin servers to one CPU, the rest to others"
    )
    parser.add_argument("--tenants", help="comma-separated tenant counts for the RSS test")
    parser.add_argument(
        "--store-tenants", help="comma-separated tenant counts in PostgreSQL for the RSS test"
    )
    parser.add_argument(
        "--store-sample", type=int, help="distinct store tenants that list tools (RSS test)"
    )
    parser.add_argument(
        "--only", help="comma-separated step names to run (cold_start, tenant_scale, ...)"
    )
    parser.add_argument("--write-docs", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--render", type=Path, help="only rewrite the docs section and chart from a results JSON"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.eras = (args.eras or ("modern" if quick else "modern,legacy")).split(",")
    args.seconds = args.seconds or (2.0 if quick else 10.0)
    args.peer = (not quick) if args.peer is None else args.peer
    args.profile = (not quick) if args.profile is None else args.profile
    # A partial run (--quick, --only) prints its section rather than replace the docs'.
    partial = quick or bool(args.only)
    args.write_docs = (not partial) if args.write_docs is None else args.write_docs
    args.tenants = [
        int(n) for n in (args.tenants or ("2000" if quick else "10000,100000")).split(",")
    ]
    args.store_tenants = [
        int(n) for n in (args.store_tenants or ("1000" if quick else "10000,100000")).split(",")
    ]
    args.store_sample = args.store_sample or (100 if quick else 2000)
    args.only = set(args.only.split(",")) if args.only else None
    args.concurrency = [1, 16, 64]
    args.list_rounds = 3 if quick else 20
    args.list_budget = 3.0 if quick else 30.0
    args.max_phase = 30.0 if quick else 150.0
    args.cold_runs = 1 if quick else 5
    args.paired_rounds = 2 if quick else 6
    args.paired_seconds = 2.0 if quick else 5.0
    args.peer_cold_runs = 1
    args.peer_cold_timeout = 1800.0
    args.profile_seconds = 10
    args.job_timeout = 3600.0
    args.deadline_s = 150.0 if quick else 6 * 3600.0
    return args


def publish(results: dict[str, Any]) -> None:
    import chart  # matplotlib: only needed when the docs are written

    chart.draw(results, CHART)
    report.write_section(DOC, report.render(results, CHART.name))
    print(f"wrote {DOC} and {CHART}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.render:
        publish(json.loads(args.render.read_text()))
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fastn-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            bench.run()
        finally:
            bench.stop_all()
    results = bench.results
    results["load_after"] = machine.load_average()
    results["finished"] = time.strftime("%Y-%m-%d %H:%M")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for path in (RESULTS / f"serving-{stamp}.json", RESULTS / "serving-latest.json", args.json):
        if path is not None:
            path.write_text(json.dumps(results, indent=1, default=str))
    if args.write_docs:
        publish(results)
    else:
        print(report.render(results, None))
    return 1 if results.get("failures") else 0


if __name__ == "__main__":
    sys.exit(main())
