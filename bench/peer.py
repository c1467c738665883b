"""The peers we measure against, each in its own virtual environment.

FastMCP 4.x pins dependency versions that differ from ours, so it lives in
``bench/.venv-peer`` and is driven in a subprocess. The environment is created on
first use and reused afterwards.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PEER_VENV = BENCH_DIR / ".venv-peer"
PEER_PYTHON = PEER_VENV / "bin" / "python"
FASTMCP_VERSION = "4.1.6"
# 4.1.6 asks for a certifi release newer than some package mirrors carry; its 4.1.0
# dependency set is otherwise the same, so fall back to installing that set first.
FALLBACK_DEPS_VERSION = "4.1.0"


def _pip(*args: str) -> bool:
    proc = subprocess.run([str(PEER_PYTHON), "-m", "pip", "install", "-q", *args], check=False)
    return proc.returncode == 0


def ensure_peer_env() -> Path:
    marker = PEER_VENV / f".fastmcp-{FASTMCP_VERSION}"
    if marker.exists():
        return PEER_PYTHON
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    if not _pip(f"fastmcp=={FASTMCP_VERSION}"):
        if not _pip(f"fastmcp=={FALLBACK_DEPS_VERSION}"):
            raise RuntimeError("cannot install FastMCP into bench/.venv-peer")
        if not _pip("--no-deps", f"fastmcp=={FASTMCP_VERSION}", f"fastmcp-slim=={FASTMCP_VERSION}"):
            raise RuntimeError(f"cannot install FastMCP {FASTMCP_VERSION}")
    marker.touch()
    return PEER_PYTHON


def fastmcp_version() -> str:
    out = subprocess.run(
        [str(PEER_PYTHON), "-c", "import fastmcp; print(fastmcp.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()
