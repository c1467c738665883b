"""The native connector format and OpenAPI wrappers: IR produced, issues reported."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_pydantic.v3.v3_0 import OpenAPI as OpenAPI30
from openapi_pydantic.v3.v3_1 import OpenAPI as OpenAPI31

from fastn_gen.spec import ir
from fastn_gen.spec.errors import SpecError
from fastn_gen.spec.loader import load_connectors
from fastn_gen.spec.native import load_native_connector, wrapper_options
from fastn_gen.spec.options import OpenAPIOptions, RouteRule, SecurityMapping

ROOT = Path(__file__).resolve().parents[2]
CONNECTORS = ROOT / "connectors.d"
BROKEN = ROOT / "tests" / "golden" / "broken"
SOURCE = "acme.yaml"


def connector(**fields: Any) -> dict[str, Any]:
    """A small valid native connector; ``fields`` replace top-level fields."""
    data: dict[str, Any] = {
        "name": "acme",
        "title": "Acme",
        "description": "Acme CRM.",
        "base_url": "https://api.acme.example/v1",
        "auth": {"type": "bearer"},
        "tools": [
            {
                "name": "get_contact",
                "description": "Get a contact.",
                "method": "GET",
                "path": "/contacts/{id}",
                "parameters": [{"name": "id", "in": "path", "type": "integer"}],
            }
        ],
    }
    data.update(copy.deepcopy(fields))
    return data


def with_tool(**fields: Any) -> dict[str, Any]:
    """The small connector with its tool's fields replaced."""
    data = connector()
    data["tools"][0].update(copy.deepcopy(fields))
    return data


def issues(data: Any, source: str = SOURCE) -> list[tuple[str, str]]:
    """(pointer, message) of every issue; fails if the document loads."""
    with pytest.raises(SpecError) as caught:
        load_native_connector(data, source)
    assert all(i.file == source for i in caught.value.issues)
    return [(i.pointer, i.message) for i in caught.value.issues]


def wrapper_issues(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as caught:
        wrapper_options(data, "petstore.yaml")
    assert all(i.file == "petstore.yaml" for i in caught.value.issues)
    return [(i.pointer, i.message) for i in caught.value.issues]


def read(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- valid documents -> IR ------------------------------------------------------------


def test_a_tool_becomes_the_expected_ir() -> None:
    data = connector(
        tools=[
            {
                "name": "update_contact",
                "title": "Update a contact",
                "description": "  Change a contact.\n",
                "method": "patch",
                "path": "/contacts/{id}",
                "tags": ["contacts"],
                "parameters": [
                    {"name": "id", "in": "path", "type": "integer", "description": "Contact ID."},
                    {"name": "notify", "in": "query", "type": "boolean", "default": False},
                    {"name": "X-Request-Id", "in": "header"},
                    {"name": "email", "in": "body", "required": True, "format": "email"},
                    {
                        "name": "stage",
                        "in": "body",
                        "enum": ["lead", "customer"],
                        "description": "Lifecycle stage.",
                    },
                ],
            }
        ]
    )
    c = load_native_connector(data, SOURCE)
    assert c.tools == (
        ir.Tool(
            name="acme_update_contact",
            connector="acme",
            operation_id="update_contact",
            description="Change a contact.",
            method="PATCH",
            path="/contacts/{id}",
            params=(
                ir.Param("id", "id", "path", True, {"type": "integer"}, "Contact ID."),
                ir.Param("notify", "notify", "query", False, {"type": "boolean", "default": False}),
                ir.Param("x_request_id", "X-Request-Id", "header", False, {"type": "string"}),
                ir.Param("email", "email", "body", True, {"type": "string", "format": "email"}),
                ir.Param(
                    "stage",
                    "stage",
                    "body",
                    False,
                    {"type": "string", "enum": ["lead", "customer"]},
                    "Lifecycle stage.",
                ),
            ),
            body=ir.Body("json", "application/json", required=True),
            input_schema={
                "type": "object",
                "properties": {
                    "id": {"type": "integer", "description": "Contact ID."},
                    "notify": {"type": "boolean", "default": False},
                    "x_request_id": {"type": "string"},
                    "email": {"type": "string", "format": "email"},
                    "stage": {
                        "type": "string",
                        "enum": ["lead", "customer"],
                        "description": "Lifecycle stage.",
                    },
                },
                "required": ["id", "email"],
                "additionalProperties": False,
            },
            output_schema=None,
            annotations=ir.Annotations(read_only=False, destructive=False, idempotent=False),
            title="Update a contact",
            tags=("contacts",),
            requires_auth=True,
            pointer="/tools/0",
        ),
    )


def test_connector_fields_become_the_ir() -> None:
    data = connector(
        base_url="https://{tenant}.acme.example/api/",
        variables={"tenant": {"description": "Subdomain.", "pattern": "^[a-z]+$"}},
        response_ok={"field": "ok", "error_field": "error"},
        self_hosted=True,
        health_check="get_contact",
    )
    data["tools"][0]["parameters"] = []
    data["tools"][0]["path"] = "/me"
    c = load_native_connector(data, SOURCE)
    assert (c.name, c.title, c.description, c.source) == ("acme", "Acme", "Acme CRM.", SOURCE)
    assert c.base_url == "https://{tenant}.acme.example/api"  # no trailing slash
    assert c.self_hosted is True
    assert c.health_check == "acme_get_contact"
    assert c.skipped == ()
    assert c.extra == {
        "variables": {"tenant": {"description": "Subdomain.", "pattern": "^[a-z]+$"}},
        "response_ok": {"field": "ok", "error_field": "error"},
    }


def test_extra_is_empty_without_variables_or_response_ok() -> None:
    assert load_native_connector(connector(), SOURCE).extra == {}


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"type": "none"}, ir.AuthScheme("none")),
        (
            {"type": "bearer"},
            ir.AuthScheme(
                "bearer", location="header", param_name="Authorization", prefix="Bearer "
            ),
        ),
        (
            {"type": "bearer", "prefix": "token "},
            ir.AuthScheme("bearer", location="header", param_name="Authorization", prefix="token "),
        ),
        (
            {"type": "api_key", "in": "query", "name": "api_key"},
            ir.AuthScheme("api_key", location="query", param_name="api_key"),
        ),
        (
            {"type": "api_key", "in": "header", "name": "Authorization", "prefix": "Token "},
            ir.AuthScheme(
                "api_key", location="header", param_name="Authorization", prefix="Token "
            ),
        ),
        ({"type": "basic"}, ir.AuthScheme("basic")),
        (
            {
                "type": "oauth2",
                "token_url": "https://auth.acme.example/token",
                "refresh_url": "https://auth.acme.example/refresh",
                "scopes": ["contacts.read"],
            },
            ir.AuthScheme(
                "oauth2",
                location="header",
                param_name="Authorization",
                prefix="Bearer ",
                token_url="https://auth.acme.example/token",
                refresh_url="https://auth.acme.example/refresh",
                scopes=("contacts.read",),
            ),
        ),
    ],
)
def test_auth_schemes(auth: dict[str, Any], expected: ir.AuthScheme) -> None:
    c = load_native_connector(connector(auth=auth), SOURCE)
    assert c.auth == expected
    assert c.tools[0].requires_auth is (auth["type"] != "none")


@pytest.mark.parametrize(
    ("method", "read_only", "destructive", "idempotent"),
    [
        ("GET", True, False, True),
        ("HEAD", True, False, True),
        ("POST", False, False, False),
        ("PATCH", False, False, False),
        ("PUT", False, True, True),
        ("DELETE", False, True, True),
    ],
)
def test_annotations_derive_from_the_method(
    method: str, read_only: bool, destructive: bool, idempotent: bool
) -> None:
    c = load_native_connector(with_tool(method=method), SOURCE)
    assert c.tools[0].annotations == ir.Annotations(read_only, destructive, idempotent, True)


def test_given_annotations_override_only_themselves() -> None:
    data = with_tool(method="POST", annotations={"read_only": True, "open_world": False})
    a = load_native_connector(data, SOURCE).tools[0].annotations
    assert a == ir.Annotations(
        read_only=True, destructive=False, idempotent=False, open_world=False
    )


def test_colliding_argument_names_get_location_suffixes() -> None:
    data = with_tool(
        method="PUT",
        parameters=[
            {"name": "id", "in": "path"},
            {"name": "id", "in": "body"},
            {"name": "name", "in": "body", "arg": "full_name"},
        ],
    )
    tool = load_native_connector(data, SOURCE).tools[0]
    assert [(p.arg, p.name, p.location) for p in tool.params] == [
        ("id__path", "id", "path"),
        ("id__body", "id", "body"),
        ("full_name", "name", "body"),
    ]
    assert list(tool.input_schema["properties"]) == ["id__path", "id__body", "full_name"]
    assert tool.input_schema["required"] == ["id__path"]
    assert tool.body == ir.Body("json", "application/json", required=False)


@pytest.mark.parametrize(
    ("encoding", "media_type"),
    [("json", "application/json"), ("form", "application/x-www-form-urlencoded"),
     ("multipart", "multipart/form-data")],
)  # fmt: skip
def test_body_encodings(encoding: ir.BodyEncoding, media_type: str) -> None:
    data = with_tool(
        method="POST",
        path="/contacts",
        body_encoding=encoding,
        parameters=[
            {"name": "email", "in": "body", "required": True},
            {"name": "tags", "in": "body", "type": "array", "items": {"type": "string"}},
        ],
    )
    assert load_native_connector(data, SOURCE).tools[0].body == ir.Body(
        encoding, media_type, required=True
    )


def test_a_full_schema_replaces_the_shorthand() -> None:
    schema = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^[a-z]+$"}]}
    data = with_tool(
        path="/contacts", parameters=[{"name": "ref", "in": "query", "schema": schema}]
    )
    param = load_native_connector(data, SOURCE).tools[0].params[0]
    assert param.schema == schema


def test_query_serialisation_is_kept() -> None:
    data = with_tool(
        path="/contacts",
        parameters=[
            {
                "name": "fields",
                "in": "query",
                "type": "array",
                "items": {"type": "string"},
                "style": "form",
                "explode": False,
            },
            {"name": "filter", "in": "query", "type": "object", "style": "deepObject"},
        ],
    )
    params = load_native_connector(data, SOURCE).tools[0].params
    assert [(p.style, p.explode) for p in params] == [("form", False), ("deepObject", None)]


def test_object_output_schemas_are_kept_and_others_wrapped() -> None:
    obj = {"type": "object", "properties": {"id": {"type": "integer"}}}
    listing = {
        "type": "array",
        "items": {"$ref": "#/$defs/Contact"},
        "$defs": {"Contact": obj},
    }
    data = connector()
    data["tools"].append(
        {**copy.deepcopy(data["tools"][0]), "name": "list_contacts", "output_schema": listing}
    )
    data["tools"][0]["output_schema"] = obj
    c = load_native_connector(data, SOURCE)
    kept, wrapped = c.tools
    assert c.extra == {"wrapped_outputs": ["acme_list_contacts"]}
    assert kept.output_schema == obj
    assert wrapped.output_schema == {
        "type": "object",
        "properties": {"result": {"type": "array", "items": {"$ref": "#/$defs/Contact"}}},
        "required": ["result"],
        "$defs": {"Contact": obj},
    }
    Draft202012Validator.check_schema(wrapped.output_schema)
    Draft202012Validator(wrapped.output_schema).validate({"result": [{"id": 1}]})


def test_tool_names_overrides_and_shortening() -> None:
    data = connector()
    base = data["tools"][0]
    long_name = "list_" + "_".join(["organization"] * 8)
    data["tools"] = [
        base,
        {**base, "name": "fetch", "tool_name": "crm_fetch_contact"},
        {**base, "name": "acme_lookup"},  # the connector prefix is not doubled
        {**base, "name": long_name},
    ]
    names = [t.name for t in load_native_connector(data, SOURCE).tools]
    assert names[:3] == ["acme_get_contact", "crm_fetch_contact", "acme_lookup"]
    assert len(names[3]) <= 64 and names[3].startswith("acme_list_org")


@pytest.mark.parametrize("given", ["get_contact", "acme_get_contact"])
def test_health_check_names_a_tool_by_either_name(given: str) -> None:
    data = with_tool(path="/me", parameters=[])
    data["health_check"] = given
    assert load_native_connector(data, SOURCE).health_check == "acme_get_contact"


# --- mistakes -> issues ---------------------------------------------------------------


def test_a_bare_openapi_document_gets_one_clear_issue() -> None:
    found = issues({"openapi": "3.1.0", "info": {}, "paths": {}}, "petstore.yaml")
    assert found == [
        (
            "/openapi",
            "this is an OpenAPI document (openapi: 3.1.0); name it petstore.openapi.yaml "
            "to load it as one, or write a wrapper whose openapi: names its path",
        )
    ]
    assert issues({"swagger": "2.0", "paths": {}})[0][0] == "/swagger"
    assert "./3rd/api.yaml" in issues({"openapi": "3rd/api.yaml", "name": "x"})[0][1]


def test_a_document_that_is_not_a_mapping() -> None:
    assert issues(["a", "list"]) == [("", "expected a mapping at the top level")]


MISTAKES: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, document, pointer, part of the message)
    ("unknown field", connector(titel="x"), "/titel",
     "unknown field 'titel'; did you mean 'title'?"),
    ("missing field", {k: v for k, v in connector().items() if k != "title"}, "/title",
     "missing required field 'title'"),
    ("name not snake", connector(name="AcmeCRM"), "/name", "must be snake_case"),
    ("name double underscore", connector(name="acme__crm"), "/name", "must be snake_case"),
    ("name too long", connector(name="a" * 33), "/name", "at most 32 characters"),
    ("wrong type", connector(self_hosted="yes"), "/self_hosted",
     "expected true or false, got 'yes'"),
    ("no tools", connector(tools=[]), "/tools", "at least one tool"),
    ("tools not a list", connector(tools={"a": 1}), "/tools", "expected a list"),
    ("base_url relative", connector(base_url="/v1"), "/base_url", "absolute http:// or https://"),
    ("base_url ftp", connector(base_url="ftp://acme.example"), "/base_url", "absolute http"),
    ("base_url query", connector(base_url="https://a.example/v1?x=1"), "/base_url",
     "query string"),
    ("base_url credentials", connector(base_url="https://u:p@a.example"), "/base_url",
     "must not carry credentials"),
    ("base_url braces", connector(base_url="https://{a.example"), "/base_url", "unbalanced"),
    ("undeclared variable", connector(base_url="https://{shop}.a.example"), "/base_url",
     "placeholder {shop} is not declared in variables"),
    ("unused variable", connector(variables={"shop": {"pattern": "^[a-z]+$"}}),
     "/variables/shop", "not used in base_url"),
    ("variable without pattern",
     connector(base_url="https://{shop}.a.example", variables={"shop": {"description": "x"}}),
     "/variables/shop/pattern", "missing required field 'pattern'"),
    ("variable bad pattern",
     connector(base_url="https://{shop}.a.example", variables={"shop": {"pattern": "(x"}}),
     "/variables/shop/pattern", "not a valid regular expression"),
    ("variable name", connector(base_url="https://{Shop}.a.example",
                                variables={"Shop": {"pattern": "^[a-z]+$"}}),
     "/variables/Shop", "snake_case"),
    ("auth type unknown", connector(auth={"type": "oauth"}), "/auth/type",
     "expected one of 'none', 'bearer', 'api_key', 'basic', 'oauth2', got 'oauth'"),
    ("auth type missing", connector(auth={"name": "x"}), "/auth/type",
     "missing required field 'type'"),
    ("auth field of another type", connector(auth={"type": "bearer", "in": "header"}),
     "/auth/in", "unknown field 'in'"),
    ("auth field named like its type", connector(auth={"type": "bearer", "bearer": "x"}),
     "/auth/bearer", "unknown field 'bearer'"),
    ("api_key location", connector(auth={"type": "api_key", "in": "cookie", "name": "k"}),
     "/auth/in", "expected 'header' or 'query', got 'cookie'"),
    ("api_key header name", connector(auth={"type": "api_key", "in": "header", "name": "X Key"}),
     "/auth/name", "not a valid HTTP header name"),
    ("oauth2 token_url", connector(auth={"type": "oauth2", "token_url": "/oauth/token"}),
     "/auth/token_url", "absolute http"),
    ("response_ok field", connector(response_ok={"error_field": "error"}),
     "/response_ok/field", "missing required field 'field'"),
    ("health_check unknown", connector(health_check="ping"), "/health_check",
     "no tool named 'ping'"),
    ("health_check needs arguments", connector(health_check="get_contact"), "/health_check",
     "requires id"),
    ("tool unknown field", with_tool(methd="GET"), "/tools/0/methd",
     "did you mean 'method'?"),
    ("tool name", with_tool(name="GetContact"), "/tools/0/name", "snake_case"),
    ("tool_name override", with_tool(tool_name="Acme-Get"), "/tools/0/tool_name",
     "1 to 64 characters"),
    ("method", with_tool(method="FETCH"), "/tools/0/method", "got 'FETCH'"),
    ("empty description", with_tool(description=""), "/tools/0/description", "must not be empty"),
    ("long description", with_tool(description="x" * 1025), "/tools/0/description",
     "longer than 1024"),
    ("path without slash", with_tool(path="contacts/{id}"), "/tools/0/path",
     "must start with a single '/'"),
    ("path with query", with_tool(path="/contacts/{id}?full=1"), "/tools/0/path",
     "declare query parameters with in: query"),
    ("path dot segments", with_tool(path="/contacts/../{id}"), "/tools/0/path", "'..'"),
    ("placeholder twice", with_tool(path="/c/{id}/{id}"), "/tools/0/path", "more than once"),
    ("placeholder without parameter", with_tool(path="/c/{id}/{sub}"), "/tools/0/path",
     "placeholder {sub} has no parameter with in: path"),
    ("path parameter not in path", with_tool(path="/contacts"), "/tools/0/parameters/0/name",
     "path parameter 'id' does not appear in the path /contacts"),
    ("path parameter optional",
     with_tool(parameters=[{"name": "id", "in": "path", "required": False}]),
     "/tools/0/parameters/0/required", "always required"),
    ("path parameter array",
     with_tool(parameters=[{"name": "id", "in": "path", "type": "array"}]),
     "/tools/0/parameters/0/type", "path parameters must be string"),
    ("parameter location", with_tool(parameters=[{"name": "id", "in": "cookie"}]),
     "/tools/0/parameters/0/in", "got 'cookie'"),
    ("duplicate parameter",
     with_tool(path="/c", parameters=[{"name": "q", "in": "query"}, {"name": "q", "in": "query"}]),
     "/tools/0/parameters/1/name", "duplicate query parameter 'q' (also /tools/0/parameters/0)"),
    ("duplicate header, other case",
     with_tool(path="/c", parameters=[{"name": "X-Id", "in": "header"},
                                      {"name": "x-id", "in": "header"}]),
     "/tools/0/parameters/1/name", "duplicate header parameter"),
    ("explicit args collide",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "arg": "x"},
                                      {"name": "b", "in": "query", "arg": "x"}]),
     "/tools/0/parameters/1/arg", "argument 'x' is also used by /tools/0/parameters/0"),
    ("explicit arg takes a derived name",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "arg": "b"},
                                      {"name": "b", "in": "body"}], method="POST"),
     "/tools/0/parameters/0/arg", "also the name of /tools/0/parameters/1"),
    ("explicit arg takes a suffixed name",
     with_tool(method="POST", parameters=[{"name": "id", "in": "path"},
                                          {"name": "id", "in": "body"},
                                          {"name": "q", "in": "query", "arg": "id__path"}]),
     "/tools/0/parameters/2/arg", "collides with a suffixed argument name"),
    ("arg not an identifier",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "arg": "a-b"}]),
     "/tools/0/parameters/0/arg", "must be an identifier"),
    ("no derivable arg", with_tool(path="/c", parameters=[{"name": "2fa", "in": "query"}]),
     "/tools/0/parameters/0/name", "set arg"),
    ("schema and shorthand",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "type": "string",
                                       "schema": {"type": "string"}}]),
     "/tools/0/parameters/0/schema", "not both (also given: type)"),
    ("keyword for another type",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "maxLength": 3,
                                       "type": "integer"}]),
     "/tools/0/parameters/0/maxLength", "applies to string parameters, not integer"),
    ("minimum above maximum",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "type": "integer",
                                       "minimum": 5, "maximum": 1}]),
     "/tools/0/parameters/0/maximum", "maximum 1 is below minimum 5"),
    ("minimum not a number",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "type": "integer",
                                       "minimum": True}]),
     "/tools/0/parameters/0/minimum", "expected a number"),
    ("negative maxLength",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "maxLength": -1}]),
     "/tools/0/parameters/0/maxLength", "must be at least 0"),
    ("enum value of another type",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "type": "integer",
                                       "enum": [1, "2"]}]),
     "/tools/0/parameters/0/enum/1", "'2' is not of type integer"),
    ("enum value twice",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "enum": ["x", "x"]}]),
     "/tools/0/parameters/0/enum/1", "listed twice"),
    ("empty enum", with_tool(path="/c", parameters=[{"name": "a", "in": "query", "enum": []}]),
     "/tools/0/parameters/0/enum", "at least 1 item"),
    ("default outside enum",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "enum": ["x"],
                                       "default": "y"}]),
     "/tools/0/parameters/0/default", "not one of the enum values"),
    ("default of another type",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "type": "boolean",
                                       "default": "no"}]),
     "/tools/0/parameters/0/default", "'no' is not of type boolean"),
    ("bad pattern",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "pattern": "[a-"}]),
     "/tools/0/parameters/0/pattern", "not a valid regular expression"),
    ("bad items schema",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "type": "array",
                                       "items": {"type": "str"}}]),
     "/tools/0/parameters/0/items/type", "got 'str'"),
    ("nullable in schema",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query",
                                       "schema": {"type": "string", "nullable": True}}]),
     "/tools/0/parameters/0/schema/nullable", "'nullable' is not JSON Schema"),
    ("tuple items",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query",
                                       "schema": {"type": "array", "items": [{}, {}]}}]),
     "/tools/0/parameters/0/schema/items", "use prefixItems"),
    ("ref in a parameter schema",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query",
                                       "schema": {"$ref": "#/$defs/A"}}]),
     "/tools/0/parameters/0/schema/$ref", "write the schema inline"),
    ("style on a header",
     with_tool(path="/c", parameters=[{"name": "X-A", "in": "header", "style": "form"}]),
     "/tools/0/parameters/0/style", "query parameters only"),
    ("pipeDelimited on a string",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "style": "pipeDelimited"}]),
     "/tools/0/parameters/0/style", "applies to array parameters"),
    ("explode on a scalar",
     with_tool(path="/c", parameters=[{"name": "a", "in": "query", "explode": True}]),
     "/tools/0/parameters/0/explode", "applies to array and object parameters"),
    ("reserved header",
     with_tool(path="/c", parameters=[{"name": "Content-Type", "in": "header"}]),
     "/tools/0/parameters/0/name", "sets the Content-Type header itself"),
    ("credential header",
     connector(auth={"type": "api_key", "in": "header", "name": "X-Key"},
               tools=[{"name": "a", "description": "A.", "method": "GET", "path": "/a",
                       "parameters": [{"name": "x-key", "in": "header"}]}]),
     "/tools/0/parameters/0/name", "carries the credential"),
    ("credential query parameter",
     connector(auth={"type": "api_key", "in": "query", "name": "key"},
               tools=[{"name": "a", "description": "A.", "method": "GET", "path": "/a",
                       "parameters": [{"name": "key", "in": "query"}]}]),
     "/tools/0/parameters/0/name", "carries the credential"),
    ("body on GET", with_tool(path="/c", parameters=[{"name": "a", "in": "body"}]),
     "/tools/0/parameters/0/in", "GET requests have no body"),
    ("body_encoding without body", with_tool(method="POST", body_encoding="form"),
     "/tools/0/body_encoding", "no in: body parameters"),
    ("unknown body_encoding",
     with_tool(method="POST", body_encoding="xml", parameters=[{"name": "id", "in": "path"}]),
     "/tools/0/body_encoding", "expected 'json', 'form' or 'multipart'"),
    ("contradicting annotations", with_tool(method="DELETE", annotations={"read_only": True}),
     "/tools/0/annotations", "derived from DELETE"),
    ("output schema dangling ref",
     with_tool(output_schema={"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}}),
     "/tools/0/output_schema/properties/a/$ref", "entry of this schema's $defs"),
    ("duplicate tool name",
     connector(tools=[connector()["tools"][0], connector()["tools"][0]]),
     "/tools/1/name", "duplicate tool name 'get_contact' (also /tools/0)"),
    ("duplicate final tool name",
     connector(tools=[connector()["tools"][0],
                      {**connector()["tools"][0], "name": "other",
                       "tool_name": "acme_get_contact"}]),
     "/tools/1/tool_name", "'acme_get_contact' is also the name of /tools/0"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("document", "where", "message"),
    [pytest.param(doc, where, message, id=case) for case, doc, where, message in MISTAKES],
)
def test_each_mistake_is_reported_where_it_is(
    document: dict[str, Any], where: str, message: str
) -> None:
    found = issues(document)
    assert any(p == where and message in m for p, m in found), found


def test_every_mistake_in_a_file_is_reported() -> None:
    data = connector(titel="Acme", auth={"type": "api_key", "in": "cookie", "name": "k"})
    tool = data["tools"][0]
    without_method = {k: v for k, v in tool.items() if k != "method"}
    data["tools"] = [
        {**without_method, "methd": "GET"},  # a broken tool still has its path checked
        {**tool, "name": "b", "path": "/b/{id}/{x}"},
        {**tool, "name": "c", "parameters": [{"name": "id", "in": "path", "typ": "string"}]},
        {**tool, "name": "d", "parameters": [*tool["parameters"], {"name": "q", "in": "body"}]},
    ]
    data["tools"][0]["path"] = "/a/{id}/{y}"
    assert [p for p, _ in issues(data)] == [
        "/auth/in",
        "/titel",
        "/tools/0/methd",
        "/tools/0/method",
        "/tools/0/path",
        "/tools/1/path",
        "/tools/2/parameters/0/typ",
        "/tools/3/parameters/1/in",
    ]


def test_a_broken_parameter_does_not_cause_false_path_issues() -> None:
    data = with_tool(parameters=[{"name": "id", "in": "path", "type": "uuid"}])
    assert [p for p, _ in issues(data)] == ["/tools/0/parameters/0/type"]


def test_issues_point_into_the_document_with_escaped_tokens() -> None:
    found = issues(connector(base_url="https://{a/b}.example", variables={"a/b": {}}))
    assert ("/variables/a~1b/pattern", "missing required field 'pattern'") in found


@pytest.mark.parametrize("name", sorted(p.name for p in BROKEN.glob("*.yaml")))
def test_broken_files_report_every_issue(name: str, snapshot: Any) -> None:
    data = read(BROKEN / name)
    load = wrapper_options if name.startswith("wrapper") else load_native_connector
    with pytest.raises(SpecError) as caught:
        load(data, name)
    assert str(caught.value) == snapshot


# --- OpenAPI wrappers -------------------------------------------------------------------


def test_wrapper_options() -> None:
    options, document = wrapper_options(
        {
            "name": "petstore",
            "title": "Petstore",
            "description": "Pets.",
            "openapi": "openapi/petstore.yaml",
            "base_url": "https://petstore.example/v1/",
            "include": [{"tag": "pets", "method": "get"}, {"operation_id": ["a", "b"]}],
            "exclude": [{"path": "/admin/*"}],
            "names": {"listPets": "petstore_list", "get /pets/{id}": "petstore_get"},
            "security": {"scheme": "apiKey", "prefix": "token "},
            "default_auth": "bearer",
            "self_hosted": True,
            "health_check": "petstore_list",
        },
        "petstore.yaml",
    )
    assert document == "openapi/petstore.yaml"
    assert options == OpenAPIOptions(
        name="petstore",
        title="Petstore",
        description="Pets.",
        base_url="https://petstore.example/v1",
        include=(RouteRule(tags=("pets",), methods=("GET",)), RouteRule(operation_ids=("a", "b"))),
        exclude=(RouteRule(paths=("/admin/*",)),),
        names={"listPets": "petstore_list", "GET /pets/{id}": "petstore_get"},
        security=SecurityMapping(scheme="apiKey", prefix="token "),
        default_auth="bearer",
        self_hosted=True,
        health_check="petstore_list",
    )


def test_wrapper_defaults() -> None:
    options, _ = wrapper_options({"name": "petstore", "openapi": "p.json"}, "petstore.yaml")
    assert options == OpenAPIOptions(name="petstore")


WRAPPER_MISTAKES: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown field", {"includes": []}, "/includes", "did you mean 'include'?"),
    ("missing openapi", {"openapi": None}, "/openapi", "expected a string"),
    ("version instead of path", {"openapi": "3.1.0"}, "/openapi", "not an OpenAPI version"),
    ("absolute path", {"openapi": "/srv/p.yaml"}, "/openapi", "relative path"),
    ("not a document", {"openapi": "p.txt"}, "/openapi", ".yaml, .yml or .json"),
    ("base_url", {"base_url": "petstore.example"}, "/base_url", "absolute http"),
    ("base_url placeholder", {"base_url": "https://{shop}.example"}, "/base_url",
     "placeholders"),
    ("empty rule", {"include": [{}]}, "/include/0", "at least one of"),
    ("rule typo", {"exclude": [{"tags": "x"}]}, "/exclude/0/tags", "did you mean 'tag'?"),
    ("rule method", {"include": [{"method": "FETCH"}]}, "/include/0/method/0", "got 'FETCH'"),
    ("rule path glob", {"include": [{"path": "pets/*"}]}, "/include/0/path", "starts with '/'"),
    ("names value", {"names": {"listPets": "List Pets"}}, "/names/listPets", "1 to 64"),
    ("names key", {"names": {"FETCH /pets": "petstore_x"}}, "/names/FETCH ~1pets",
     "'METHOD /path'"),
    ("names twice", {"names": {"a": "petstore_x", "b": "petstore_x"}}, "/names/b",
     "also given to 'a'"),
    ("default_auth", {"default_auth": "basic"}, "/default_auth", "expected 'none' or 'bearer'"),
    ("health_check", {"health_check": "Get Pet"}, "/health_check", "1 to 64"),
    ("security", {"security": {"prefix": "x"}}, "/security/scheme", "missing required field"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "where", "message"),
    [pytest.param(f, w, m, id=case) for case, f, w, m in WRAPPER_MISTAKES],
)
def test_each_wrapper_mistake_is_reported(fields: dict[str, Any], where: str, message: str) -> None:
    found = wrapper_issues({"name": "petstore", "openapi": "petstore.yaml", **fields})
    assert any(p == where and message in m for p, m in found), found


# --- the shipped connectors -------------------------------------------------------------


def test_slack_connector() -> None:
    c = load_native_connector(read(CONNECTORS / "slack.yaml"), "slack.yaml")
    assert c.base_url == "https://slack.com/api"
    assert c.auth.kind == "bearer" and c.auth.prefix == "Bearer "
    assert c.extra["response_ok"] == {"field": "ok", "error_field": "error"}
    assert c.health_check == "slack_auth_test"
    tools = {t.name: t for t in c.tools}
    assert set(tools) >= {
        "slack_send_message",
        "slack_list_channels",
        "slack_channel_history",
        "slack_list_users",
        "slack_get_user",
        "slack_add_reaction",
        "slack_auth_test",
    }
    send = tools["slack_send_message"]
    assert (send.method, send.path) == ("POST", "/chat.postMessage")
    assert send.body == ir.Body("json", "application/json", required=True)
    assert {"channel", "text", "thread_ts", "blocks", "unfurl_links"} <= {
        p.name for p in send.params
    }
    listing = tools["slack_list_channels"]
    assert {p.name for p in listing.params} == {"types", "limit", "cursor", "exclude_archived"}
    history = tools["slack_channel_history"]
    assert {"channel", "limit", "cursor", "oldest", "latest"} <= {p.name for p in history.params}
    assert tools["slack_auth_test"].annotations.read_only
    validator = Draft202012Validator(send.input_schema)
    assert validator.is_valid({"channel": "C001", "text": "hi", "blocks": [{"type": "divider"}]})
    assert not validator.is_valid({"text": "no channel"})
    assert not validator.is_valid({"channel": "C001", "txt": "typo"})


def test_shopify_connector() -> None:
    c = load_native_connector(read(CONNECTORS / "shopify.yaml"), "shopify.yaml")
    assert c.base_url == "https://{shop}.myshopify.com/admin/api/2024-10"
    assert c.auth == ir.AuthScheme(
        "api_key", location="header", param_name="X-Shopify-Access-Token"
    )
    pattern = c.extra["variables"]["shop"]["pattern"]
    assert Draft202012Validator({"pattern": pattern}).is_valid("acme-store")
    for hostile in ("evil.com/x#", "acme.evil", "", "a/b"):
        assert not Draft202012Validator({"type": "string", "pattern": pattern}).is_valid(hostile)
    assert c.health_check == "shopify_get_shop"
    tools = {t.name: t for t in c.tools}
    orders = tools["shopify_list_orders"]
    assert (orders.method, orders.path) == ("GET", "/orders.json")
    assert {
        "status",
        "limit",
        "since_id",
        "created_at_min",
        "created_at_max",
        "financial_status",
        "fulfillment_status",
        "fields",
    } <= {p.name for p in orders.params}
    assert tools["shopify_get_order"].path == "/orders/{order_id}.json"
    assert tools["shopify_get_customer"].path == "/customers/{customer_id}.json"
    assert [p.name for p in tools["shopify_search_customers"].params][0] == "query"
    create = tools["shopify_create_customer"]
    assert [(p.name, p.location, p.required) for p in create.params] == [("customer", "body", True)]
    assert {"shopify_list_customers", "shopify_list_products", "shopify_get_product"} <= set(tools)


def test_hubspot_connector_uses_oauth2() -> None:
    c = load_native_connector(read(CONNECTORS / "hubspot.yaml"), "hubspot.yaml")
    assert c.auth.kind == "oauth2"
    assert c.auth.token_url == "https://api.hubapi.com/oauth/v1/token"
    assert "crm.objects.contacts.read" in c.auth.scopes
    search = next(t for t in c.tools if t.name == "hubspot_search_contacts")
    assert search.annotations.read_only and search.method == "POST"


@pytest.mark.parametrize("name", ["slack.yaml", "shopify.yaml", "hubspot.yaml"])
def test_shipped_input_schemas_are_valid_json_schema(name: str) -> None:
    c = load_native_connector(read(CONNECTORS / name), name)
    for tool in c.tools:
        Draft202012Validator.check_schema(tool.input_schema)
        if tool.output_schema is not None:
            Draft202012Validator.check_schema(tool.output_schema)
        assert Draft202012Validator(tool.input_schema).is_valid(
            {p.arg: _example(p.schema) for p in tool.params if p.required}
        )


def _example(schema: dict[str, Any]) -> Any:
    """A value the schema accepts, for the types the shipped connectors use."""
    if "enum" in schema:
        return schema["enum"][0]
    return {"string": "x1", "integer": 1, "boolean": True, "array": [], "object": {}}[
        schema.get("type", "object")
    ]


@pytest.mark.parametrize(
    ("wrapper", "model"), [("github.yaml", OpenAPI31), ("stripe.yaml", OpenAPI30)]
)
def test_shipped_wrappers_match_their_documents(wrapper: str, model: type[Any]) -> None:
    options, doc = wrapper_options(read(CONNECTORS / wrapper), wrapper)
    document = read(CONNECTORS / doc)
    model.model_validate(document)  # a valid OpenAPI document of the declared version
    operations = {
        (method.upper(), path): op["operationId"]
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    ids = set(operations.values())
    for key in options.names:
        assert key in ids or tuple(key.split(" ", 1)) in operations, key
    for rule in (*options.include, *options.exclude):
        assert set(rule.operation_ids) <= ids
    assert options.health_check in options.names.values()
    assert options.security is not None
    assert options.security.scheme in document["components"]["securitySchemes"]
    assert options.base_url == document["servers"][0]["url"]


def test_the_shipped_directory_loads_without_issues() -> None:
    result = load_connectors(CONNECTORS)
    assert result.issues == []
    names = {c.name: c for c in result.connectors}
    assert set(names) == {"github", "hubspot", "shopify", "slack", "stripe"}
    github = {t.name for t in names["github"].tools}
    assert "github_get_authenticated_user" in github
    assert not any("delete" in n or "remove" in n for n in github)  # excluded by the wrapper
    assert names["stripe"].health_check == "stripe_retrieve_balance"
    assert "openapi/github-issues.yaml" in result.inputs


def test_the_documented_examples_are_valid() -> None:
    text = (ROOT / "docs" / "connector-format.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:]]
    documents = [yaml.safe_load(b) for b in blocks]
    native = [d for d in documents if "tools" in d]
    wrappers = [d for d in documents if "openapi" in d]
    assert len(native) == 2 and len(wrappers) == 1
    first = load_native_connector(native[0], "acme.yaml")
    assert first.tools[0].input_schema == {
        "type": "object",
        "properties": {"contact_id": {"type": "integer"}},
        "required": ["contact_id"],
        "additionalProperties": False,
    }
    full = load_native_connector(native[1], "acme.yaml")
    args = {t.name: [p.arg for p in t.params] for t in full.tools}
    assert args == {
        "acme_list_contacts": ["fields", "limit", "cursor", "x_acme_trace"],
        "acme_add_note": ["contact_id", "body", "pinned", "labels"],
        "acme_whoami": [],
    }
    assert full.health_check == "acme_whoami"
    options, _ = wrapper_options(wrappers[0], "github.yaml")
    assert options.health_check == "github_get_authenticated_user"
