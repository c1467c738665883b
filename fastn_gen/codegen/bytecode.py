"""Write the bytecode of generated modules at build time, so a gateway never compiles.

Compiling GitHub's full connector module (2.5 MB of source) takes over a second; its
bytecode loads in a few tens of milliseconds. Python writes ``__pycache__`` on first
import only when allowed (not under ``PYTHONDONTWRITEBYTECODE``, nor on a read-only
file system), so the build writes it itself. ``__pycache__`` is not committed; a
fresh checkout gets it from its first ``fastn-gen build``.
"""

from __future__ import annotations

import compileall
from collections.abc import Iterable
from pathlib import Path


def compile_modules(out_dir: Path, relative_paths: Iterable[str]) -> None:
    """Bytecode for each ``.py`` file that lacks a current one (compileall checks the
    source's mtime and size, so unchanged modules are not recompiled)."""
    for rel in sorted(relative_paths):
        path = out_dir / rel
        if rel.endswith(".py") and path.is_file():
            compileall.compile_file(path, quiet=2)
