"""Event ids sort by time as plain strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fastn_gen.store.cursor import decode_cursor, encode_cursor
from fastn_gen.store.errors import InvalidCursor
from fastn_gen.store.ids import new_event_id


def test_ids_sort_by_time_and_are_unique() -> None:
    start = datetime(2026, 11, 29, tzinfo=UTC)
    ids = [new_event_id(start + timedelta(milliseconds=n)) for n in range(0, 5000, 7)]
    assert ids == sorted(ids)
    assert all(len(i) == 26 and set(i) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for i in ids)
    same_moment = {new_event_id(start) for _ in range(1000)}
    assert len(same_moment) == 1000
    assert len({i[:10] for i in same_moment}) == 1  # the time part is shared
    with pytest.raises(ValueError):
        new_event_id(datetime(1960, 1, 1, tzinfo=UTC))


def test_cursor_round_trip_and_rejects_tampering() -> None:
    cursor = encode_cursor(1_795_000_000_123_456, "01ABC")
    assert decode_cursor(cursor) == (1_795_000_000_123_456, "01ABC")
    for bad in (cursor[:-3], "e30", encode_cursor(1, "x").replace("W", "X")):
        with pytest.raises(InvalidCursor):
            decode_cursor(bad)
