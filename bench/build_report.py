"""The "Build and start-up" section of docs/benchmarks.md, from bench/build.py's figures.

Only that section is rewritten: it runs from its heading to the next ``## `` heading,
so other sections of the file are left as they are.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADING = "## Build and start-up"
TITLE = "# Benchmarks\n\nMeasured figures, each section with the command that reproduces it.\n"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def _commit() -> str:
    proc = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=DOCS.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or "unknown"


def machine(
    load_before: tuple[float, float, float], load_after: tuple[float, float, float], peer: str
) -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(_memory_gb(), 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "fastn_gen": metadata.version("fastn-gen"),
        "commit": _commit(),
        "pydantic": metadata.version("pydantic"),
        "ruff": metadata.version("ruff"),
        "fastmcp": peer,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "executable": sys.executable,
        "nice": os.nice(0),
    }


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def _range(f: dict[str, float], key: str) -> str:
    return f"runs {f[key + '_min']:.2f}–{f[key + '_max']:.2f} s"


def _ratio(peer: float, ours: float) -> str:
    return f"{peer / ours:.0f}×" if ours > 0 else "n/a"


def render_section(f: dict[str, float], m: dict[str, Any], runs: int) -> str:
    """Markdown for the section: the tables, the machine and how to reproduce."""
    peer_start = f["fastmcp_parse_s"] + f["fastmcp_construct_s"]
    rows = [
        "| measure (GitHub, 1,223 operations) | fastn-gen | FastMCP | FastMCP ÷ fastn-gen |",
        "| --- | --- | --- | --- |",
        f"| tools | {f['tools']:.0f} (+{f['skipped']:.0f} skipped, with reason) "
        f"| {f['fastmcp_tools']:.0f} | |",
        f"| one-off build, wall (target < 5 s) | {_s(f['build_s'])} "
        f"({_range(f, 'build_s')}) | none: converts at every start | |",
        f"| one-off build, CPU (incl. ruff) | {_s(f['build_cpu_s'])} | | |",
        f"| build peak RSS (ruff subprocesses) | {f['build_rss_mb']:.0f} MB "
        f"({f['build_child_rss_mb']:.0f} MB) | | |",
        f"| import of the generated module (target < 0.3 s) | {_ms(f['import_s'])} | | |",
        f"| same, without the bytecode the build writes | {_ms(f['import_cold_s'])} | | |",
        f"| server start: load the tools (fastn-gen: `Catalog.load`, of which "
        f"manifest.json {_ms(f['manifest_s'])}; FastMCP: parse + construct) "
        f"| {_ms(f['catalog_s'])} | {_s(peer_start)} | {_ratio(peer_start, f['catalog_s'])} |",
        f"| first tool list after that | {_ms(f['first_list_s'])} (cached list) "
        f"| {_s(f['fastmcp_first_list_s'])} (in-memory client) | |",
        f"| start-up to first tool list | {_ms(f['start_total_s'])} "
        f"(no bytecode: {_ms(f['start_cold_total_s'])}) | {_s(f['fastmcp_ready_s'])} "
        f"| {_ratio(f['fastmcp_ready_s'], f['start_total_s'])} |",
        f"| peak RSS of that process | {f['start_rss_mb']:.0f} MB | {f['fastmcp_rss_mb']:.0f} MB | |",
        f"| library imports (not in the rows above) | {_s(f['shared_imports_s'])} "
        f"| {_s(f['fastmcp_import_s'])} | |",
    ]
    trio = [
        "| GitHub + Stripe + Slack in one gateway | fastn-gen |",
        "| --- | --- |",
        f"| tools | {f['trio_tools']:.0f} (+{f['trio_skipped']:.0f} skipped, with reason) |",
        f"| build, wall (target < 10 s) | {_s(f['trio_build_s'])} ({_range(f, 'trio_build_s')}) |",
        f"| build, CPU (incl. ruff) | {_s(f['trio_build_cpu_s'])} |",
        f"| build peak RSS | {f['trio_rss_mb']:.0f} MB |",
    ]
    load = f"{m['load_before'][0]:.1f} before, {m['load_after'][0]:.1f} after"
    if m.get("nice"):
        load += f"; the benchmark ran at nice {m['nice']}"
    lines = [
        HEADING,
        "",
        "`fastn-gen build` does the expensive work once; a gateway then starts from the",
        "generated module and `manifest.json` and never parses a spec. FastMCP's OpenAPI",
        "provider parses and converts the document every time a server starts. Both load",
        "GitHub's full REST description (`../shared/specs/github/api.github.com.json`,",
        "13 MB, OpenAPI 3.0.3) in the same run; every figure is the median of "
        f"{runs} run(s), each in a fresh process.",
        "",
        *rows,
        "",
        *trio,
        "",
        "What is measured:",
        "",
        "- *build*: `fastn-gen build --quiet` into an empty directory, in a fresh",
        "  interpreter (start-up included): load and convert the document, render the",
        "  module, format it with ruff, write it, the manifest and the bytecode.",
        "- *import*: executing `generated/connectors/github.py` with the bytecode the build",
        "  writes; *without bytecode* compiles the 2.5 MB source first (what a gateway pays",
        "  once when `__pycache__` is missing and Python may not write it).",
        "- *server start*: the gateway's `Catalog.load` (read the manifest, import the",
        "  module, build the MCP `Tool` objects), then its tool list for a tenant with",
        "  GitHub connected, in process. FastMCP's first list goes through its in-memory",
        "  client, so it includes one in-memory MCP round trip.",
        "- *library imports* (pydantic, `mcp_types` and the gateway's modules; FastMCP and",
        "  its dependencies) happen before the timed rows, and are shown on their own row.",
        "- The skipped GitHub operation is `repos/upload-release-asset`, served from",
        "  `uploads.github.com` (a connector has one base URL); it is listed with that",
        "  reason by `build` and in the manifest.",
        "",
        "What keeps the build fast: connectors are built side by side in forked worker",
        "processes, one per core (`FASTN_GEN_BUILD_WORKERS` sets how many; 1 builds in",
        "process), each loading, rendering, formatting and compiling its own connector, with",
        "the results gathered in file order; the cyclic garbage collector is paused during a",
        "build (it rescanned the loaded document again and again: 40% of the CPU time); YAML",
        "documents are composed by libyaml and turned into values without PyYAML's generic",
        "constructor; the manifest is written by the C JSON encoder below its outer levels (the",
        "indenting encoder took longer than the rest of the build), and ruff is run as its",
        "binary, not through `python -m ruff`. The build writes `__pycache__` bytecode for the",
        "generated modules, so a gateway imports them without compiling.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['os']}. "
        f"Python {m['python']}, fastn-gen {m['fastn_gen']} (commit {m['commit']}), "
        f"pydantic {m['pydantic']}, ruff {m['ruff']}; FastMCP {m['fastmcp']} in its own "
        f"virtual environment. Load average {load} (a shared machine: wall times include "
        "waiting for the CPU; CPU times do not).",
        "",
        "Reproduce: `make bench` (or `python bench/build.py --runs 5 --update-docs`);",
        "`python bench/build.py --quick` is the one-run variant for CI.",
        "",
    ]
    return "\n".join(lines)


def replace_section(path: Path, section: str) -> None:
    """Put ``section`` in place of the existing one (or append it), keeping the rest."""
    text = path.read_text(encoding="utf-8") if path.is_file() else TITLE
    start = text.find(HEADING)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(HEADING))
        rest = text[end + 1 :] if end >= 0 else ""
        text = text[:start] + section + ("\n" + rest if rest else "")
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
