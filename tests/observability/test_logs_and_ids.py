"""JSON log lines, the request-id middleware and the upstream request hook."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fastn_gen.gateway.context import serving_tenant
from fastn_gen.gateway.tenancy import Tenant
from fastn_gen.observability.logs import configure_logging
from fastn_gen.observability.request_id import (
    RequestIdMiddleware,
    accepted_inbound,
    current_request_id,
    stamp_upstream_request,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # CLI commands run in-process by other tests quieten the package logger; start clean.
    package = logging.getLogger("fastn_gen")
    package_level = package.level
    package.setLevel(logging.NOTSET)
    logging.getLogger("fastn_gen.test").disabled = False
    yield
    package.setLevel(package_level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _app(seen: list[str | None]) -> RequestIdMiddleware:
    async def endpoint(request: Request) -> JSONResponse:
        seen.append(current_request_id())
        logging.getLogger("fastn_gen.test").info("inside the request")
        return JSONResponse({"ok": True})

    return RequestIdMiddleware(Starlette(routes=[Route("/", endpoint)]))


async def test_each_request_gets_its_own_id_in_the_response_and_the_context(
    restore_logging: None,
) -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    seen: list[str | None] = []
    transport = httpx.ASGITransport(app=_app(seen))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        first = await client.get("/")
        second = await client.get("/")
    assert first.headers["x-request-id"] == seen[0]
    assert second.headers["x-request-id"] == seen[1]
    assert seen[0] != seen[1] and seen[0] is not None
    assert current_request_id() is None  # nothing leaks out of the request
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    inside = [line for line in lines if line["message"] == "inside the request"]
    assert [line["request_id"] for line in inside] == seen
    assert all(line["level"] == "info" and line["logger"] == "fastn_gen.test" for line in inside)


async def test_a_well_formed_inbound_id_is_kept_and_a_malformed_one_replaced() -> None:
    seen: list[str | None] = []
    transport = httpx.ASGITransport(app=_app(seen))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        kept = await client.get("/", headers={"X-Request-Id": "proxy-1234abcd"})
        replaced = await client.get("/", headers={"X-Request-Id": "bad id\r\ninjected: 1"})
    assert kept.headers["x-request-id"] == "proxy-1234abcd" == seen[0]
    assert replaced.headers["x-request-id"] == seen[1] != "bad id\r\ninjected: 1"
    assert "injected" not in str(seen[1])


@pytest.mark.parametrize(
    ("value", "kept"),
    [("abcd1234", True), ("a" * 128, True), ("a" * 129, False), ("short", False),
     ("with space1", False), ("ok.id:7-_x", True), (None, False)],
)  # fmt: skip
def test_inbound_ids_accepted(value: str | None, kept: bool) -> None:
    assert (accepted_inbound(value) == value) is kept if value is not None else True
    if not kept:
        assert accepted_inbound(value) is None


async def test_the_upstream_hook_stamps_the_current_id_only() -> None:
    outside = httpx.Request("GET", "https://api.example.com/x")
    await stamp_upstream_request(outside)
    assert "x-request-id" not in outside.headers
    seen: list[str] = []

    async def endpoint(request: Request) -> JSONResponse:
        upstream = httpx.Request("GET", "https://api.example.com/x")
        await stamp_upstream_request(upstream)
        seen.append(upstream.headers["x-request-id"])
        return JSONResponse({})

    app = RequestIdMiddleware(Starlette(routes=[Route("/", endpoint)]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answered = await client.get("/")
    assert seen == [answered.headers["x-request-id"]]


def test_json_lines_carry_tenant_and_exceptions(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("debug", "json", stream)
    log = logging.getLogger("fastn_gen.test")
    with serving_tenant(Tenant(id="acme", display_name="Acme", plan="default", connections={})):
        log.debug("as %s", "acme")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "as acme" and first["tenant"] == "acme"
    assert first["request_id"] is None and first["level"] == "debug"
    assert second["tenant"] is None and "ValueError: boom" in second["exc"]


def test_text_format_is_unchanged(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("info", "text", stream)
    logging.getLogger("fastn_gen.test").info("hello")
    assert stream.getvalue().rstrip().endswith("INFO fastn_gen.test: hello")
