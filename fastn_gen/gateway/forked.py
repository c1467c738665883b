"""Run a memory-hungry, self-contained computation in a forked child process.

Loading a tenants file with 100,000 tenants builds the whole document (hundreds of
megabytes of small objects) to keep a compact result. Freed small objects do not go
back to the operating system (they leave partly used arenas behind), so a gateway that
did this in process kept that memory for good. The child does the work; the parent only
receives the pickled result: the parent's memory grows by the result alone.
"""

from __future__ import annotations

import os
import pickle
import threading
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class ForkedError(RuntimeError):
    """The child failed unexpectedly; the message carries its traceback."""


def run_forked(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` computed in a forked child; its result must be picklable.

    Runs in process where there is no ``fork``, and when other threads are running (a
    live reload runs in a worker thread): a child forked then could block for good on
    a lock another thread held at the fork.
    """
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return fn(*args)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, leave without running any cleanup
        os.close(read_end)
        code = 0
        try:
            try:
                payload = pickle.dumps((True, fn(*args)), protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:  # noqa: BLE001 - reported to the parent
                payload = pickle.dumps((False, traceback.format_exc()))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not payload:
        raise ForkedError(f"the child process ended without a result (status {status})")
    ok, value = pickle.loads(payload)  # noqa: S301 - written by our own child
    del payload
    if not ok:
        raise ForkedError(str(value))
    return value  # type: ignore[no-any-return]
