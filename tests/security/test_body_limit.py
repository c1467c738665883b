"""The request checks that run before the MCP layer parses a body (unit level; the
suite in test_hostile_input.py sends the same inputs to a running gateway)."""

from __future__ import annotations

import json

import pytest

from fastn_gen.gateway.body_limit import (
    DEFAULT_MAX_BODY_BYTES,
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    Refused,
    RequestLimits,
    check_message,
    depth_of,
)
from fastn_gen.gateway.serve_options import DEFAULT_MAX_BODY_BYTES as SERVE_DEFAULT

LIMITS = RequestLimits()


def refused(body: bytes) -> Refused:
    with pytest.raises(Refused) as caught:
        check_message(body, LIMITS)
    return caught.value


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_default_limit_is_one_mebibyte_in_both_places() -> None:
    assert DEFAULT_MAX_BODY_BYTES == SERVE_DEFAULT == 1024 * 1024


def test_depth_is_measured_without_recursion() -> None:
    assert depth_of(1) == 0
    assert depth_of({"a": [1, {"b": []}]}) == 4
    assert depth_of(json.loads(nested(900))) == 900


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (b"\xff\xfe{}", PARSE_ERROR, "not valid UTF-8 (byte 0)"),
        (b'{"jsonrpc": "2.0", "method": "x\xc3"}', PARSE_ERROR, "UTF-8"),
        (b"{", PARSE_ERROR, "Parse error"),
        (b"", PARSE_ERROR, "Parse error"),
        (nested(65).encode(), INVALID_REQUEST, "deeper than 64"),
        (nested(100_000).encode(), PARSE_ERROR, "deeper than 64"),
        (b"[]", INVALID_REQUEST, "empty batch"),
        (b"42", INVALID_REQUEST, "JSON object"),
        (b'{"method": "ping"}', INVALID_REQUEST, '"jsonrpc" must be "2.0"'),
        (b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}', INVALID_REQUEST, '"id"'),
        (b'{"jsonrpc": "2.0", "id": true, "method": "ping"}', INVALID_REQUEST, '"id"'),
        (b'{"jsonrpc": "2.0", "id": null, "method": "ping"}', INVALID_REQUEST, "not be null"),
        (b'{"jsonrpc": "2.0", "id": 1, "method": 7}', INVALID_REQUEST, '"method"'),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "x", "params": 3}', INVALID_REQUEST, "params"),
        (b'{"jsonrpc": "2.0", "id": 1}', INVALID_REQUEST, "neither"),
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(body: bytes, code: int, says: str) -> None:
    problem = refused(body)
    assert problem.status == 400 and problem.code == code
    assert says in str(problem)


def test_absurd_argument_counts_are_refused() -> None:
    arguments = {f"a{i}": i for i in range(LIMITS.max_arguments + 1)}
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": "t", "arguments": arguments}}  # fmt: skip
    problem = refused(json.dumps(message).encode())
    assert problem.code == INVALID_PARAMS and "257 arguments" in str(problem)


def test_well_formed_messages_pass_and_are_returned_parsed() -> None:
    call = {"jsonrpc": "2.0", "id": "x", "method": "tools/call",
            "params": {"name": "t", "arguments": {"a": [[[1]]]}}}  # fmt: skip
    assert check_message(json.dumps(call).encode(), LIMITS) == call
    batch = [{"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"jsonrpc": "2.0", "id": 2, "result": {}}]  # fmt: skip
    assert check_message(json.dumps(batch).encode(), LIMITS) == batch
    text = {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"s": "naïve ✓"}}
    assert check_message(json.dumps(text, ensure_ascii=False).encode(), LIMITS) == text
