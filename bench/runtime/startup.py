"""Start-up: cold start to the first tools/list, RSS with many tenants, and the profile
of a gateway tools/call."""

from __future__ import annotations

import json
import time
from typing import Any

import coldstart
import gateway_setup as gw
import profile_call
from bench_base import CLIENT_MODE, HERE, BenchBase
from procs import free_port
from stats import median


class Startup(BenchBase):
    def cold_start(self) -> None:
        mode = CLIENT_MODE[self.args.eras[0]]
        runs: list[dict[str, Any]] = []
        for i in range(self.args.cold_runs + 1):  # the first run compiles the bytecode
            proc, port = self.gateway_proc(self.tenants, f"gateway-cold-{i}")
            url = f"http://127.0.0.1:{port}/mcp"
            runs.append(coldstart.first_list(proc, url, mode, self.keys.all_connectors, 300))
        self.log(f"gateway cold start: {[round(r['to_first_list_s'], 2) for r in runs]}")
        self.results.setdefault("cold_start", {})["gateway"] = self._cold_entry(
            "(d) fastn-gen gateway", "GitHub + Stripe + Slack (generated)", runs[1:], runs[0]
        )

    @staticmethod
    def _cold_entry(
        label: str, specs: str, runs: list[dict[str, Any]], first: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        done = [r for r in runs if "to_first_list_s" in r]
        if not done:
            return {"label": label, "specs": specs, "note": f"timed out: {runs}"}
        entry = {
            "label": label,
            "specs": specs,
            "runs": len(done),
            "tools": done[0]["tools"],
            "median_to_listening_s": median([r["to_listening_s"] for r in done]),
            "median_to_first_list_s": median([r["to_first_list_s"] for r in done]),
            "rss_mb": median([r["rss_mb"] for r in done if r.get("rss_mb")]),
            "runs_detail": runs,
        }
        if first is not None:
            entry["first_after_build"] = first
        return entry

    def cold_start_fastmcp(self) -> None:
        import peer_setup

        if "fastmcp_version" not in self.results:
            return
        mode = CLIENT_MODE[self.args.eras[0]]
        python, _ = peer_setup.peer_python()
        dead = "http://127.0.0.1:9"
        specs = [
            f"github={gw.GITHUB_SPEC}={dead}",
            f"stripe={peer_setup.stripe_json()}={self.upstream_url}",
            f"slack={gw.SLACK_SPEC}={dead}",
        ]
        runs = []
        for i in range(self.args.peer_cold_runs):
            status = self.work / f"fastmcp-cold-{i}.json"
            port = free_port()
            args = [
                python,
                str(HERE / "fastmcp_server.py"),
                "--port",
                str(port),
                "--status",
                str(status),
            ]
            args += [a for s in specs for a in ("--spec", s)]
            proc = self.proc(f"fastmcp-cold-{i}", args, True)
            self.log("FastMCP cold start with GitHub + Stripe + Slack ...")
            runs.append(
                coldstart.first_list(
                    proc, f"http://127.0.0.1:{port}/mcp", mode, None, self.args.peer_cold_timeout
                )
            )
        entry = self._cold_entry("(c) FastMCP", "GitHub + Stripe (+ Slack, refused)", runs)
        if status.exists():
            entry["status"] = json.loads(status.read_text())
        self.results.setdefault("cold_start", {})["fastmcp"] = entry

    def tenant_scale(self) -> None:
        mode = CLIENT_MODE[self.args.eras[0]]
        out = []
        for n in [0, *self.args.tenants]:
            path = self.work / f"tenants-{n}.yaml"
            keys = gw.write_tenants(path, n)
            proc, port = self.gateway_proc(path, f"gateway-tenants-{n}")
            self.log(f"gateway with {n + 2:,} tenants ...")
            found = coldstart.first_list(
                proc, f"http://127.0.0.1:{port}/mcp", mode, keys.stripe_only, 1800
            )
            out.append({"tenants": n + 2, "file_mb": path.stat().st_size / 1e6, **found})
            path.unlink()
        self.results["tenants"] = out

    def profile(self) -> None:
        proc, port = self.gateway_proc(self.tenants, "gateway-profile")
        proc.start()
        proc.wait_port(port, 120)
        raw_path = self.work / "profile.txt"
        try:
            job = self.job(
                f"http://127.0.0.1:{port}/mcp",
                proc.pid,
                gw.CALL_TOOL,
                self.keys.stripe_only,
                self.args.eras[0],
                first=False,
            )
            job.update(concurrency=[1], seconds=self.args.profile_seconds)
            self.loadgen({**job, "seconds": 1.0})  # warm: models built, pools open
            spy = profile_call.start_recording(proc.pid, self.args.profile_seconds, raw_path)
            time.sleep(1.0)  # py-spy attaches
            raw = self.loadgen(job)
            spy.wait(timeout=60)
        finally:
            proc.stop()
        prof = profile_call.classify(raw_path)
        phase = raw["calls"][0]
        prof.update(calls=phase["calls"], server_cpu_ms_per_call=phase["server_cpu_ms_per_call"])
        self.results["profile"] = prof
