"""Build-time benchmark: turning a large OpenAPI document into a gateway.

Measured side by side in one run, each repetition in a fresh process:

- fastn-gen: ``build`` of GitHub's full spec (wall time, peak RSS), then the cost a
  gateway pays at start-up: importing the generated module and loading the manifest;
- FastMCP (the peer, its OpenAPI provider): constructing the server from the same
  document, and its first ``tools/list``.

Usage: ``python bench/build.py [--quick] [--spec PATH] [--runs N] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer import ensure_peer_env, fastmcp_version  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SPEC = REPO.parent / "shared" / "specs" / "github" / "api.github.com.json"

# Each probe prints one JSON object on its last stdout line; peak RSS is its own.
_PEAK = "import resource; _peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024"

BUILD_PROBE = _PEAK + textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    t0 = time.perf_counter()
    from fastn_gen.codegen.build import build
    report = build(Path(sys.argv[1]), Path(sys.argv[2]))
    wall = time.perf_counter() - t0
    assert not report.issues, report.issues
    print(json.dumps({"wall_s": wall, "peak_rss_mb": _peak(), "tools": report.tool_count,
                      "skipped": len(report.skipped)}))
    """
)

IMPORT_PROBE = _PEAK + textwrap.dedent(
    """
    import importlib.util, json, sys, time
    from pathlib import Path
    import pydantic, fastn_gen.runtime.operation  # shared by every module: not counted
    out = Path(sys.argv[1])
    t0 = time.perf_counter()
    spec = importlib.util.spec_from_file_location("bench_gen", out / "connectors" / "github.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    t1 = time.perf_counter()
    manifest = json.loads((out / "manifest.json").read_bytes())
    t2 = time.perf_counter()
    first = sorted(mod.OPERATIONS)[0]
    model = mod.INPUT_MODELS(first)
    model.model_json_schema()
    t3 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "manifest_s": t2 - t1, "first_model_s": t3 - t2,
                      "operations": len(mod.OPERATIONS), "tools": len(manifest["tools"]),
                      "peak_rss_mb": _peak()}))
    """
)

FASTMCP_PROBE = _PEAK + textwrap.dedent(
    """
    import asyncio, json, sys, time
    t0 = time.perf_counter()
    import httpx2
    from fastmcp import Client, FastMCP
    spec = json.loads(open(sys.argv[1], "rb").read())
    t1 = time.perf_counter()
    server = FastMCP.from_openapi(spec, client=httpx2.AsyncClient(base_url="http://127.0.0.1:9"))
    t2 = time.perf_counter()
    async def first_list():
        async with Client(server) as client:
            tools = await client.list_tools()
        return tools
    tools = asyncio.run(first_list())
    t3 = time.perf_counter()
    size = len(json.dumps([t.model_dump(mode="json", exclude_none=True) for t in tools]))
    print(json.dumps({"import_and_parse_s": t1 - t0, "construct_s": t2 - t1,
                      "first_list_s": t3 - t2, "end_to_end_s": t3 - t0, "tools": len(tools),
                      "list_bytes": size, "peak_rss_mb": _peak()}))
    """
)


def run_probe(python: str, code: str, *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [python, "-c", code, *args], capture_output=True, text=True, check=False, cwd=REPO
    )
    if proc.returncode != 0:
        raise RuntimeError(f"probe failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def write_connectors(spec: Path, where: Path) -> Path:
    """A connectors dir whose one wrapper points at the vendor document by path."""
    connectors = where / "connectors.d"
    connectors.mkdir()
    (connectors / "github.yaml").write_text(
        f"name: github\nopenapi: {spec}\nbase_url: https://api.github.com\ndefault_auth: bearer\n"
    )
    return connectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one run each (CI)")
    parser.add_argument("--json", type=Path, help="also write raw results here")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    peer_python = str(ensure_peer_env())

    with tempfile.TemporaryDirectory() as tmp:
        connectors = write_connectors(args.spec, Path(tmp))
        out = Path(tmp) / "generated"
        builds = []
        for i in range(runs):
            # A cold build each time: the output dir starts empty.
            target = out.with_name(f"generated{i}")
            builds.append(run_probe(sys.executable, BUILD_PROBE, str(connectors), str(target)))
        target = out.with_name("generated0")
        run_probe(sys.executable, IMPORT_PROBE, str(target))  # writes the .pyc cache
        imports = [run_probe(sys.executable, IMPORT_PROBE, str(target)) for _ in range(runs)]
    peers = [run_probe(peer_python, FASTMCP_PROBE, str(args.spec)) for _ in range(runs)]

    results = {
        "spec": str(args.spec),
        "runs": runs,
        "fastmcp_version": fastmcp_version(),
        "fastn_gen": {"build": builds, "import": imports},
        "fastmcp": peers,
    }
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    b_wall = median(builds, "wall_s")
    start = median(imports, "import_s") + median(imports, "manifest_s")
    p_e2e = median(peers, "end_to_end_s")
    print(f"spec: {args.spec.name}; {runs} run(s) each; medians")
    print(f"FastMCP {results['fastmcp_version']} vs fastn-gen (this checkout)")
    print("| measure | fastn-gen | FastMCP | ratio |")
    print("| --- | --- | --- | --- |")
    print(
        f"| tools | {builds[0]['tools']} (+{builds[0]['skipped']} skipped) | {peers[0]['tools']} | |"
    )
    print(f"| one-off build (wall) | {b_wall:.2f} s | n/a (parses at every start) | |")
    print(f"| build peak RSS | {median(builds, 'peak_rss_mb'):.0f} MB | | |")
    print(
        f"| server start: import generated module + manifest | {start * 1000:.0f} ms "
        f"| construct {median(peers, 'construct_s'):.2f} s | {median(peers, 'construct_s') / start:.0f}× |"
    )
    print(f"| import of generated module alone | {median(imports, 'import_s') * 1000:.0f} ms | | |")
    print(
        f"| first tools/list ready (end to end) | {start + median(imports, 'first_model_s'):.2f} s "
        f"| {p_e2e:.2f} s | |"
    )
    print(
        f"| peak RSS at start | {median(imports, 'peak_rss_mb'):.0f} MB | {median(peers, 'peak_rss_mb'):.0f} MB | |"
    )
    print(f"| FastMCP tools/list size | | {median(peers, 'list_bytes') / 1e6:.1f} MB | |")


if __name__ == "__main__":
    main()
