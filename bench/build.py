"""Build-time and start-up benchmark: turning large OpenAPI documents into a gateway.

Measured side by side in one run, each repetition in a fresh process:

- fastn-gen: ``fastn-gen build`` of GitHub's full spec (wall time, CPU time, peak RSS),
  then what a gateway pays at start-up: importing the generated module (with the
  bytecode the build writes, and without it), loading the manifest, building the
  catalog of MCP tools and its first tool list; and a build of GitHub + Stripe + Slack
  into one gateway;
- FastMCP 4.x (the peer, its OpenAPI provider, in ``bench/.venv-peer``): parsing the
  same document, constructing the server, and its first ``tools/list``.

Usage: ``python bench/build.py [--quick] [--runs N] [--json OUT] [--update-docs]``.
``--quick`` is one run of everything (CI); ``--update-docs`` rewrites the "Build and
start-up" section of docs/benchmarks.md with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_probes import BUILD_PROBE, FASTMCP_PROBE, START_PROBE  # noqa: E402
from build_report import DOCS, machine, render_section, replace_section  # noqa: E402
from peer import ensure_peer_env, fastmcp_version  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO.parent / "shared" / "specs"
GITHUB = SPECS / "github" / "api.github.com.json"
# The three together: OpenAPI 3.0 JSON, 3.0 YAML and Swagger 2.0.
TRIO = {
    "github": (GITHUB, "https://api.github.com"),
    "stripe": (SPECS / "stripe" / "spec3.yaml", None),
    "slack": (SPECS / "slack" / "slack_web_openapi_v2.json", None),
}
TARGETS = {"build_s": 5.0, "import_s": 0.3, "trio_build_s": 10.0}


def run_probe(
    python: str, code: str, *args: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run a probe in a fresh interpreter; its last stdout line is a JSON object."""
    started = time.perf_counter()
    proc = subprocess.run(
        [python, "-c", code, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env=env,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"probe failed:\n{proc.stderr[-3000:]}")
    result = dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    result["process_wall_s"] = wall  # interpreter start-up included
    return result


def connectors_dir(where: Path, specs: dict[str, tuple[Path, str | None]]) -> Path:
    """A connectors.d whose wrappers point at the vendor documents (linked in)."""
    connectors = where / "connectors.d"
    (connectors / "docs").mkdir(parents=True)
    for name, (spec, base_url) in specs.items():
        (connectors / "docs" / spec.name).symlink_to(spec)
        lines = [f"name: {name}", f"openapi: docs/{spec.name}", "default_auth: bearer"]
        if base_url:
            lines.append(f"base_url: {base_url}")
        (connectors / f"{name}.yaml").write_text("\n".join(lines) + "\n")
    return connectors


def median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def measure(runs: int, peer_python: str, work: Path) -> dict[str, Any]:
    python = sys.executable
    github = connectors_dir(work / "github", {"github": TRIO["github"]})
    trio = connectors_dir(work / "trio", TRIO)
    builds, trio_builds = [], []
    for i in range(runs):  # a cold build each time: the output directory starts empty
        builds.append(run_probe(python, BUILD_PROBE, str(github), str(work / f"gh{i}")))
        trio_builds.append(run_probe(python, BUILD_PROBE, str(trio), str(work / f"trio{i}")))
    out = work / "gh0"
    no_bytecode = work / "gh-no-bytecode"
    shutil.copytree(out, no_bytecode, ignore=shutil.ignore_patterns("__pycache__"))
    plain = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    starts = [run_probe(python, START_PROBE, str(out), "github") for _ in range(runs)]
    cold = [
        run_probe(python, START_PROBE, str(no_bytecode), "github", env=plain) for _ in range(runs)
    ]
    peers = [run_probe(peer_python, FASTMCP_PROBE, str(GITHUB)) for _ in range(runs)]
    return {
        "runs": runs,
        "build": builds,
        "trio_build": trio_builds,
        "start": starts,
        "start_without_bytecode": cold,
        "fastmcp": peers,
    }


def summary(results: dict[str, Any]) -> dict[str, float]:
    b, t, s, c, p = (
        results[k] for k in ("build", "trio_build", "start", "start_without_bytecode", "fastmcp")
    )
    return {
        "build_s_min": min(r["process_wall_s"] for r in b),
        "build_s_max": max(r["process_wall_s"] for r in b),
        "trio_build_s_min": min(r["process_wall_s"] for r in t),
        "trio_build_s_max": max(r["process_wall_s"] for r in t),
        "build_s": median(b, "process_wall_s"),
        "build_cpu_s": median(b, "cpu_s"),
        "build_rss_mb": median(b, "peak_rss_mb"),
        "build_child_rss_mb": median(b, "children_peak_rss_mb"),
        "tools": b[0]["tools"],
        "skipped": b[0]["skipped"],
        "trio_build_s": median(t, "process_wall_s"),
        "trio_build_cpu_s": median(t, "cpu_s"),
        "trio_rss_mb": median(t, "peak_rss_mb"),
        "trio_tools": t[0]["tools"],
        "trio_skipped": t[0]["skipped"],
        "import_s": median(s, "import_s"),
        "import_cold_s": median(c, "import_s"),
        "manifest_s": median(s, "manifest_s"),
        "catalog_s": median(s, "catalog_s"),
        "first_list_s": median(s, "first_list_s"),
        "start_total_s": median(s, "ready_s"),
        "start_cold_total_s": median(c, "ready_s"),
        "start_rss_mb": median(s, "peak_rss_mb"),
        "shared_imports_s": median(s, "shared_imports_s"),
        "fastmcp_import_s": median(p, "import_s"),
        "fastmcp_parse_s": median(p, "parse_s"),
        "fastmcp_construct_s": median(p, "construct_s"),
        "fastmcp_first_list_s": median(p, "first_list_s"),
        "fastmcp_ready_s": median(p, "ready_s"),
        "fastmcp_rss_mb": median(p, "peak_rss_mb"),
        "fastmcp_tools": p[0]["tools"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions (median reported)")
    parser.add_argument("--quick", action="store_true", help="one run of everything (CI)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite the section in {DOCS}")
    parser.add_argument(
        "--enforce", action="store_true", help="exit 1 when a target is missed (wall time)"
    )
    args = parser.parse_args()
    runs = 1 if args.quick else max(3, args.runs)
    peer_python = str(ensure_peer_env())
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="fastn-bench-") as tmp:
        results = measure(runs, peer_python, Path(tmp))
    results["machine"] = machine(load_before, os.getloadavg(), fastmcp_version())
    figures = summary(results)
    results["summary"] = figures
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    section = render_section(figures, results["machine"], runs)
    print(section)
    if args.update_docs:
        replace_section(DOCS, section)
        print(f"updated {DOCS}")
    missed = [
        f"{k} {figures[k]:.2f} >= {limit}" for k, limit in TARGETS.items() if figures[k] >= limit
    ]
    if missed:
        print(f"targets missed: {'; '.join(missed)}", file=sys.stderr)
        if args.enforce:
            sys.exit(1)


if __name__ == "__main__":
    main()
