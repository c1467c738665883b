"""Turning validated arguments into upstream requests, checked on a real loopback socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

import pytest

from fastn_gen.gateway.executor import Executor, ToolOutcome
from fastn_gen.gateway.outcome import ERR_ARGUMENTS
from fastn_gen.gateway.request_builder import RequestBuildError, build_request
from fastn_gen.runtime.operation import AuthSpec, BodySpec, ConnectorSpec, Operation, ParamSpec
from tests.upstreams import EchoUpstream, RecordedRequest
from tests.upstreams.specs import body_param, connection, op, path_param, q, tenant

TOKEN = "tok-abcdef123456"


def connector(base_url: str, variables: tuple[tuple[str, str], ...] = ()) -> ConnectorSpec:
    return ConnectorSpec(
        name="echo",
        title="Echo",
        description="",
        base_url=base_url,
        auth=AuthSpec(kind="bearer", prefix="Bearer "),
        variables=variables,
    )


def call(
    upstream: EchoUpstream,
    operation: Operation,
    arguments: dict[str, Any],
    *,
    base_path: str = "/v1",
    variables: dict[str, str] | None = None,
    spec: ConnectorSpec | None = None,
) -> tuple[ToolOutcome, list[RecordedRequest]]:
    spec = spec or connector(upstream.url + base_path)
    conn = connection("echo", {"token": TOKEN}, variables, name="echo")
    who = tenant("acme", conn)

    async def run() -> ToolOutcome:
        executor = Executor(environ={})
        try:
            return await executor.execute(who, conn, spec, operation, arguments)
        finally:
            await executor.aclose()

    return asyncio.run(run()), upstream.requests


# -- path parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("../../admin", "..%2F..%2Fadmin"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("a/b?c#d", "a%2Fb%3Fc%23d"),
        ("100%", "100%25"),
        ("caf\u00e9 au lait", "caf%C3%A9%20au%20lait"),
        ("v1.2", "v1.2"),
    ],
)
def test_path_values_stay_inside_their_segment(
    echo_upstream: EchoUpstream, value: str, encoded: str
) -> None:
    operation = op("get_file", "GET", "/files/{name}/raw", [path_param("name")])
    outcome, requests = call(echo_upstream, operation, {"name": value})
    assert not outcome.is_error, outcome.text
    assert [r.raw_path for r in requests] == [f"/v1/files/{encoded}/raw"]


def test_traversal_in_a_path_parameter_does_not_reach_another_route(
    echo_upstream: EchoUpstream,
) -> None:
    operation = op("get_order", "GET", "/orders/{id}.json", [path_param("id")])
    outcome, requests = call(echo_upstream, operation, {"id": "../../admin/users"})
    assert requests[0].path == "/v1/orders/..%2F..%2Fadmin%2Fusers.json"
    assert outcome.structured is not None
    assert outcome.structured["path"] == "/v1/orders/..%2F..%2Fadmin%2Fusers.json"


def test_integer_and_boolean_path_values(echo_upstream: EchoUpstream) -> None:
    operation = op("x", "GET", "/a/{n}/{flag}", [path_param("n"), path_param("flag")])
    _, requests = call(echo_upstream, operation, {"n": 42, "flag": True})
    assert requests[0].path == "/v1/a/42/true"


def test_missing_path_parameter_is_an_argument_error(echo_upstream: EchoUpstream) -> None:
    operation = op("get_order", "GET", "/orders/{id}", [path_param("id")])
    outcome, requests = call(echo_upstream, operation, {})
    assert outcome.is_error and outcome.error == ERR_ARGUMENTS
    assert "'id'" in outcome.text
    assert requests == []


def test_empty_path_value_is_refused(echo_upstream: EchoUpstream) -> None:
    operation = op("get_order", "GET", "/orders/{id}/items", [path_param("id")])
    outcome, requests = call(echo_upstream, operation, {"id": ""})
    assert outcome.is_error and "must not be empty" in outcome.text
    assert requests == []


# -- query parameters ------------------------------------------------------------------


def test_query_styles(echo_upstream: EchoUpstream) -> None:
    operation = op(
        "search",
        "GET",
        "/search",
        [
            q("tags"),
            q("ids", explode=False),
            q("words", style="spaceDelimited", explode=False),
            q("colors", style="pipeDelimited", explode=False),
            q("filter", style="deepObject", explode=True),
            q("point", explode=True),
            q("size", explode=False),
            q("archived"),
            q("page"),
            q("unused"),
        ],
    )
    _, requests = call(
        echo_upstream,
        operation,
        {
            "tags": ["a", "b c"],
            "ids": [1, 2, 3],
            "words": ["x", "y"],
            "colors": ["red", "blue"],
            "filter": {"status": "open", "created": {"gte": 10}},
            "point": {"lat": 1.5, "lng": 2},
            "size": {"w": 3, "h": 4},
            "archived": False,
            "page": 2,
            "unused": None,
        },
    )
    assert requests[0].query == [
        ("tags", "a"),
        ("tags", "b c"),
        ("ids", "1,2,3"),
        ("words", "x y"),
        ("colors", "red|blue"),
        ("filter[status]", "open"),
        ("filter[created][gte]", "10"),
        ("lat", "1.5"),
        ("lng", "2"),
        ("size", "w,3,h,4"),
        ("archived", "false"),
        ("page", "2"),
    ]


def test_query_values_cannot_inject_parameters(echo_upstream: EchoUpstream) -> None:
    operation = op("search", "GET", "/search", [q("text")])
    _, requests = call(echo_upstream, operation, {"text": "a&admin=1#frag"})
    assert requests[0].query == [("text", "a&admin=1#frag")]


# -- headers and cookies ---------------------------------------------------------------


@pytest.mark.parametrize("bad", ["a\r\nX-Admin: 1", "a\nb", "a\rb", "a\x00b"])
def test_header_values_with_line_breaks_or_nul_are_refused(
    echo_upstream: EchoUpstream, bad: str
) -> None:
    operation = op("x", "GET", "/x", [ParamSpec("request_id", "X-Request-Id", "header", False)])
    outcome, requests = call(echo_upstream, operation, {"request_id": bad})
    assert outcome.is_error and outcome.error == ERR_ARGUMENTS
    assert "'request_id'" in outcome.text and "line break or NUL" in outcome.text
    assert requests == []


def test_header_and_cookie_params_are_sent(echo_upstream: EchoUpstream) -> None:
    operation = op(
        "x",
        "GET",
        "/x",
        [
            ParamSpec("request_id", "X-Request-Id", "header", False),
            ParamSpec("tags", "X-Tags", "header", False),
            ParamSpec("session", "session", "cookie", False),
            ParamSpec("pref", "pref", "cookie", False),
        ],
    )
    _, requests = call(
        echo_upstream,
        operation,
        {"request_id": "r-1", "tags": ["a", "b"], "session": "s1", "pref": "x;y z"},
    )
    sent = requests[0]
    assert sent.header("x-request-id") == "r-1"
    assert sent.header("x-tags") == "a,b"
    assert sent.header("cookie") == "session=s1; pref=x%3By%20z"


def test_cookie_values_with_line_breaks_are_refused(echo_upstream: EchoUpstream) -> None:
    operation = op("x", "GET", "/x", [ParamSpec("session", "session", "cookie", False)])
    outcome, requests = call(echo_upstream, operation, {"session": "a\r\nb"})
    assert outcome.is_error and "'session'" in outcome.text
    assert requests == []


@pytest.mark.parametrize("header", ["Host", "Content-Length", "Transfer-Encoding"])
def test_framing_headers_cannot_be_set_by_arguments(
    echo_upstream: EchoUpstream, header: str
) -> None:
    operation = op("x", "GET", "/x", [ParamSpec("h", header, "header", False)])
    outcome, requests = call(echo_upstream, operation, {"h": "evil.example"})
    assert outcome.is_error and header in outcome.text
    assert requests == []


# -- bodies ----------------------------------------------------------------------------


def test_flattened_json_body(echo_upstream: EchoUpstream) -> None:
    operation = op(
        "post",
        "POST",
        "/chat.postMessage",
        [body_param("channel"), body_param("text"), body_param("meta_data", "metadata")],
        BodySpec("json", "application/json; charset=utf-8", required=True),
    )
    _, requests = call(
        echo_upstream,
        operation,
        {"channel": "C1", "text": "héllo", "meta_data": {"k": [1, None]}},
    )
    sent = requests[0]
    assert sent.header("content-type") == "application/json; charset=utf-8"
    assert sent.json() == {"channel": "C1", "text": "héllo", "metadata": {"k": [1, None]}}


def test_whole_argument_json_body(echo_upstream: EchoUpstream) -> None:
    operation = op(
        "put",
        "PUT",
        "/items",
        [],
        BodySpec("json", "application/json", required=True, whole_arg="body"),
    )
    _, requests = call(echo_upstream, operation, {"body": [1, 2, {"a": "b"}]})
    assert requests[0].json() == [1, 2, {"a": "b"}]


def test_optional_body_without_fields_sends_no_body(echo_upstream: EchoUpstream) -> None:
    operation = op(
        "post", "POST", "/x", [body_param("note")], BodySpec("json", "application/json", False)
    )
    _, requests = call(echo_upstream, operation, {})
    assert requests[0].body == b""
    assert requests[0].header("content-type") is None


def test_form_body_uses_bracket_notation(echo_upstream: EchoUpstream) -> None:
    operation = op(
        "create_session",
        "POST",
        "/checkout/sessions",
        [
            body_param("mode"),
            body_param("metadata"),
            body_param("line_items"),
            body_param("expand"),
            body_param("livemode"),
            body_param("description"),
        ],
        BodySpec("form", "application/x-www-form-urlencoded", required=True),
    )
    _, requests = call(
        echo_upstream,
        operation,
        {
            "mode": "payment",
            "metadata": {"order_id": "6735", "note": "a&b=c"},
            "line_items": [{"price": "price_1", "quantity": 2}, {"price": "price_2"}],
            "expand": ["customer", "payment_intent"],
            "livemode": False,
            "description": None,
        },
    )
    sent = requests[0]
    assert sent.header("content-type") == "application/x-www-form-urlencoded"
    assert sent.form() == [
        ("mode", "payment"),
        ("metadata[order_id]", "6735"),
        ("metadata[note]", "a&b=c"),
        ("line_items[0][price]", "price_1"),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price]", "price_2"),
        ("expand[0]", "customer"),
        ("expand[1]", "payment_intent"),
        ("livemode", "false"),
        ("description", ""),
    ]


def test_form_fields_with_a_style_are_written_like_query_parameters(
    echo_upstream: EchoUpstream,
) -> None:
    """OpenAPI ``encoding`` styles (Twilio's arrays: ``Events=a&Events=b``); a field
    without a style, or with deepObject, keeps the bracket notation."""
    operation = op(
        "create_call",
        "POST",
        "/Calls.json",
        [
            ParamSpec("events", "StatusCallbackEvent", "body", True, "form", True),
            ParamSpec("labels", "Labels", "body", False, "form", False),
            ParamSpec("codes", "Codes", "body", False, "pipeDelimited", False),
            ParamSpec("expand", "expand", "body", False, "deepObject", True),
            body_param("tags"),
            body_param("to", "To"),
        ],
        BodySpec("form", "application/x-www-form-urlencoded", required=True),
    )
    _, requests = call(
        echo_upstream,
        operation,
        {
            "events": ["initiated", "ringing"],
            "labels": ["a", "b"],
            "codes": [1, 2],
            "expand": ["customer"],
            "tags": ["x"],
            "to": "+15005550006",
        },
    )
    assert requests[0].form() == [
        ("StatusCallbackEvent", "initiated"),
        ("StatusCallbackEvent", "ringing"),
        ("Labels", "a,b"),
        ("Codes", "1|2"),
        ("expand[0]", "customer"),
        ("tags[0]", "x"),
        ("To", "+15005550006"),
    ]


def test_multipart_body(echo_upstream: EchoUpstream) -> None:
    operation = op(
        "upload",
        "POST",
        "/files.upload",
        [body_param("title"), body_param("channels"), body_param("options"), body_param("n")],
        BodySpec("multipart", "multipart/form-data", required=True),
    )
    _, requests = call(
        echo_upstream,
        operation,
        {"title": "report", "channels": ["C1", "C2"], "options": {"x": 1}, "n": 3},
    )
    sent = requests[0]
    content_type = sent.header("content-type") or ""
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=", 1)[1]
    parts = sent.body.decode().split(f"--{boundary}")
    fields = []
    for part in parts:
        head, _, value = part.strip("\r\n").partition("\r\n\r\n")
        if 'name="' in head:
            fields.append((head.split('name="', 1)[1].split('"', 1)[0], value))
    assert fields == [
        ("title", "report"),
        ("channels", "C1"),
        ("channels", "C2"),
        ("options", '{"x":1}'),
        ("n", "3"),
    ]


def test_raw_body(echo_upstream: EchoUpstream) -> None:
    operation = op(
        "put_doc",
        "PUT",
        "/doc",
        [],
        BodySpec("raw", "text/csv", required=True, whole_arg="content"),
    )
    _, requests = call(echo_upstream, operation, {"content": "a,b\n1,2\n"})
    assert requests[0].body == b"a,b\n1,2\n"
    assert requests[0].header("content-type") == "text/csv"


def test_form_body_must_be_an_object() -> None:
    operation = op(
        "x",
        "POST",
        "/x",
        [],
        BodySpec("form", "application/x-www-form-urlencoded", True, whole_arg="body"),
    )
    with pytest.raises(RequestBuildError, match="must be an object"):
        build_request(connector("http://127.0.0.1:1"), operation, {}, {"body": [1, 2]})


# -- base URL variables ----------------------------------------------------------------

SHOP = (("shop", r"^[a-z0-9][a-z0-9-]*$"),)


def test_connection_variables_are_substituted(echo_upstream: EchoUpstream) -> None:
    spec = connector(echo_upstream.url + "/{shop}/admin", SHOP)
    operation = op("orders", "GET", "/orders.json", [])
    outcome, requests = call(
        echo_upstream, operation, {}, variables={"shop": "acme-demo"}, spec=spec
    )
    assert not outcome.is_error
    assert requests[0].path == "/acme-demo/admin/orders.json"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"shop": "evil.com/x"}, "does not match"),
        ({"shop": "Acme"}, "does not match"),
        ({}, "no value for variable 'shop'"),
    ],
)
def test_bad_connection_variables_are_refused(
    echo_upstream: EchoUpstream, variables: dict[str, str], message: str
) -> None:
    spec = connector(echo_upstream.url + "/{shop}/admin", SHOP)
    outcome, requests = call(
        echo_upstream, op("o", "GET", "/o", []), {}, variables=variables, spec=spec
    )
    assert outcome.is_error and message in outcome.text
    assert requests == []


def test_permissive_variable_pattern_still_cannot_change_the_host() -> None:
    spec = connector("https://{shop}.example.com/api", (("shop", ".*"),))
    with pytest.raises(RequestBuildError, match="does not match"):
        build_request(spec, op("o", "GET", "/o", []), {"shop": "evil.com@x"}, {})
    with pytest.raises(RequestBuildError, match="does not match"):
        build_request(spec, op("o", "GET", "/o", []), {"shop": "a/b"}, {})


def test_undeclared_placeholder_in_base_url_is_refused() -> None:
    spec = connector("https://{region}.example.com")
    with pytest.raises(RequestBuildError, match="not a declared variable"):
        build_request(spec, op("o", "GET", "/o", []), {"region": "eu"}, {})


def test_echoed_request_is_the_structured_result(echo_upstream: EchoUpstream) -> None:
    operation = op("x", "GET", "/x", [q("a")])
    outcome, _ = call(echo_upstream, operation, {"a": "1"})
    assert outcome.structured is not None
    assert outcome.structured["query"] == [["a", "1"]]
    assert json.loads(outcome.text) == outcome.structured
    assert parse_qsl(outcome.structured["raw_path"].split("?", 1)[1]) == [("a", "1")]
