"""The gzip pieces of cached tools/list answers, against zlib and gzip themselves."""

from __future__ import annotations

import gzip
import os
import zlib

import pytest

from fastn_gen.gateway.tool_list_gzip import (
    PackCache,
    accepts_gzip,
    crc32_combine,
    gzip_around,
    pack,
    zeros_operator,
)


@pytest.mark.parametrize("length", [0, 1, 2, 3, 7, 8, 255, 65_537, 1_000_003])
def test_combined_crc_is_the_crc_of_the_concatenation(length: int) -> None:
    first, second = os.urandom(41), os.urandom(length)
    combined = crc32_combine(zlib.crc32(first), zlib.crc32(second), zeros_operator(length))
    assert combined == zlib.crc32(first + second)


def test_a_member_around_packed_items_decompresses_to_the_whole_answer() -> None:
    items = b",".join(
        b'{"name":"tool_%d","inputSchema":{"type":"object"}}' % i for i in range(3000)
    )
    prefix, suffix = b'{"jsonrpc":"2.0","id":"x","result":{"tools":[', b'],"ttlMs":0}}'
    packed = pack(items)
    answer = gzip_around(prefix, packed, suffix)
    assert gzip.decompress(answer) == prefix + items + suffix
    assert len(answer) < len(items) / 5
    # The same packed items serve the next answer with another id.
    again = gzip_around(b'{"id":2,"result":{"tools":[', packed, b"]}}")
    assert gzip.decompress(again) == b'{"id":2,"result":{"tools":[' + items + b"]}}"


def test_pack_cache_reuses_the_packed_form_of_the_same_list() -> None:
    cache = PackCache()
    items = b'{"name":"a"}' * 100
    assert cache.get(items) is cache.get(items)


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip, deflate", True),
        ("deflate, GZIP ; q=0.5", True),
        ("gzip;q=0", False),
        ("gzip;q=nonsense", False),
        ("br, zstd", False),
        ("", False),
        ("identity", False),
    ],
)
def test_accept_encoding(header: str, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted
