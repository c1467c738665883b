"""Stoplight Prism (``prism mock --errors``) as a validating upstream on loopback.

Prism serves an OpenAPI document and checks every request against it: a request that
breaks the document (a missing required parameter, a wrong type, a body the schema
refuses, a missing credential) is answered with an error naming each violation instead
of a mock response. The CLI is installed from ``package-lock.json`` with ``npm ci``
the first time it is needed.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PRISM_BIN = HERE / "node_modules" / ".bin" / "prism"
LISTENING = "Prism is listening on"


class PrismUnavailable(RuntimeError):
    pass


def ensure_prism() -> Path:
    """The Prism CLI, installed with ``npm ci`` when absent. Never skips: fails clearly."""
    if PRISM_BIN.exists():
        return PRISM_BIN
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise PrismUnavailable(
            "the Prism request-validation tests need Node.js 18.20+ and npm on PATH "
            "(e.g. `apt-get install nodejs npm`); then they install Prism themselves"
        )
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0 or not PRISM_BIN.exists():
        raise PrismUnavailable(f"`npm ci` in {HERE} failed:\n{done.stdout}\n{done.stderr}")
    return PRISM_BIN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrismProcess:
    """``prism mock <spec> --errors`` on a free loopback port."""

    def __init__(self, spec: Path, log_path: Path) -> None:
        self.spec = spec
        self.log_path = log_path
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def launch(self) -> PrismProcess:
        """Start Prism without waiting: loading a large document takes seconds."""
        binary = ensure_prism()
        self.port = free_port()
        args = [str(binary), "mock", str(self.spec), "--errors", "-h", "127.0.0.1"]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [*args, "-p", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=HERE,
            )
        return self

    def wait_ready(self, timeout: float = 180.0) -> PrismProcess:
        assert self.proc is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if LISTENING in self.log():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"prism exited with {self.proc.returncode}:\n{self.log()[-3000:]}"
                )
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prism did not start within {timeout}s for {self.spec}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
