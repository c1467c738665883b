"""Pausing the cyclic garbage collector around large, acyclic loads."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector while a large structure without reference cycles is
    built (a spec document and its conversion, a manifest, a tenants file): it would
    rescan the growing heap again and again for nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
