"""Starting and stopping the processes under test, each on its own free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def sdk_server_args(port: int, upstream: str, tool_json: Path | str) -> list[str]:
    """The command of contender (b), the bare SDK server with the one tool."""
    script = Path(__file__).resolve().parent / "sdk_server.py"
    return [
        sys.executable,
        str(script),
        "--port",
        str(port),
        "--upstream",
        upstream,
        "--tool",
        str(tool_json),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class Pinning:
    """CPU sets for the server under test and for everything else (client, upstream)."""

    server: set[int] | None = None
    others: set[int] | None = None

    @classmethod
    def split(cls, enabled: bool) -> Pinning:
        cpus = sorted(os.sched_getaffinity(0))
        if not enabled or len(cpus) < 2:
            return cls()
        return cls(server={cpus[-1]}, others=set(cpus[:-1]))


@dataclass
class Proc:
    """One child process with its log; ``stop`` waits until it has exited."""

    name: str
    args: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    cpus: set[int] | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)
    started_at: float = field(default=0.0, init=False)

    def start(self) -> Proc:
        cpus = self.cpus

        def pin() -> None:
            if cpus:
                os.sched_setaffinity(0, cpus)

        log = self.log_path.open("wb")
        self.started_at = time.time()
        self.popen = subprocess.Popen(
            list(self.args),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(self.env) if self.env is not None else None,
            cwd=self.cwd,
            preexec_fn=pin,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        text = self.log_path.read_text(errors="replace")
        return text[-chars:]

    def wait_port(self, port: int, timeout: float) -> float:
        """Seconds from start until ``port`` accepts connections."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port_open(port):
                return time.time() - self.started_at
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen on {port} within {timeout:.0f} s")

    def stop(self, grace: float = 15.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        # The process leads its own session: signal only it and its children.
        os.killpg(self.popen.pid, signal.SIGINT)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
