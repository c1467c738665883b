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


# Whether pause_for_start_up turned the collector off (and so resume_after_start_up
# turns it back on); a host that had disabled it keeps it disabled.
_paused_for_start_up = False


def pause_for_start_up() -> None:
    """Pause the cyclic collector for a server's start-up: importing the SDK and the
    gateway, loading the catalog and the tenants, building the app. All of it is
    long-lived and acyclic enough that collections during start-up only rescan it;
    :func:`resume_after_start_up` turns the collector back on before serving."""
    global _paused_for_start_up
    if gc.isenabled():
        gc.disable()
        _paused_for_start_up = True


def resume_after_start_up(*, freeze: bool = False) -> None:
    """Turn the collector back on. With ``freeze`` (a server about to serve), what
    start-up allocated is first moved out of the collector's sight (``gc.freeze``):
    otherwise the first collections after start-up, during the first requests, would
    trace all of it, the work the pause saved. A reload that drops frozen objects calls
    :func:`release_frozen`."""
    global _paused_for_start_up
    if _paused_for_start_up:
        _paused_for_start_up = False
        if freeze:
            gc.freeze()
        gc.enable()


def release_frozen() -> None:
    """Let the collector see objects frozen at start-up again, so those a live reload
    let go of (an old catalog's modules hold reference cycles) can be freed."""
    gc.unfreeze()
