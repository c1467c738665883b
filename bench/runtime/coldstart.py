"""Cold start: process launch to the first successful ``tools/list``, and tenant scale.

The probe (``probe.py``) is started and has imported the client before the server is
spawned, so only the server's start-up is counted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from procs import Proc
from procstat import memory_mb

HERE = Path(__file__).resolve().parent


def first_list(
    server: Proc, url: str, mode: str, key: str | None, timeout: float
) -> dict[str, Any]:
    """Launch ``server`` (not yet started) and time its first listing at ``url``."""
    args = [sys.executable, str(HERE / "probe.py"), url, mode] + ([key] if key else [])
    probe = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert probe.stdout is not None and probe.stdin is not None
        if probe.stdout.readline().strip() != "ready":
            raise RuntimeError(f"probe failed: {probe.stderr.read() if probe.stderr else ''}")
        server.start()
        probe.stdin.write("go\n")
        probe.stdin.flush()
        out, err = probe.communicate(timeout=timeout)
        if probe.returncode != 0:
            raise RuntimeError(f"probe failed:\n{err[-2000:]}\nserver:\n{server.log_tail()}")
        found = json.loads(out.strip().splitlines()[-1])
        memory = memory_mb(server.pid) if server.alive() else {}
        return {
            "to_listening_s": found["accepted_at"] - server.started_at,
            "to_first_list_s": found["listed_at"] - server.started_at,
            "tools": found["tools"],
            "rss_mb": memory.get("rss_mb"),
            "peak_rss_mb": memory.get("peak_rss_mb"),
        }
    except subprocess.TimeoutExpired:
        probe.kill()
        probe.communicate()
        return {"timed_out_after_s": timeout}
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.communicate()
        server.stop()
        time.sleep(0.2)
