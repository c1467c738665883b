"""Timestamps as integers and the opaque keyset cursor for event pages.

Both backends order events by (time, id) descending. A cursor names the last event of
a page; the next page starts strictly after it, so events recorded while a client pages
neither shift pages nor appear twice.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta

from fastn_gen.store.errors import InvalidCursor

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch; naive datetimes are refused (they have no zone)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware: {moment!r}")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def as_utc(moment: datetime) -> datetime:
    to_micros(moment)  # the same check for naive datetimes
    return moment.astimezone(UTC)


def encode_cursor(at_micros: int, event_id: str) -> str:
    raw = json.dumps([at_micros, event_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise InvalidCursor("invalid events cursor") from exc
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or isinstance(value[0], bool)
        or not isinstance(value[1], str)
    ):
        raise InvalidCursor("invalid events cursor")
    return value[0], value[1]
