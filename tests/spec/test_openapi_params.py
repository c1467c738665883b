"""Parameters and request bodies: flattening, collisions, encodings, credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastn_gen.spec.ir import Body

from .oas_docs import doc3, json_body, load, tool


def _one(tmp_path: Path, operation: dict[str, Any], path: str = "/things/{id}", **kw: Any) -> Any:
    operation = {"operationId": "op", "responses": {}} | operation
    doc = doc3({path: {"post": operation}}, **kw.pop("doc", {}))
    return tool(load(tmp_path, doc, **kw), "acme_op")


ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def test_collisions_get_location_suffixes(tmp_path: Path) -> None:
    t = _one(
        tmp_path,
        {
            "parameters": [ID, {"name": "mode", "in": "query"}, {"name": "mode", "in": "header"}],
            "requestBody": json_body(
                {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "integer"}, "label": {"type": "string"}},
                }
            ),
        },
    )
    assert [(p.arg, p.name, p.location, p.required) for p in t.params] == [
        ("id__path", "id", "path", True),
        ("mode__query", "mode", "query", False),
        ("mode__header", "mode", "header", False),
        ("id__body", "id", "body", True),
        ("label", "label", "body", False),
    ]
    assert t.input_schema["required"] == ["id__path", "id__body"]
    assert t.input_schema["properties"]["id__body"] == {"type": "integer"}
    assert t.input_schema["properties"]["mode__query"] == {"type": "string"}


def test_path_level_parameters_are_merged_and_overridden(tmp_path: Path) -> None:
    doc = doc3(
        {
            "/things/{id}": {
                "parameters": [
                    ID,
                    {"name": "v", "in": "query", "description": "path level"},
                ],
                "get": {
                    "operationId": "op",
                    "parameters": [
                        {"name": "v", "in": "query", "description": "operation level"},
                        {"name": "w", "in": "cookie", "schema": {"type": "integer"}},
                    ],
                    "responses": {},
                },
            }
        }
    )
    t = tool(load(tmp_path, doc), "acme_op")
    assert [(p.arg, p.location, p.description) for p in t.params] == [
        ("id", "path", None),
        ("v", "query", "operation level"),
        ("w", "cookie", None),
    ]


def test_undeclared_placeholder_is_a_required_string(tmp_path: Path) -> None:
    doc = doc3({"/a/{x}/b/{y}": {"get": {"operationId": "op", "responses": {}}}})
    t = tool(load(tmp_path, doc), "acme_op")
    assert [(p.arg, p.location, p.required) for p in t.params] == [
        ("x", "path", True),
        ("y", "path", True),
    ]


def test_form_body_with_encoding_styles(tmp_path: Path) -> None:
    body = {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "amount": {"type": "integer", "description": "In cents."},
                        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                        "id": {"type": "string", "readOnly": True},
                    },
                },
                "encoding": {"metadata": {"style": "deepObject", "explode": True}},
            }
        }
    }
    t = _one(tmp_path, {"parameters": [ID], "requestBody": body})
    assert t.body == Body("form", "application/x-www-form-urlencoded", False)
    assert [(p.arg, p.style, p.explode, p.description) for p in t.params] == [
        ("id", None, None, None),
        ("amount", None, None, "In cents."),
        ("metadata", "deepObject", True, None),
    ]
    assert t.input_schema["properties"]["amount"] == {"type": "integer", "description": "In cents."}


def test_form_array_fields_get_the_default_or_declared_style(tmp_path: Path) -> None:
    """OpenAPI 3: a form field's default encoding is style form, exploded (Twilio's
    ``StatusCallbackEvent=a&StatusCallbackEvent=b``); Swagger 2.0 formData arrays follow
    ``collectionFormat`` (csv by default)."""
    strings = {"type": "array", "items": {"type": "string"}}
    body = {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "events": strings,
                        "codes": {"$ref": "#/components/schemas/Codes"},
                        "expand": strings,
                        "labels": strings,
                        "name": {"type": "string"},
                    },
                },
                "encoding": {
                    "expand": {"style": "deepObject", "explode": True},
                    "labels": {"explode": False},
                },
            }
        }
    }
    components = {"components": {"schemas": {"Codes": strings}}}
    t = _one(tmp_path, {"parameters": [ID], "requestBody": body}, doc=components)
    assert [(p.arg, p.style, p.explode) for p in t.params if p.location == "body"] == [
        ("events", "form", True),
        ("codes", "form", True),
        ("expand", "deepObject", True),
        ("labels", "form", False),
        ("name", None, None),
    ]

    fields = [
        {"name": "csv", "in": "formData", "type": "array", "items": {"type": "string"}},
        {"name": "multi", "in": "formData", "type": "array", "collectionFormat": "multi"},
        {"name": "pipes", "in": "formData", "type": "array", "collectionFormat": "pipes"},
        {"name": "note", "in": "formData", "type": "string"},
    ]
    swagger = {
        "swagger": "2.0",
        "info": {"title": "Acme", "version": "1"},
        "host": "api.acme.example",
        "consumes": ["application/x-www-form-urlencoded"],
        "paths": {"/things": {"post": {"operationId": "op", "parameters": fields}}},
    }
    t = tool(load(tmp_path, swagger, name="swagger.json"), "acme_op")
    assert [(p.arg, p.style, p.explode) for p in t.params] == [
        ("csv", "form", False),
        ("multi", "form", True),
        ("pipes", "pipeDelimited", False),
        ("note", None, None),
    ]


def test_multipart_body(tmp_path: Path) -> None:
    body = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "purpose": {"type": "string", "enum": ["a", "b"]},
                    },
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
    t = _one(tmp_path, {"requestBody": body}, path="/files")
    assert t.body == Body("multipart", "multipart/form-data", True)
    assert [(p.arg, p.location, p.required) for p in t.params] == [
        ("file", "body", True),
        ("purpose", "body", False),
    ]


def test_json_preferred_and_all_of_merged(tmp_path: Path) -> None:
    components = {
        "schemas": {
            "Base": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}},
            }
        }
    }
    body = {
        "content": {
            "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
            "application/json; charset=utf-8": {
                "schema": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Base"},
                        {"type": "object", "properties": {"size": {"type": "integer"}}},
                    ]
                }
            },
        }
    }
    t = _one(tmp_path, {"requestBody": body}, path="/x", doc={"components": components})
    assert t.body == Body("json", "application/json; charset=utf-8", False)
    assert [(p.arg, p.required) for p in t.params] == [("name", True), ("size", False)]
    assert "$defs" not in t.input_schema


def test_non_object_bodies_are_one_argument(tmp_path: Path) -> None:
    array = _one(
        tmp_path,
        {"requestBody": json_body({"type": "array", "items": {"type": "string"}})},
        path="/x",
    )
    assert array.body == Body("json", "application/json", True, whole_arg="body")
    assert array.input_schema["properties"]["body"] == {
        "type": "array",
        "items": {"type": "string"},
    }
    assert array.input_schema["required"] == ["body"]

    union = _one(
        tmp_path,
        {
            "parameters": [{"name": "body", "in": "query"}],
            "requestBody": json_body({"oneOf": [{"type": "string"}, {"type": "integer"}]}, False),
        },
        path="/x",
    )
    assert [p.arg for p in union.params] == ["body__query", "body__body"]
    assert union.body is not None and union.body.whole_arg == "body__body"

    free = _one(tmp_path, {"requestBody": json_body({"type": "object"})}, path="/x")
    assert free.body is not None and free.body.whole_arg == "body"


def test_raw_bodies(tmp_path: Path) -> None:
    binary = {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    }
    t = _one(tmp_path, {"requestBody": binary}, path="/upload")
    assert t.body == Body("raw", "application/octet-stream", False, whole_arg="body")
    assert t.input_schema["properties"]["body"] == {"type": "string", "format": "binary"}

    text = {"description": "Markdown.", "content": {"text/plain": {}, "text/x-markdown": {}}}
    t = _one(tmp_path, {"requestBody": text}, path="/render")
    assert t.body == Body("raw", "text/plain", False, whole_arg="body")
    assert t.input_schema["properties"]["body"] == {
        "type": "string",
        "contentMediaType": "text/plain",
        "description": "Markdown.",
    }


def test_empty_object_body_sends_nothing(tmp_path: Path) -> None:
    empty = {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {}, "additionalProperties": False}
            }
        }
    }
    t = _one(tmp_path, {"requestBody": empty}, path="/x")
    assert t.body is None and t.params == ()


def test_credential_and_negotiation_headers_are_not_arguments(tmp_path: Path) -> None:
    schemes = {"key": {"type": "apiKey", "in": "query", "name": "api_key"}}
    t = _one(
        tmp_path,
        {
            "parameters": [
                {"name": "Authorization", "in": "header"},
                {"name": "Accept", "in": "header"},
                {"name": "content-type", "in": "header"},
                {"name": "api_key", "in": "query"},
                {"name": "From", "in": "header"},
            ]
        },
        path="/x",
        doc={"components": {"securitySchemes": schemes}, "security": [{"key": []}]},
    )
    assert [p.arg for p in t.params] == ["From"]


SLACK = {
    "swagger": "2.0",
    "info": {"title": "Slack", "version": "1"},
    "host": "slack.com",
    "basePath": "/api",
    "securityDefinitions": {
        "slackAuth": {
            "type": "oauth2",
            "flow": "accessCode",
            "authorizationUrl": "https://slack.com/oauth/authorize",
            "tokenUrl": "https://slack.com/api/oauth.access",
            "scopes": {"chat:write": "write", "admin": "admin"},
        }
    },
    "paths": {
        "/chat.postMessage": {
            "post": {
                "operationId": "chat_postMessage",
                "consumes": ["application/x-www-form-urlencoded", "application/json"],
                "security": [{"slackAuth": ["chat:write"]}],
                "parameters": [
                    {
                        "name": "token",
                        "in": "header",
                        "required": True,
                        "type": "string",
                        "description": "Authentication token. Requires scope: `chat:write`",
                    },
                    {"name": "channel", "in": "formData", "required": True, "type": "string"},
                    {
                        "name": "token",
                        "in": "formData",
                        "type": "string",
                        "description": "Authentication token.",
                    },
                ],
                "responses": {"200": {"description": "ok", "schema": {"type": "object"}}},
            }
        },
        "/oauth.access": {
            "get": {
                "operationId": "oauth_access",
                "security": [],
                "parameters": [
                    {"name": "code", "in": "query", "type": "string"},
                    {"name": "token", "in": "query", "type": "string", "description": "A token."},
                ],
                "responses": {"200": {"description": "ok", "schema": {"type": "object"}}},
            }
        },
    },
}


def test_slack_token_parameters(tmp_path: Path) -> None:
    c = load(tmp_path, SLACK, name="slack.json")
    assert c.base_url == "https://slack.com/api"
    assert c.auth.kind == "oauth2"
    assert c.auth.token_url == "https://slack.com/api/oauth.access"
    assert c.auth.scopes == ("admin", "chat:write")
    post = tool(c, "acme_chat_post_message")
    assert [p.arg for p in post.params] == ["channel"]
    assert post.body == Body("form", "application/x-www-form-urlencoded", True)
    assert post.requires_auth
    access = tool(c, "acme_oauth_access")
    # Not secured and not described as the credential: a token argument stays.
    assert [p.arg for p in access.params] == ["code", "token"]
    assert not access.requires_auth
