"""Memory and time of loading a large ``tenants.yaml``, as ``fastn-gen serve`` does.

Writes a tenants file like the serving benchmark's (one salted SHA-256 key and one
Stripe connection per tenant), then, in this process: ``TenantRegistry.load`` and the
``admin`` and ``oauth`` blocks. Prints the RSS added once loaded (after a collection)
and at its peak, and the CPU time of this process and of any child it waited for.

Usage: ``python bench/tenants_file.py 10000 100000``.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "runtime"))
from gateway_setup import TOKEN_ENV, write_tenants  # noqa: E402

PROBE = """
import gc, json, resource, sys, time
from pathlib import Path

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0

from fastn_gen.admin.config import load_admin_config
from fastn_gen.gateway.oauth_config import load_resource_config
from fastn_gen.gateway.tenancy import TenantRegistry
path = Path(sys.argv[1])
gc.collect()
base = rss_mb()
wall, cpu = time.perf_counter(), time.process_time()
registry = TenantRegistry.load(path)
load_admin_config(path)
load_resource_config(path)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
gc.collect()
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "tenants": len(registry),
    "wall_s": wall,
    "cpu_s": cpu,
    "child_cpu_s": kids.ru_utime + kids.ru_stime,
    "retained_mb": rss_mb() - base,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base,
}))
"""


def measure(count: int, where: Path) -> dict[str, float]:
    path = where / f"tenants-{count}.yaml"
    write_tenants(path, count)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**env, **TOKEN_ENV},
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="+", type=int, help="tenant counts")
    args = parser.parse_args()
    gc.collect()
    with tempfile.TemporaryDirectory(prefix="fastn-tenants-") as tmp:
        for count in args.counts:
            started = time.perf_counter()
            r = measure(count, Path(tmp))
            print(
                f"{r['tenants']:>8,} tenants: +{r['retained_mb']:.0f} MB retained, "
                f"+{r['peak_mb']:.0f} MB peak, load {r['wall_s']:.1f} s wall, "
                f"{r['cpu_s']:.1f} s CPU (+{r['child_cpu_s']:.1f} s in a child) "
                f"[{time.perf_counter() - started:.0f} s in all]"
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
