"""Tenants in the store: a gateway serving ``--tenants-from store`` on PostgreSQL.

The issue's memory target ("100,000 tenants in the store add less than 100 MB") is
about this deployment. For each count, that many tenants are imported through the
store's own import (bench/tenants.py: half on Slack, half on Slack + Shopify, one
generated key each, hashed with tiny scrypt parameters so 100,000 take seconds) into a
schema of its own; a gateway serving the repository's ``generated/`` on that schema
is started, its RSS read after start, then after ``tools/list`` by a sample of
distinct tenants (each one resolved from the store and kept in the gateway's bounded
caches, at their default size). The baseline is the same gateway on a schema with one
tenant of each connector set, both listed. Schemas are dropped at the end.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import time
from typing import Any

import tenants as store_bench  # bench/tenants.py
from bench_base import BenchBase

SETTLE_S = 2.0  # after "startup complete", before RSS is read (as bench/tenants.py)


class StoreTenants(BenchBase):
    def store_tenant_scale(self) -> None:
        store_bench.ensure_postgres()
        run = f"bench_rt_{os.getpid()}_{secrets.token_hex(2)}"
        out: list[dict[str, Any]] = []
        self.results["store_tenants"] = {
            "sample": self.args.store_sample,
            "postgres": store_bench.POSTGRES_URL.rsplit("@", 1)[-1],
            "counts": out,
        }
        for count in [2, *self.args.store_tenants]:
            schema = f"{run}_{count}"
            try:
                self.log(f"gateway with {count:,} tenants in PostgreSQL ...")
                out.append(asyncio.run(self._measure(schema, count)))
            finally:
                store_bench.drop(schema)

    async def _measure(self, schema: str, count: int) -> dict[str, Any]:
        keys, import_s = await store_bench.fill(schema, count)
        root = self.work / schema
        root.mkdir()
        gateway = store_bench.Gateway(schema, root, cache_size=None)
        try:
            await asyncio.sleep(SETTLE_S)
            found: dict[str, Any] = {
                "tenants": count,
                "import_s": import_s,
                "start_s": gateway.start_s,
                "rss_after_start_mb": gateway.rss(),
            }
            picked = random.Random(11).sample(keys, min(self.args.store_sample, len(keys)))
            started = time.perf_counter()
            await store_bench.list_tools(gateway, picked)
            found["listed"] = len(picked)
            found["lists_per_s"] = len(picked) / (time.perf_counter() - started)
            found["rss_after_lists_mb"] = gateway.rss()
        finally:
            gateway.stop()
        return found
