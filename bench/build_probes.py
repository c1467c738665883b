"""The code bench/build.py runs in fresh interpreters, one measurement per process.

Each probe prints one JSON object on its last stdout line. Peak RSS is the probe's own
(``ru_maxrss``); the build's ruff subprocesses are reported separately.
"""

from __future__ import annotations

import textwrap

_RUSAGE = textwrap.dedent(
    """
    import resource
    def _usage():
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
            "peak_rss_mb": me.ru_maxrss / 1024,
            "children_peak_rss_mb": kids.ru_maxrss / 1024,
        }
    """
)

# `fastn-gen build --quiet CONNECTORS --out OUT`, through the command line entry point.
BUILD_PROBE = _RUSAGE + textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    from fastn_gen.cli import main
    code = 0
    try:
        main(["build", "--quiet", "--connectors", sys.argv[1], "--out", sys.argv[2]])
    except SystemExit as exc:
        code = exc.code or 0
    wall = time.perf_counter() - t0
    assert code == 0, f"build failed with {code}"
    manifest = json.loads(open(sys.argv[2] + "/manifest.json", "rb").read())
    print(json.dumps({"wall_s": wall, "tools": len(manifest["tools"]),
                      "skipped": len(manifest["skipped"]), **_usage()}))
    """
)

# What `fastn-gen serve` does before it can answer tools/list: import the generated
# module, read the manifest, build the catalog's MCP Tool objects, list one connector.
START_PROBE = _RUSAGE + textwrap.dedent(
    """
    import importlib.util, json, sys, time
    from pathlib import Path
    t0 = time.perf_counter()
    import pydantic, mcp_types  # shared by every gateway: timed apart
    import fastn_gen.runtime.operation
    from fastn_gen.gateway.catalog import Catalog
    t1 = time.perf_counter()
    out, name = Path(sys.argv[1]), sys.argv[2]
    spec = importlib.util.spec_from_file_location("bench_gen", out / "connectors" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    t2 = time.perf_counter()
    manifest = json.loads((out / "manifest.json").read_bytes())
    t3 = time.perf_counter()
    # The gateway's own start-up: manifest, module import (again, under the catalog's
    # module name) and the MCP Tool objects.
    catalog = Catalog.load(out)
    t4 = time.perf_counter()
    tools = catalog.tools_for([name])
    t5 = time.perf_counter()
    print(json.dumps({"shared_imports_s": t1 - t0, "import_s": t2 - t1, "manifest_s": t3 - t2,
                      "catalog_s": t4 - t3, "first_list_s": t5 - t4, "ready_s": t5 - t3,
                      "operations": len(mod.OPERATIONS), "tools": len(tools), **_usage()}))
    """
)

FASTMCP_PROBE = _RUSAGE + textwrap.dedent(
    """
    import asyncio, json, sys, time
    t0 = time.perf_counter()
    import httpx2
    from fastmcp import Client, FastMCP
    t1 = time.perf_counter()
    spec = json.loads(open(sys.argv[1], "rb").read())
    t2 = time.perf_counter()
    server = FastMCP.from_openapi(spec, client=httpx2.AsyncClient(base_url="http://127.0.0.1:9"))
    t3 = time.perf_counter()
    async def first_list():
        async with Client(server) as client:
            return await client.list_tools()
    tools = asyncio.run(first_list())
    t4 = time.perf_counter()
    size = len(json.dumps([t.model_dump(mode="json", exclude_none=True) for t in tools]))
    print(json.dumps({"import_s": t1 - t0, "parse_s": t2 - t1, "construct_s": t3 - t2,
                      "first_list_s": t4 - t3, "ready_s": t4 - t1, "tools": len(tools),
                      "list_bytes": size, **_usage()}))
    """
)
