"""What every step of the serving benchmark shares: processes, the load generator,
the upstream, the build and the tenants file."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gateway_setup as gw
import machine
from procs import Pinning, Proc, free_port
from procstat import cpu_seconds

HERE = Path(__file__).resolve().parent
FASTN_GEN = str(Path(sys.executable).parent / "fastn-gen")
CUSTOMER = "cus_NffrFeUfNV2Hib"
ERAS = {"modern": "2026-07-28", "legacy": "2025-11-25 (initialize handshake)"}
CLIENT_MODE = {"modern": "2026-07-28", "legacy": "legacy"}
LABELS = {
    "direct": "(a) direct httpx",
    "sdk": "(b) bare mcp SDK",
    "fastmcp": "(c) FastMCP",
    "gateway": "(d) fastn-gen gateway",
}


class BenchBase:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.pin = Pinning.split(args.pin)
        self.results: dict[str, Any] = {
            "quick": args.quick,
            "seconds": args.seconds,
            "eras": {e: ERAS[e] for e in args.eras},
            "machine": machine.describe(),
            "load_before": machine.load_average(),
            "pinning": {
                "server": sorted(self.pin.server or []),
                "others": sorted(self.pin.others or []),
            },
            "contenders": {},
        }
        self.procs: list[Proc] = []

    # -- plumbing -------------------------------------------------------------------

    def proc(self, name: str, args: list[str], server: bool, **kw: Any) -> Proc:
        cpus = self.pin.server if server else self.pin.others
        p = Proc(name, args, self.work / f"{name}.log", cpus=cpus, **kw)
        self.procs.append(p)
        return p

    def loadgen(self, job: dict[str, Any]) -> dict[str, Any]:
        cpus = self.pin.others
        proc = subprocess.run(
            [sys.executable, str(HERE / "loadgen.py")],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=self.args.job_timeout,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"load generator failed:\n{proc.stderr[-4000:]}")
        return dict(json.loads(proc.stdout))

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    # -- set-up ---------------------------------------------------------------------

    def start_upstream(self) -> None:
        port = free_port()
        self.upstream_url = f"http://127.0.0.1:{port}"
        self.upstream = self.proc(
            "upstream",
            [sys.executable, str(HERE / "upstream.py"), "serve", "--port", str(port)],
            False,
        ).start()
        self.upstream.wait_port(port, 30)
        cpu0 = cpu_seconds(self.upstream.pid)
        out = subprocess.run(
            [
                sys.executable,
                str(HERE / "upstream.py"),
                "ceiling",
                "--port",
                str(port),
                "--seconds",
                "2" if self.args.quick else "4",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        ceiling = json.loads(out.stdout)
        seconds = 2.0 if self.args.quick else 4.0
        requests = ceiling["requests_per_s"] * seconds
        ceiling["cpu_us_per_request"] = (cpu_seconds(self.upstream.pid) - cpu0) * 1e6 / requests
        self.results["upstream"] = ceiling
        self.log(
            f"upstream on {self.upstream_url}: {ceiling['requests_per_s']:.0f} req/s from a raw client"
        )

    def build(self) -> None:
        connectors = gw.write_connectors(self.work, self.upstream_url)
        self.generated = self.work / "generated"
        self.log("fastn-gen build of GitHub + Stripe + Slack ...")
        self.results["build"] = gw.build(FASTN_GEN, connectors, self.generated)
        self.tool_json = self.work / "tool.json"
        self.tool_json.write_text(json.dumps(gw.tool_entry(self.generated)))
        self.tenants = self.work / "tenants.yaml"
        self.keys = gw.write_tenants(self.tenants)
        self.log(
            f"built {self.results['build']['tools']} in {self.results['build']['wall_s']:.1f} s"
        )

    def gateway_proc(self, tenants: Path, name: str = "gateway") -> tuple[Proc, int]:
        port = free_port()
        args = [
            FASTN_GEN,
            "serve",
            "--config",
            str(tenants),
            "--generated",
            str(self.generated),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        return self.proc(name, args, True, env=gw.gateway_env(), cwd=self.work), port

    # -- serving --------------------------------------------------------------------

    def job(
        self, url: str, pid: int, tool: str, key: str | None, era: str, first: bool
    ) -> dict[str, Any]:
        a = self.args
        return {
            "kind": "mcp",
            "url": url,
            "pid": pid,
            "tool": tool,
            "headers": {"Authorization": f"Bearer {key}"} if key else {},
            "mode": CLIENT_MODE[era],
            "arguments": {"customer": CUSTOMER},
            "concurrency": a.concurrency,
            "seconds": a.seconds,
            "warmup": 2,
            "list_rounds": a.list_rounds if first else 0,
            "list_budget_s": a.list_budget,
            "max_phase_s": a.max_phase,
        }
