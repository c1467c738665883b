"""Document versions and formats, base URLs, and documents that cannot be used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fastn_gen.spec.errors import SpecError
from fastn_gen.spec.ir import Annotations, Body
from fastn_gen.spec.options import SecurityMapping

from .oas_docs import doc3, json_body, load, ok, tool

PETS_30 = doc3(
    {
        "/pets/{petId}": {
            "parameters": [
                {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "get": {
                "operationId": "getPet",
                "summary": "Get a pet",
                "description": "Returns one pet.",
                "tags": ["pets"],
                "parameters": [
                    {"name": "fields", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": ok({"$ref": "#/components/schemas/Pet"}),
            },
            "delete": {"operationId": "deletePet", "responses": {"204": {"description": "gone"}}},
        }
    },
    components={
        "schemas": {
            "Pet": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            }
        }
    },
)


def test_openapi_30_json(tmp_path: Path) -> None:
    c = load(tmp_path, PETS_30)
    assert c.name == "acme" and c.title == "Acme API" and c.description == "The Acme API."
    assert c.base_url == "https://api.acme.example/v1"
    assert c.source == "doc.json" and c.auth.kind == "none"
    assert [t.name for t in c.tools] == ["acme_delete_pet", "acme_get_pet"]
    get = tool(c, "acme_get_pet")
    assert (get.method, get.path, get.operation_id) == ("GET", "/pets/{petId}", "getPet")
    assert get.title == "Get a pet" and get.description == "Returns one pet."
    assert get.tags == ("pets",) and get.pointer == "/paths/~1pets~1{petId}/get"
    assert get.annotations == Annotations.from_method("GET")
    assert not get.requires_auth  # the connector has no credential to require
    assert [(p.arg, p.location, p.required) for p in get.params] == [
        ("petId", "path", True),
        ("fields", "query", False),
    ]
    assert get.input_schema == {
        "type": "object",
        "properties": {"petId": {"type": "integer"}, "fields": {"type": "string"}},
        "required": ["petId"],
        "additionalProperties": False,
    }
    assert get.output_schema == {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    }
    assert tool(c, "acme_delete_pet").output_schema is None


def test_openapi_31_yaml_with_integer_codes_and_dates(tmp_path: Path) -> None:
    text = """
openapi: 3.1.0
info: {title: Dates, version: '1'}
servers: [{url: 'https://dates.example'}]
paths:
  /events:
    get:
      operationId: listEvents
      parameters:
        - name: since
          in: query
          schema: {type: [string, 'null'], format: date, default: 2024-01-31}
      responses:
        200:
          description: OK
          content:
            application/json:
              schema:
                type: object
                properties:
                  on: {type: boolean}
                  count: {type: integer, exclusiveMinimum: 0}
"""
    c = load(tmp_path, text, name="doc.yaml")
    t = tool(c, "acme_list_events")
    assert t.input_schema["properties"]["since"] == {
        "type": ["string", "null"],
        "format": "date",
        "default": "2024-01-31",
    }
    assert t.output_schema is not None
    assert t.output_schema["properties"] == {
        "on": {"type": "boolean"},
        "count": {"type": "integer", "exclusiveMinimum": 0},
    }


SWAGGER = {
    "swagger": "2.0",
    "info": {"title": "Old", "version": "1"},
    "host": "old.example",
    "basePath": "/api/",
    "schemes": ["http", "https"],
    "consumes": ["application/json"],
    "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}},
    "security": [{"key": []}],
    "definitions": {
        "Item": {"type": "object", "properties": {"sku": {"type": "string"}}},
    },
    "paths": {
        "/items": {
            "get": {
                "operationId": "listItems",
                "parameters": [
                    {
                        "name": "ids",
                        "in": "query",
                        "type": "array",
                        "items": {"type": "integer"},
                        "collectionFormat": "multi",
                    },
                    {"name": "X-Key", "in": "header", "type": "string"},
                ],
                "responses": {
                    "200": {
                        "description": "OK",
                        "schema": {"type": "array", "items": {"$ref": "#/definitions/Item"}},
                    }
                },
            },
            "post": {
                "operationId": "createItem",
                "parameters": [
                    {
                        "name": "payload",
                        "in": "body",
                        "required": True,
                        "schema": {
                            "type": "object",
                            "required": ["sku"],
                            "properties": {
                                "sku": {"type": "string"},
                                "parent": {"$ref": "#/definitions/Item"},
                            },
                        },
                    }
                ],
                "responses": {
                    "201": {"description": "made", "schema": {"$ref": "#/definitions/Item"}}
                },
            },
        },
        "/items/{sku}/note": {
            "post": {
                "operationId": "noteItem",
                "consumes": ["application/x-www-form-urlencoded"],
                "parameters": [
                    {"name": "sku", "in": "path", "required": True, "type": "string"},
                    {"name": "text", "in": "formData", "required": True, "type": "string"},
                ],
                "responses": {"204": {"description": "done"}},
            }
        },
        "/items/{sku}/photo": {
            "put": {
                "operationId": "putPhoto",
                "parameters": [
                    {"name": "sku", "in": "path", "required": True, "type": "string"},
                    {"name": "photo", "in": "formData", "type": "file"},
                    {"name": "caption", "in": "formData", "type": "string"},
                ],
                "responses": {"204": {"description": "done"}},
            }
        },
    },
}


@pytest.mark.parametrize("name", ["doc.json", "doc.yaml"])
def test_swagger_20(tmp_path: Path, name: str) -> None:
    # In YAML the response code is an unquoted integer key, as vendors write it.
    text = json.dumps(SWAGGER) if name == "doc.json" else yaml.safe_dump(SWAGGER, sort_keys=False)
    c = load(tmp_path, text.replace("'200':", "200:"), name=name)
    assert c.base_url == "https://old.example/api"
    assert (c.auth.kind, c.auth.location, c.auth.param_name) == ("api_key", "header", "X-Key")

    listing = tool(c, "acme_list_items")
    # The credential header is not an argument; collectionFormat multi is form/explode.
    assert [(p.arg, p.style, p.explode) for p in listing.params] == [("ids", "form", True)]
    assert listing.output_schema == {
        "type": "object",
        "properties": {"result": {"type": "array", "items": {"$ref": "#/$defs/Item"}}},
        "required": ["result"],
        "$defs": {"Item": {"type": "object", "properties": {"sku": {"type": "string"}}}},
    }
    assert "acme_list_items" in c.extra["wrapped_outputs"]

    create = tool(c, "acme_create_item")
    assert create.body == Body("json", "application/json", True)
    assert [(p.arg, p.location, p.required) for p in create.params] == [
        ("sku", "body", True),
        ("parent", "body", False),
    ]
    assert create.input_schema["$defs"] == {
        "Item": {"type": "object", "properties": {"sku": {"type": "string"}}}
    }

    note = tool(c, "acme_note_item")
    assert note.body == Body("form", "application/x-www-form-urlencoded", True)
    assert [(p.arg, p.location) for p in note.params] == [("sku", "path"), ("text", "body")]

    photo = tool(c, "acme_put_photo")
    assert photo.body == Body("multipart", "multipart/form-data", False)
    assert photo.input_schema["properties"]["photo"] == {"type": "string", "format": "binary"}


def test_swagger_host_and_schemes_default(tmp_path: Path) -> None:
    doc = {"swagger": "2.0", "info": {"title": "x", "version": "1"}, "host": "h.example"}
    doc["paths"] = {}
    assert load(tmp_path, doc).base_url == "https://h.example"


def test_server_variables(tmp_path: Path) -> None:
    doc = doc3({})
    doc["servers"] = [
        {
            "url": "https://{region}.acme.example/{tenant}/v1/",
            "variables": {"region": {"default": "eu"}, "tenant": {"enum": ["a", "b"]}},
        }
    ]
    c = load(tmp_path, doc)
    assert c.base_url == "https://eu.acme.example/{tenant}/v1"
    assert c.extra["variables"] == {"tenant": {"pattern": "a|b"}}


def test_relative_server_needs_base_url(tmp_path: Path) -> None:
    doc = doc3({})
    doc["servers"] = [{"url": "/v2"}]
    with pytest.raises(SpecError) as err:
        load(tmp_path, doc)
    assert [(i.file, i.pointer) for i in err.value.issues] == [("doc.json", "/servers/0/url")]
    assert "relative" in err.value.issues[0].message
    assert load(tmp_path, doc, base_url="https://x.example/v2/").base_url == "https://x.example/v2"


def test_missing_servers_is_an_issue(tmp_path: Path) -> None:
    doc = doc3({})
    del doc["servers"]
    with pytest.raises(SpecError) as err:
        load(tmp_path, doc)
    assert err.value.issues[0].pointer == "/servers"


@pytest.mark.parametrize(
    ("text", "name", "pointer", "message"),
    [
        ('{"openapi": "3.0.0",', "doc.json", "", "invalid JSON"),
        ("openapi: [3.0", "doc.yaml", "", "invalid YAML"),
        ("[1, 2]", "doc.yaml", "", "expected an object at the top level"),
        ("", "doc.yaml", "", "expected an object at the top level, got empty"),
        ('{"info": {}, "paths": {}}', "doc.json", "", "no `openapi` or `swagger`"),
        ('{"openapi": "4.0.0", "paths": {}}', "doc.json", "/openapi", "unsupported OpenAPI"),
        ('{"swagger": "1.2", "paths": {}}', "doc.json", "/swagger", "unsupported Swagger"),
        ('{"openapi": "3.0.0", "paths": []}', "doc.json", "/paths", "must be an object"),
        ('{"openapi": "3.0.0"}', "doc.json", "/paths", "no paths"),
    ],
)
def test_unusable_documents(
    tmp_path: Path, text: str, name: str, pointer: str, message: str
) -> None:
    with pytest.raises(SpecError) as err:
        load(tmp_path, text, name=name)
    [issue] = err.value.issues
    assert (issue.file, issue.pointer) == (name, pointer)
    assert message in issue.message


def test_every_document_issue_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        load(tmp_path, '{"openapi": "9", "paths": "none"}')
    assert [i.pointer for i in err.value.issues] == ["/openapi", "/paths"]

    doc = doc3({"/a": {"get": {"operationId": "a", "responses": {}}}})
    doc["servers"] = [{"url": "relative/"}]
    doc["info"] = {"title": 7, "version": "1"}
    with pytest.raises(SpecError) as err:
        load(tmp_path, doc, names={"a": "Not Valid"}, security=SecurityMapping("missing"))
    pointers = [i.pointer for i in err.value.issues]
    assert pointers == ["/components/securitySchemes", "/info/title", "/names/a", "/servers/0/url"]
    assert all(i.file == "doc.json" for i in err.value.issues)


def test_body_and_output_for_json_body(tmp_path: Path) -> None:
    doc = doc3(
        {
            "/notes": {
                "post": {
                    "requestBody": json_body({"type": "object", "properties": {"t": {}}}),
                    "responses": {
                        "default": {
                            "description": "error",
                            "content": {"application/json": {"schema": {"type": "string"}}},
                        },
                        **ok({"type": "object", "properties": {"id": {"type": "string"}}}, "201"),
                    },
                }
            }
        }
    )
    t = tool(load(tmp_path, doc), "acme_post_notes")
    assert t.output_schema == {"type": "object", "properties": {"id": {"type": "string"}}}


def test_no_output_schema_from_responses_without_content(tmp_path: Path) -> None:
    """A 204 (or 205) answer has no body, whatever schema the document puts under it
    (SendGrid's DELETEs); an output schema from it would make clients that check
    results refuse every successful call."""
    empty = {"type": "object", "properties": {}}
    doc = doc3(
        {
            "/alerts/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True}],
                "delete": {"operationId": "deleteAlert", "responses": ok(empty, "204")},
                "put": {
                    "operationId": "resetAlert",
                    "responses": {**ok(empty, "205"), **ok({"type": "string"}, "202")},
                },
            }
        }
    )
    c = load(tmp_path, doc)
    assert tool(c, "acme_delete_alert").output_schema is None
    assert tool(c, "acme_reset_alert").output_schema == {
        "type": "object",
        "properties": {"result": {"type": "string"}},
        "required": ["result"],
    }
