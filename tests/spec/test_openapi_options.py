"""Include/exclude rules, name overrides, security schemes and skips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fastn_gen.spec.errors import SpecError
from fastn_gen.spec.ir import AuthScheme
from fastn_gen.spec.options import RouteRule, SecurityMapping

from .oas_docs import doc3, load, tool


def _op(op_id: str, *tags: str) -> dict[str, Any]:
    return {"operationId": op_id, "tags": list(tags), "responses": {}}


ROUTES = doc3(
    {
        "/users": {"get": _op("listUsers", "users"), "post": _op("createUser", "users")},
        "/users/{id}": {"delete": _op("deleteUser", "users", "admin")},
        "/orders": {"get": _op("listOrders", "orders")},
        "/health": {"get": {"responses": {}}},
    }
)


def _names(tmp_path: Path, **options: Any) -> list[str]:
    c = load(tmp_path, ROUTES, **options)
    assert c.skipped == ()
    return [t.name for t in c.tools]


def test_everything_by_default_sorted(tmp_path: Path) -> None:
    assert _names(tmp_path) == [
        "acme_create_user",
        "acme_delete_user",
        "acme_get_health",
        "acme_list_orders",
        "acme_list_users",
    ]


def test_include_and_exclude(tmp_path: Path) -> None:
    assert _names(tmp_path, include=(RouteRule(tags=("users",)),)) == [
        "acme_create_user",
        "acme_delete_user",
        "acme_list_users",
    ]
    # Exclude wins over include; criteria of one rule must all match.
    assert _names(
        tmp_path,
        include=(RouteRule(tags=("users",)), RouteRule(paths=("/orders*",))),
        exclude=(RouteRule(methods=("DELETE",)), RouteRule(methods=("POST",), tags=("orders",))),
    ) == ["acme_create_user", "acme_list_orders", "acme_list_users"]
    assert _names(tmp_path, include=(RouteRule(operation_ids=("listOrders",)),)) == [
        "acme_list_orders"
    ]
    assert _names(tmp_path, exclude=(RouteRule(paths=("/users*",)),)) == [
        "acme_get_health",
        "acme_list_orders",
    ]


def test_name_overrides(tmp_path: Path) -> None:
    names = {
        "listUsers": "acme_users",
        "GET /health": "acme_ping",
        "deleteUser": "acme_list_orders",
    }
    assert _names(tmp_path, names=names) == [
        "acme_create_user",
        "acme_list_orders",  # the override wins the name ...
        "acme_list_orders_get",  # ... and the operation that wanted it is told apart
        "acme_ping",
        "acme_users",
    ]


@pytest.mark.parametrize(
    ("names", "pointer", "message"),
    [
        ({"listUsers": "Users-List"}, "/names/listUsers", "invalid tool name 'Users-List'"),
        ({"listUsers": "x" * 65}, "/names/listUsers", "invalid tool name"),
        ({"FETCH /users": "acme_x"}, "/names/FETCH ~1users", "no operation has this"),
        ({"listUsers": "acme_same", "listOrders": "acme_same"}, "/names", "given to 2 operations"),
    ],
)
def test_bad_overrides(tmp_path: Path, names: dict[str, str], pointer: str, message: str) -> None:
    with pytest.raises(SpecError) as err:
        load(tmp_path, ROUTES, names=names)
    [issue] = err.value.issues
    assert issue.pointer == pointer and message in issue.message


def test_health_check_must_name_a_tool(tmp_path: Path) -> None:
    assert load(tmp_path, ROUTES, health_check="acme_get_health").health_check == "acme_get_health"
    with pytest.raises(SpecError) as err:
        load(tmp_path, ROUTES, health_check="acme_nope")
    assert err.value.issues[0].pointer == "/health_check"


SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "basic": {"type": "http", "scheme": "basic"},
    "digest": {"type": "http", "scheme": "digest"},
    "header_key": {"type": "apiKey", "in": "header", "name": "Authorization"},
    "query_key": {"type": "apiKey", "in": "query", "name": "hapikey"},
    "cookie_key": {"type": "apiKey", "in": "cookie", "name": "sid"},
    "oauth": {
        "type": "oauth2",
        "flows": {
            "implicit": {"authorizationUrl": "https://a.example/auth", "scopes": {}},
            "clientCredentials": {
                "tokenUrl": "https://a.example/token",
                "refreshUrl": "https://a.example/refresh",
                "scopes": {"write": "w", "read": "r"},
            },
        },
    },
    "implicit": {
        "type": "oauth2",
        "flows": {"implicit": {"authorizationUrl": "https://a.example/auth", "scopes": {}}},
    },
    "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://a.example/.well-known"},
}
BEARER = AuthScheme("bearer", location="header", param_name="Authorization", prefix="Bearer ")


@pytest.mark.parametrize(
    ("scheme", "prefix", "expected"),
    [
        ("bearer", None, BEARER),
        ("basic", None, AuthScheme("basic")),
        (
            "header_key",
            "Token token=",
            AuthScheme("api_key", "header", "Authorization", "Token token="),
        ),
        ("header_key", None, AuthScheme("api_key", "header", "Authorization", "")),
        ("query_key", None, AuthScheme("api_key", "query", "hapikey")),
        (
            "oauth",
            None,
            AuthScheme(
                "oauth2",
                location="header",
                param_name="Authorization",
                prefix="Bearer ",
                token_url="https://a.example/token",
                refresh_url="https://a.example/refresh",
                scopes=("read", "write"),
            ),
        ),
        ("implicit", None, BEARER),
        ("oidc", None, BEARER),
    ],
)
def test_security_mapping(
    tmp_path: Path, scheme: str, prefix: str | None, expected: AuthScheme
) -> None:
    doc = doc3({}, components={"securitySchemes": SCHEMES})
    c = load(tmp_path, doc, security=SecurityMapping(scheme, prefix))
    assert c.auth == expected


@pytest.mark.parametrize(
    ("scheme", "message"),
    [
        ("cookie_key", "apiKey in 'cookie' is not supported"),
        ("digest", "HTTP digest authentication is not supported"),
        ("nope", "security scheme 'nope' is not declared"),
    ],
)
def test_unusable_security_mapping(tmp_path: Path, scheme: str, message: str) -> None:
    doc = doc3({}, components={"securitySchemes": SCHEMES})
    with pytest.raises(SpecError) as err:
        load(tmp_path, doc, security=SecurityMapping(scheme))
    assert message in err.value.issues[0].message


def test_first_usable_scheme_and_default(tmp_path: Path) -> None:
    schemes = {"cookie": SCHEMES["cookie_key"], "q": SCHEMES["query_key"], "b": SCHEMES["basic"]}
    doc = doc3({}, components={"securitySchemes": schemes})
    assert load(tmp_path, doc).auth == AuthScheme("api_key", "query", "hapikey")
    assert load(tmp_path, doc3({})).auth == AuthScheme("none")
    assert load(tmp_path, doc3({}), default_auth="bearer").auth == BEARER


def test_requires_auth(tmp_path: Path) -> None:
    doc = doc3(
        {
            "/open": {"get": {"operationId": "open", "security": [], "responses": {}}},
            "/maybe": {
                "get": {"operationId": "maybe", "security": [{}, {"b": []}], "responses": {}}
            },
            "/closed": {"get": {"operationId": "closed", "responses": {}}},
        },
        components={"securitySchemes": {"b": SCHEMES["bearer"]}},
        security=[{"b": []}],
    )
    c = load(tmp_path, doc)
    assert not tool(c, "acme_open").requires_auth
    assert not tool(c, "acme_maybe").requires_auth
    assert tool(c, "acme_closed").requires_auth


def test_skips_have_reasons_and_filtered_operations_are_not_skips(tmp_path: Path) -> None:
    doc = doc3(
        {
            "/t": {"trace": _op("traceIt"), "get": "not an operation"},
            "/p": {"get": {"operationId": "badParam", "parameters": [{"in": "query"}]}},
            "/q": {"get": {"operationId": "badIn", "parameters": [{"name": "a", "in": "body"}]}},
            "/s": {
                "get": {
                    "operationId": "elsewhere",
                    "servers": [{"url": "https://uploads.acme.example"}],
                    "responses": {},
                }
            },
            "/same": {
                "get": {
                    "operationId": "sameServer",
                    "servers": [{"url": "https://api.acme.example/v1/"}],
                    "responses": {},
                }
            },
        }
    )
    c = load(tmp_path, doc)
    assert [t.name for t in c.tools] == ["acme_same_server"]
    reasons = {s.operation: (s.reason, s.pointer) for s in c.skipped}
    assert reasons == {
        "GET /t": ("operation must be an object", "/paths/~1t/get"),
        "traceIt": ("TRACE operations are not supported", "/paths/~1t/trace"),
        "badParam": ("parameter needs a string `name` and `in`", "/paths/~1p/get/parameters/0"),
        "badIn": (
            "parameter location 'body' is not valid in OpenAPI 3",
            "/paths/~1q/get/parameters/0",
        ),
        "elsewhere": (
            "served from https://uploads.acme.example, not the connector base URL "
            "https://api.acme.example/v1 (one base URL per connector)",
            "/paths/~1s/get",
        ),
    }
    filtered = load(tmp_path, doc, exclude=(RouteRule(paths=("/t", "/p", "/q")),))
    assert {s.operation for s in filtered.skipped} == {"elsewhere"}
