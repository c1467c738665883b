"""A second process consuming one counter, for the cross-process atomicity test.

Usage: consume_worker.py STORE_URL TENANT CALLS LIMIT. Prints ``ready`` once the store
is open, waits for a line on stdin, then runs ``consume_in_waves`` and prints how many
calls were admitted.
"""

from __future__ import annotations

import asyncio
import sys

from fastn_gen.store.base import Store
from fastn_gen.store.factory import open_store
from fastn_gen.store.records import CounterLimit

WAVE = 20


async def consume_in_waves(store: Store, tenant: str, calls: int, limit: int) -> int:
    """CALLS consumes of ``calls``/``p``, WAVE at a time with a pause between waves, so two
    processes doing this at once overlap for most of their run. Returns admissions."""
    counter = [CounterLimit("calls", "p", limit)]
    admitted = 0
    for start in range(0, calls, WAVE):
        wave = [store.consume(tenant, counter) for _ in range(min(WAVE, calls - start))]
        admitted += sum(result is None for result in await asyncio.gather(*wave))
        await asyncio.sleep(0.002)
    return admitted


async def main(url: str, tenant: str, calls: int, limit: int) -> None:
    store = await open_store(url)
    try:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        print(await consume_in_waves(store, tenant, calls, limit), flush=True)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
