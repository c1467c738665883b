"""Where a gateway ``tools/call`` spends its CPU: py-spy samples, grouped by owner.

``py-spy record`` samples the gateway process while the load generator makes
sequential calls. Each sample is charged to the first frame, walking from the leaf
towards the root, that belongs to a known owner: the gateway's own modules (by file),
the MCP SDK, the upstream HTTP client, or the HTTP server stack. A pydantic or json
frame is therefore charged to whoever called it. Idle samples (waiting in select or
on a condition) are dropped.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

IDLE_LEAVES = (
    "select (selectors.py",
    "Condition.wait (threading.py",
    "Queue.get (queue.py",
    "_worker (concurrent/futures/thread.py:81)",
)
OWNERS: list[tuple[str, str]] = [
    ("(fastn_gen/gateway/", "gateway: {module}"),
    ("(fastn_gen/runtime/", "gateway: generated models"),
    ("fastn_generated_", "gateway: generated models"),
    ("(httpx/", "upstream HTTP client (httpx, httpcore)"),
    ("(httpcore/", "upstream HTTP client (httpx, httpcore)"),
    ("(httpx2/", "upstream HTTP client (httpx, httpcore)"),
    ("(httpcore2/", "upstream HTTP client (httpx, httpcore)"),
    ("(mcp/", "MCP SDK (dispatch, result serialisation)"),
    ("(mcp_types/", "MCP SDK (dispatch, result serialisation)"),
    ("(uvicorn/", "HTTP server (uvicorn, h11, starlette)"),
    ("(h11/", "HTTP server (uvicorn, h11, starlette)"),
    ("(starlette/", "HTTP server (uvicorn, h11, starlette)"),
]
# Charged only when no owner above is on the stack (the loop's own bookkeeping).
FALLBACK: list[tuple[str, str]] = [
    ("(anyio/", "event loop (asyncio, anyio)"),
    ("(asyncio/", "event loop (asyncio, anyio)"),
    ("(threading.py", "worker threads"),
]


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def start_recording(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    exe = py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed (pip install -e '.[bench]')")
    return subprocess.Popen(
        [
            exe,
            "record",
            "--nonblocking",  # not paused per sample, so its timing holds
            "-p",
            str(pid),
            "-o",
            str(out),
            "-f",
            "raw",
            "-r",
            "400",
            "-d",
            str(int(seconds)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _owner(frames: list[str]) -> str:
    # Only the frames the event loop is running: what called the loop is not an owner.
    loop = [i for i, f in enumerate(frames) if f.startswith("BaseEventLoop._run_once")]
    if loop:
        frames = frames[loop[-1] :]
    for owners in (OWNERS, FALLBACK):
        for frame in reversed(frames):
            for needle, label in owners:
                if needle in frame:
                    if "{module}" in label:
                        module = frame.split(needle, 1)[1].split(".py", 1)[0]
                        return label.format(module=module)
                    return label
    return "other"


def classify(raw: Path) -> dict[str, Any]:
    """Busy samples per owner, and the hottest leaf functions."""
    owners: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = busy = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        if any(idle in frames[-1] for idle in IDLE_LEAVES):
            continue
        busy += count
        owners[_owner(frames)] += count
        leaves[frames[-1].split(" (")[0] + " (" + frames[-1].rsplit("/", 1)[-1]] += count
    return {
        "samples": total,
        "busy_samples": busy,
        "owners": {k: v / busy for k, v in owners.most_common()} if busy else {},
        "top_leaves": {k: v / busy for k, v in leaves.most_common(12)} if busy else {},
    }
