"""Timings of the flows runtime; the defaults suit production, tests shorten them.

Each can be set in the gateway's environment (seconds):

- ``FASTN_FLOWS_TICK_S`` (1): how often the scheduler looks at the clock;
- ``FASTN_FLOWS_REFRESH_S`` (5): how often it re-reads the scheduled flows of every
  tenant (a flow saved on this process is seen at the next tick);
- ``FASTN_FLOWS_LEASE_S`` (30): the scheduler's and every run's lease; a process that
  stops without a goodbye loses its runs to another process after this long;
- ``FASTN_FLOWS_MISFIRE_S`` (300): a due time missed by up to this long (no process had
  the scheduler lease, say) still fires; older ones are skipped;
- ``FASTN_FLOWS_SHUTDOWN_GRACE_S`` (5): on shutdown, how long running flows get to end
  before they are interrupted (to be resumed at the next start).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

_PREFIX = "FASTN_FLOWS_"
_LIMIT_S = 86_400.0


@dataclass(frozen=True, slots=True)
class FlowOptions:
    tick_s: float = 1.0
    refresh_s: float = 5.0
    lease_s: float = 30.0
    misfire_s: float = 300.0
    shutdown_grace_s: float = 5.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FlowOptions:
        env = os.environ if environ is None else environ
        values: dict[str, float] = {}
        for option in fields(cls):
            text = env.get(_PREFIX + option.name.upper())
            if text is None:
                continue
            try:
                value = float(text)
            except ValueError:
                raise ValueError(
                    f"{_PREFIX}{option.name.upper()}: not a number: {text!r}"
                ) from None
            if not 0 <= value <= _LIMIT_S:
                raise ValueError(f"{_PREFIX}{option.name.upper()}: must be 0-{_LIMIT_S:g} seconds")
            values[option.name] = value
        options = cls(**values)
        if options.tick_s <= 0 or options.lease_s <= 0:
            raise ValueError(f"{_PREFIX}TICK_S and {_PREFIX}LEASE_S must be above 0")
        return options
