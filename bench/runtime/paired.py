"""Paired rounds at 16 clients: the bare SDK server and the gateway, alternated.

One window per contender (the serving step) moves by about ±0.3× between runs on a
shared two-core machine: load from elsewhere lands on one contender's window and not the
other's. Here both servers are started once and measured in alternating windows (the
order flips every round), so each round's ratio compares neighbours in time; the
targets use the median of the rounds' ratios.
"""

from __future__ import annotations

from typing import Any

import gateway_setup as gw
from bench_base import ERAS, BenchBase
from procs import free_port, sdk_server_args
from stats import median, summarise_calls

CLIENTS = 16


class Paired(BenchBase):
    def paired_rounds(self) -> None:
        sdk_port = free_port()
        sdk = self.proc(
            "sdk-paired", sdk_server_args(sdk_port, self.upstream_url, self.tool_json), True
        )
        gateway, gw_port = self.gateway_proc(self.tenants, "gateway-paired")
        sdk.start()
        gateway.start()
        try:
            sdk.wait_port(sdk_port, 60)
            gateway.wait_port(gw_port, 120)
            targets = {
                "sdk": (f"http://127.0.0.1:{sdk_port}/mcp", sdk.pid, None),
                "gateway": (
                    f"http://127.0.0.1:{gw_port}/mcp",
                    gateway.pid,
                    self.keys.stripe_only,
                ),
            }
            out: dict[str, Any] = {"clients": CLIENTS, "seconds": self.args.paired_seconds}
            for era in self.args.eras:
                out[era] = self._rounds(era, targets)
            self.results["paired"] = out
        finally:
            gateway.stop()
            sdk.stop()

    def _rounds(self, era: str, targets: dict[str, tuple[str, int, str | None]]) -> dict[str, Any]:
        rounds: list[dict[str, Any]] = []
        for i in range(self.args.paired_rounds):
            order = ("sdk", "gateway") if i % 2 == 0 else ("gateway", "sdk")
            found: dict[str, Any] = {}
            for key in order:
                url, pid, tenant_key = targets[key]
                job = self.job(url, pid, gw.CALL_TOOL, tenant_key, era, first=False)
                job.update(concurrency=[CLIENTS], seconds=self.args.paired_seconds)
                found[key] = summarise_calls(self.loadgen(job)["calls"][0])
            g, s = found["gateway"], found["sdk"]
            found["throughput_ratio"] = g["throughput"] / s["throughput"]
            found["p50_ratio"] = g["p50_ms"] / s["p50_ms"]
            found["cpu_ratio"] = g["server_cpu_ms_per_call"] / s["server_cpu_ms_per_call"]
            rounds.append(found)
            self.log(
                f"paired round {i + 1} ({ERAS[era]}): throughput {found['throughput_ratio']:.2f}×, "
                f"p50 {found['p50_ratio']:.2f}×, CPU/call {found['cpu_ratio']:.2f}×"
            )
        return {
            "rounds": rounds,
            "median_throughput_ratio": median([r["throughput_ratio"] for r in rounds]),
            "median_p50_ratio": median([r["p50_ratio"] for r in rounds]),
            "median_cpu_ratio": median([r["cpu_ratio"] for r in rounds]),
        }
