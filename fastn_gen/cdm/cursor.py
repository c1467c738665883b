"""The opaque cursor of an entity search: where each source is up to.

A search page merges one page from each source. The cursor holds, for every source
not finished yet, the upstream cursor of the page it is on, how many of that page's
ranked matches were already returned, and the upstream page size (so the same page is
asked for again and the count still applies). A source missing from the cursor is
finished. The cursor also carries a fingerprint of the search (type, query, filters):
it cannot be used to continue a different search.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

VERSION = 1
UpstreamCursor = str | int | float | None


class CursorError(Exception):
    """A cursor that is not one of ours, or belongs to another search."""


@dataclass(frozen=True, slots=True)
class SourceState:
    cursor: UpstreamCursor = None  # None: the first page
    offset: int = 0  # ranked matches of that page already returned
    page_size: int | None = None


@dataclass(frozen=True, slots=True)
class SearchCursor:
    fingerprint: str
    sources: dict[str, SourceState] = field(default_factory=dict)


def fingerprint(entity_type: str, query: str, filters: Mapping[str, Any] | None) -> str:
    doc = json.dumps([entity_type, query, dict(sorted((filters or {}).items()))])
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def encode(cursor: SearchCursor) -> str:
    doc = {
        "v": VERSION,
        "f": cursor.fingerprint,
        "s": {
            name: [state.cursor, state.offset, state.page_size]
            for name, state in sorted(cursor.sources.items())
        },
    }
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _state(value: Any) -> SourceState:
    if not isinstance(value, list) or len(value) != 3:
        raise CursorError("malformed source state")
    upstream, offset, size = value
    if not (upstream is None or isinstance(upstream, str | int | float)) or isinstance(
        upstream, bool
    ):
        raise CursorError("malformed upstream cursor")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise CursorError("malformed offset")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise CursorError("malformed page size")
    return SourceState(upstream, offset, size)


def decode(text: str, expected_fingerprint: str) -> SearchCursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise CursorError("not a cursor of fastn_search_entities") from None
    if not isinstance(doc, dict) or doc.get("v") != VERSION or not isinstance(doc.get("s"), dict):
        raise CursorError("not a cursor of fastn_search_entities")
    if doc.get("f") != expected_fingerprint:
        raise CursorError(
            "the cursor belongs to a different search: give the same entity_type, query "
            "and filters as the first page"
        )
    sources = {str(name): _state(value) for name, value in doc["s"].items()}
    return SearchCursor(expected_fingerprint, sources)
