"""Format generated Python with ruff under fixed settings, so output is byte-stable.

Settings are passed explicitly (``--isolated``) rather than read from whatever
configuration surrounds the output directory; they match the project's own
``pyproject.toml`` so ``ruff format --check`` agrees on the committed files.

Import sorting must not depend on where the build runs: ruff decides what is
first-party from ``src`` (default: the working directory) and from the package the
file sits in. So ``src`` is empty, first-party packages are named, and the file is
formatted under a fixed virtual path that exists on no machine.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePosixPath

FIRST_PARTY = ("fastn_gen", "generated")
RUFF_SETTINGS = (
    "--isolated",
    "--line-length",
    "100",
    "--target-version",
    "py311",
    "--config",
    "src = []",
    "--config",
    "lint.isort.known-first-party = [" + ", ".join(f'"{p}"' for p in FIRST_PARTY) + "]",
    "--config",
    "lint.isort.detect-same-package = false",
)
VIRTUAL_ROOT = PurePosixPath("/fastn-gen-output")


class FormattingError(RuntimeError):
    pass


def virtual_path(filename: str) -> str:
    """Where ruff is told the file lives: the same place whatever the working directory."""
    return str(VIRTUAL_ROOT / PurePosixPath(filename).as_posix().lstrip("/"))


@functools.cache
def ruff_command() -> tuple[str, ...]:
    """The ruff binary itself: ``python -m ruff`` costs a Python start-up per call."""
    try:
        from ruff.__main__ import find_ruff_bin

        return (os.fsdecode(find_ruff_bin()),)
    except (ImportError, FileNotFoundError):
        return (sys.executable, "-m", "ruff")


def _ruff(args: list[str], source: str, filename: str) -> str:
    proc = subprocess.run(
        [
            *ruff_command(),
            *args,
            *RUFF_SETTINGS,
            "--stdin-filename",
            virtual_path(filename),
            "-",
        ],
        input=source.encode(),
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise FormattingError(f"ruff failed on {filename}: {proc.stderr.decode().strip()}")
    return proc.stdout.decode()


def format_one(filename: str, source: str) -> str:
    # The templates assemble imports from several places: sort them and drop the ones a
    # module does not use (BodySpec in a connector without request bodies), then format.
    fixes = ["check", "--fix", "--select", "I,F401", "--quiet", "--exit-zero"]
    return _ruff(["format", "--quiet"], _ruff(fixes, source, filename), filename)


def format_python(files: dict[str, str]) -> dict[str, str]:
    """Format every file; ruff runs in parallel subprocesses, one per file."""
    names = sorted(files)
    with ThreadPoolExecutor(max_workers=4) as pool:
        formatted = pool.map(lambda n: format_one(n, files[n]), names)
    return dict(zip(names, formatted, strict=True))
