"""What ``serve --watch`` polls: the stat signatures of the tenants file and generated/.

A signature is (path, mtime_ns, size, inode) per file: a rename over the file (as a
build or an editor's atomic save does) changes the inode, an in-place write the mtime
or size. No dependency and no inotify, so it works on every platform and in volumes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

# Seconds between polls of --watch (tests shorten it).
WATCH_INTERVAL_ENV = "FASTN_WATCH_INTERVAL"
DEFAULT_WATCH_INTERVAL_S = 1.0

# (path, mtime_ns, size, inode) per watched file; -1s for a missing one.
Signature = tuple[tuple[str, int, int, int], ...]


def watch_interval(environ: Mapping[str, str] | None = None) -> float:
    env = os.environ if environ is None else environ
    text = env.get(WATCH_INTERVAL_ENV)
    try:
        value = float(text) if text else DEFAULT_WATCH_INTERVAL_S
    except ValueError:
        value = DEFAULT_WATCH_INTERVAL_S
    return value if 0 < value <= 3600 else DEFAULT_WATCH_INTERVAL_S


def signature(paths: Iterable[Path]) -> Signature:
    found = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            found.append((str(path), -1, -1, -1))
            continue
        found.append((str(path), st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(found)


def generated_files(generated_dir: Path) -> list[Path]:
    """The manifest, the output schemas and every module of ``generated_dir`` (what a
    build rewrites)."""
    modules = [p for p in generated_dir.rglob("*.py") if "__pycache__" not in p.parts]
    data = [generated_dir / "manifest.json", generated_dir / "output_schemas.json"]
    return [*data, *sorted(modules)]


Signatures = tuple[Signature, Signature]  # the tenants file's, generated/'s


def watched_signatures(config_path: Path, generated_dir: Path) -> Signatures:
    return signature([config_path]), signature(generated_files(generated_dir))
