"""Serving: each contender started in turn and driven by the load generator."""

from __future__ import annotations

import json
from typing import Any

import gateway_setup as gw
from bench_base import CUSTOMER, ERAS, HERE, LABELS, BenchBase
from procs import Proc, free_port, sdk_server_args
from stats import summarise_calls, summarise_list


class Serving(BenchBase):
    def record(
        self,
        key: str,
        eras: dict[str, Any],
        start_s: float,
        memory: dict[str, float],
        lists: dict[str, Any],
    ) -> None:
        self.results["contenders"][key] = {
            "label": LABELS[key],
            "start_s": start_s,
            "memory": memory,
            "eras": eras,
            "lists": lists,
        }

    def serve_and_measure(
        self,
        key: str,
        proc: Proc,
        port: int,
        tool: str,
        key_: str | None,
        start_timeout: float,
        extra_lists: dict[str, str] | None = None,
    ) -> None:
        self.log(f"{LABELS[key]}: starting")
        proc.start()
        start_s = proc.wait_port(port, start_timeout)
        url = f"http://127.0.0.1:{port}/mcp"
        eras: dict[str, Any] = {}
        lists: dict[str, Any] = {}
        memory: dict[str, float] = {}
        try:
            for i, era in enumerate(self.args.eras):
                self.log(f"{LABELS[key]}: measuring ({ERAS[era]})")
                raw = self.loadgen(self.job(url, proc.pid, tool, key_, era, first=i == 0))
                if i == 0:
                    memory["rss_mb"] = raw["memory_before"].get("rss_mb", 0.0)
                    if "list" in raw:
                        lists[""] = summarise_list(raw["list"])
                eras[era] = {
                    "protocol_version": raw["protocol_version"],
                    "first_error": raw.get("first_error"),
                    "calls": [summarise_calls(p) for p in raw["calls"]],
                }
                memory["peak_rss_mb"] = raw["memory_after"].get("peak_rss_mb", 0.0)
            for label, tenant_key in (extra_lists or {}).items():
                job = self.job(url, proc.pid, tool, tenant_key, self.args.eras[0], first=True)
                job["concurrency"] = []
                raw = self.loadgen(job)
                lists[label] = summarise_list(raw["list"])
                memory["peak_rss_mb"] = raw["memory_after"].get("peak_rss_mb", 0.0)
        finally:
            proc.stop()
        self.record(key, eras, start_s, memory, lists)

    def measure_direct(self) -> None:
        self.log(f"{LABELS['direct']}: measuring")
        raw = self.loadgen(
            {
                "kind": "direct",
                "url": self.upstream_url,
                "path": f"/v1/customers/{CUSTOMER}",
                "concurrency": self.args.concurrency,
                "seconds": self.args.seconds,
                "warmup": 5,
                "pid": self.upstream.pid,
            }
        )
        calls = [summarise_calls(p) for p in raw["calls"]]
        self.results["contenders"]["direct"] = {
            "label": LABELS["direct"],
            "lists": {},
            "eras": {era: {"calls": calls} for era in self.args.eras},
        }

    def measure_sdk(self) -> None:
        port = free_port()
        args = sdk_server_args(port, self.upstream_url, self.tool_json)
        self.serve_and_measure("sdk", self.proc("sdk", args, True), port, gw.CALL_TOOL, None, 60)

    def measure_gateway(self) -> None:
        proc, port = self.gateway_proc(self.tenants)
        self.serve_and_measure(
            "gateway",
            proc,
            port,
            gw.CALL_TOOL,
            self.keys.stripe_only,
            120,
            extra_lists={", tenant with GitHub + Stripe + Slack": self.keys.all_connectors},
        )
        # The call phases ran as the Stripe-only tenant; say so in its list label.
        lists = self.results["contenders"]["gateway"]["lists"]
        if "" in lists:
            lists[", tenant with Stripe"] = lists.pop("")

    def measure_fastmcp(self) -> None:
        import peer_setup

        try:
            python, version = peer_setup.peer_python()
        except Exception as exc:  # no network for the peer's install: report, go on
            self.results["fastmcp_unavailable"] = str(exc)[:500]
            self.log(f"FastMCP unavailable: {exc}")
            return
        self.results["fastmcp_version"] = version
        port = free_port()
        spec = peer_setup.stripe_json()
        status = self.work / "fastmcp-status.json"
        args = [
            python,
            str(HERE / "fastmcp_server.py"),
            "--port",
            str(port),
            "--spec",
            f"stripe={spec}={self.upstream_url}",
            "--status",
            str(status),
        ]
        self.serve_and_measure(
            "fastmcp", self.proc("fastmcp", args, True), port, "GetCustomersCustomer", None, 1800
        )
        self.results["contenders"]["fastmcp"]["status"] = json.loads(status.read_text())

    # -- cold start, tenants, profile -------------------------------------------------
