"""Time-ordered event ids (ULID layout: 48-bit milliseconds + 80 random bits).

Ids sort by creation time as plain strings, so the newest-first index on events needs
no separate sequence and ids made by several replicas never collide.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, no I L O U


def new_event_id(at: datetime | None = None) -> str:
    """A 26-character id whose first 10 characters encode ``at`` (now by default)."""
    moment = at if at is not None else datetime.now(UTC)
    millis = int(moment.timestamp() * 1000)
    if not 0 <= millis < 1 << 48:
        raise ValueError(f"timestamp out of range for an event id: {moment!r}")
    value = (millis << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
