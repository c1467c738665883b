"""Format generated Python with ruff under fixed settings, so output is byte-stable.

Settings are passed explicitly (``--isolated``) rather than read from whatever
configuration surrounds the output directory; they match the project's own
``pyproject.toml`` so ``ruff format --check`` agrees on the committed files.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

RUFF_SETTINGS = ("--isolated", "--line-length", "100", "--target-version", "py311")


class FormattingError(RuntimeError):
    pass


def _ruff(args: list[str], source: str, filename: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *args, *RUFF_SETTINGS, "--stdin-filename", filename, "-"],
        input=source.encode(),
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise FormattingError(f"ruff failed on {filename}: {proc.stderr.decode().strip()}")
    return proc.stdout.decode()


def format_one(filename: str, source: str) -> str:
    # Sort imports first (the templates assemble them from several places), then format.
    source = _ruff(["check", "--fix", "--select", "I", "--quiet", "--exit-zero"], source, filename)
    return _ruff(["format", "--quiet"], source, filename)


def format_python(files: dict[str, str]) -> dict[str, str]:
    """Format every file; ruff runs in parallel subprocesses, one per file."""
    names = sorted(files)
    with ThreadPoolExecutor(max_workers=4) as pool:
        formatted = pool.map(lambda n: format_one(n, files[n]), names)
    return dict(zip(names, formatted, strict=True))
