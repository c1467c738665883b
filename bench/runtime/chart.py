"""The serving chart: throughput and p50 latency of tools/call by concurrency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"direct": "#7f7f7f", "sdk": "#1f77b4", "fastmcp": "#d62728", "gateway": "#2ca02c"}


def draw(results: dict[str, Any], out: Path) -> None:
    fig, (ax_tp, ax_lat) = plt.subplots(1, 2, figsize=(11, 4.2))
    for era, dash in (("modern", "-"), ("legacy", "--")):
        for key, contender in results["contenders"].items():
            phases = [
                p
                for p in contender.get("eras", {}).get(era, {}).get("calls", [])
                if not p.get("skipped")
            ]
            if not phases:
                continue
            xs = [p["concurrency"] for p in phases]
            label = f"{contender['label']} ({results['eras'][era]})"
            kw = {"color": STYLE.get(key, "black"), "linestyle": dash, "marker": "o"}
            ax_tp.plot(xs, [p["throughput"] for p in phases], label=label, **kw)
            ax_lat.plot(xs, [p["p50_ms"] for p in phases], label=label, **kw)
    for ax, title, unit in (
        (ax_tp, "tools/call throughput", "calls/s"),
        (ax_lat, "tools/call latency (p50)", "ms"),
    ):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks([1, 16, 64], labels=["1", "16", "64"])
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    ax_lat.legend(fontsize=7, loc="upper left")
    machine = results["machine"]
    fig.suptitle(
        f"Serving Stripe GET /v1/customers/{{customer}} on loopback; "
        f"{machine['cpu']}, {machine['cores']} cores",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
