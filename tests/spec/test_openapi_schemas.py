"""References, per-tool ``$defs`` and the dialect repairs of the schema converter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fastn_gen.spec import oas_tool

from .oas_docs import doc3, json_body, load, ok, tool

COMPONENTS = {
    "schemas": {
        "Node": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                "owner": {"$ref": "#/components/schemas/Person"},
            },
        },
        "Person": {
            "type": "object",
            "properties": {"manager": {"$ref": "#/components/schemas/Person"}},
        },
        "Unrelated": {"type": "object", "properties": {"x": {"type": "integer"}}},
        "issuing.card": {"type": "object", "properties": {"last4": {"type": "string"}}},
        "Tag": {"type": "string", "maxLength": 20},
    }
}


def _doc(paths: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return doc3(paths, components=COMPONENTS, **extra)


def test_recursive_schemas_stay_references_and_defs_are_pruned(tmp_path: Path) -> None:
    doc = _doc(
        {
            "/nodes": {
                "get": {
                    "operationId": "listNodes",
                    "parameters": [
                        {
                            "name": "tag",
                            "in": "query",
                            "schema": {"$ref": "#/components/schemas/Tag"},
                        }
                    ],
                    "responses": ok({"$ref": "#/components/schemas/Node"}),
                }
            },
            "/cards": {
                "get": {
                    "operationId": "getCard",
                    "responses": ok({"$ref": "#/components/schemas/issuing.card"}),
                }
            },
        }
    )
    c = load(tmp_path, doc)
    nodes = tool(c, "acme_list_nodes")
    assert nodes.input_schema["properties"]["tag"] == {"$ref": "#/$defs/Tag"}
    assert nodes.input_schema["$defs"] == {"Tag": {"type": "string", "maxLength": 20}}
    out = nodes.output_schema
    assert out is not None
    # The root is the Node schema itself; Node, reached again through children, is a def.
    assert out["properties"]["children"] == {"type": "array", "items": {"$ref": "#/$defs/Node"}}
    assert sorted(out["$defs"]) == ["Node", "Person"]
    assert out["$defs"]["Person"]["properties"]["manager"] == {"$ref": "#/$defs/Person"}
    assert "Unrelated" not in json.dumps(out)

    card = tool(c, "acme_get_card")
    assert card.output_schema == {"type": "object", "properties": {"last4": {"type": "string"}}}


def test_def_names_are_sanitised_consistently(tmp_path: Path) -> None:
    doc = _doc(
        {
            "/cards": {
                "get": {
                    "operationId": "listCards",
                    "responses": ok(
                        {"type": "array", "items": {"$ref": "#/components/schemas/issuing.card"}}
                    ),
                }
            }
        }
    )
    out = tool(load(tmp_path, doc), "acme_list_cards").output_schema
    assert out is not None
    assert out["properties"]["result"]["items"] == {"$ref": "#/$defs/issuing_card"}
    assert list(out["$defs"]) == ["issuing_card"]


def test_references_into_paths(tmp_path: Path) -> None:
    inner = {"type": "object", "properties": {"id": {"type": "string"}}}
    doc = _doc(
        {
            "/a": {
                "get": {
                    "operationId": "getA",
                    "responses": ok({"type": "object", "properties": {"inner": inner}}),
                }
            },
            "/b": {
                "post": {
                    "operationId": "postB",
                    "requestBody": json_body(
                        {
                            "type": "object",
                            "properties": {
                                "a": {
                                    "$ref": "#/paths/~1a/get/responses/200/content/"
                                    "application~1json/schema/properties/inner"
                                }
                            },
                        }
                    ),
                    "responses": {"204": {"description": "ok"}},
                }
            },
        }
    )
    b = tool(load(tmp_path, doc), "acme_post_b")
    [name] = b.input_schema["$defs"]
    assert b.input_schema["properties"]["a"] == {"$ref": f"#/$defs/{name}"}
    assert b.input_schema["$defs"][name] == inner


def test_external_and_broken_references_skip_only_their_operation(tmp_path: Path) -> None:
    doc = _doc(
        {
            "/ext": {
                "post": {
                    "operationId": "external",
                    "requestBody": json_body({"$ref": "other.yaml#/Thing"}),
                    "responses": {},
                }
            },
            "/broken": {
                "get": {
                    "operationId": "broken",
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "schema": {"$ref": "#/components/schemas/Nope"},
                        }
                    ],
                    "responses": {},
                }
            },
            "/fine": {"get": {"operationId": "fine", "responses": {}}},
        }
    )
    c = load(tmp_path, doc)
    assert [t.name for t in c.tools] == ["acme_fine"]
    skips = {s.operation: s for s in c.skipped}
    assert "external reference 'other.yaml#/Thing'" in skips["external"].reason
    assert (
        skips["external"].pointer
        == "/paths/~1ext/post/requestBody/content/application~1json/schema"
    )
    assert "#/components/schemas/Nope does not resolve" in skips["broken"].reason


def test_output_reference_problems_keep_the_tool(tmp_path: Path) -> None:
    doc = _doc(
        {
            "/x": {
                "get": {
                    "operationId": "getX",
                    "responses": ok({"$ref": "https://example.com/x.json"}),
                }
            }
        }
    )
    c = load(tmp_path, doc)
    t = tool(c, "acme_get_x")
    assert t.output_schema is None
    assert "external reference" in c.extra["output_notes"]["acme_get_x"]


def _param_schema(tmp_path: Path, schema: dict[str, Any], version: str = "3.0.3") -> Any:
    doc = doc3(
        {
            "/p": {
                "get": {
                    "operationId": "p",
                    "parameters": [{"name": "v", "in": "query", "schema": schema}],
                    "responses": {},
                }
            }
        },
        version=version,
        components=COMPONENTS,
    )
    t = tool(load(tmp_path, doc), "acme_p")
    return t.input_schema["properties"]["v"]


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string", "nullable": True}, {"type": ["string", "null"]}),
        (
            {"type": "string", "enum": ["a", "b"], "nullable": True},
            {"type": ["string", "null"], "enum": ["a", "b", None]},
        ),
        (
            {"allOf": [{"$ref": "#/components/schemas/Tag"}], "nullable": True, "description": "d"},
            {"anyOf": [{"allOf": [{"$ref": "#/$defs/Tag"}]}, {"type": "null"}], "description": "d"},
        ),
        ({"nullable": True, "description": "anything"}, {"description": "anything"}),
        (
            {"type": "integer", "minimum": 0, "exclusiveMinimum": True, "maximum": 9},
            {"type": "integer", "exclusiveMinimum": 0, "maximum": 9},
        ),
        (
            {"type": "number", "maximum": 5, "exclusiveMaximum": False},
            {"type": "number", "maximum": 5},
        ),
        (
            {
                "type": "string",
                "example": "abc",
                "xml": {"name": "v"},
                "externalDocs": {"url": "https://x"},
                "x-internal": True,
                "pattern": "(unclosed",
                "minLength": -1,
                "maxLength": 3.0,
                "required": True,
            },
            {"type": "string", "maxLength": 3, "examples": ["abc"]},
        ),
        (
            {
                "type": "object",
                "discriminator": {"propertyName": "kind"},
                "required": ["kind", "kind", 3],
                "properties": {"kind": {"type": "String"}},
            },
            {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}},
        ),
    ],
)
def test_dialect_repairs(tmp_path: Path, schema: dict[str, Any], expected: Any) -> None:
    assert _param_schema(tmp_path, schema) == expected


def test_openai_style_boolean_exclusive_in_31(tmp_path: Path) -> None:
    schema = {"type": "number", "minimum": 0, "exclusiveMinimum": True}
    assert _param_schema(tmp_path, schema, version="3.1.0") == {
        "type": "number",
        "exclusiveMinimum": 0,
    }


def test_slack_tuple_items(tmp_path: Path) -> None:
    doc = {
        "swagger": "2.0",
        "info": {"title": "Slack", "version": "1"},
        "host": "slack.example",
        "definitions": {
            "message": {"type": "object", "properties": {"text": {"type": "string"}}},
        },
        "paths": {
            "/history": {
                "get": {
                    "operationId": "history",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "latest": {
                                        "items": [
                                            {"$ref": "#/definitions/message"},
                                            {"type": "null"},
                                        ]
                                    },
                                    "ids": {
                                        "type": "array",
                                        "items": [{"type": "string"}, {"type": "integer"}],
                                    },
                                },
                            },
                        }
                    },
                }
            }
        },
    }
    out = tool(load(tmp_path, doc), "acme_history").output_schema
    assert out is not None
    assert out["properties"]["latest"] == {"anyOf": [{"$ref": "#/$defs/message"}, {"type": "null"}]}
    assert out["properties"]["ids"] == {
        "type": "array",
        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    }


def test_examples_kept_for_inputs_dropped_for_outputs(tmp_path: Path) -> None:
    shared = {"type": "object", "properties": {"n": {"type": "integer", "example": 3}}}
    doc = doc3(
        {
            "/e": {
                "post": {
                    "operationId": "e",
                    "requestBody": json_body(
                        {"type": "object", "properties": {"s": {"$ref": "#/components/schemas/S"}}}
                    ),
                    "responses": ok({"$ref": "#/components/schemas/S"}),
                }
            }
        },
        components={"schemas": {"S": shared}},
    )
    t = tool(load(tmp_path, doc), "acme_e")
    assert t.input_schema["$defs"]["S"]["properties"]["n"] == {"type": "integer", "examples": [3]}
    assert t.output_schema == {"type": "object", "properties": {"n": {"type": "integer"}}}


def test_output_preference_and_wrapping(tmp_path: Path) -> None:
    responses = {
        "default": {
            "description": "e",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        "202": {
            "description": "a",
            "content": {"application/json": {"schema": {"type": "integer"}}},
        },
        "201": {
            "description": "c",
            "content": {"application/json": {"schema": {"type": "string"}}},
        },
    }
    doc = doc3({"/o": {"post": {"operationId": "o", "responses": responses}}})
    c = load(tmp_path, doc)
    assert tool(c, "acme_o").output_schema == {
        "type": "object",
        "properties": {"result": {"type": "string"}},
        "required": ["result"],
    }
    assert c.extra["wrapped_outputs"] == ["acme_o"]


def test_large_outputs_are_cut_level_by_level(tmp_path: Path, monkeypatch: Any) -> None:
    text = "x" * 400
    schemas = {
        "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
        "B": {
            "type": "object",
            "description": text,
            "properties": {"c": {"$ref": "#/components/schemas/C"}},
        },
        "C": {"type": "object", "description": text, "properties": {"z": {"type": "string"}}},
    }
    doc = doc3(
        {"/a": {"get": {"operationId": "a", "responses": ok({"$ref": "#/components/schemas/A"})}}},
        components={"schemas": schemas},
    )
    monkeypatch.setattr(oas_tool, "OUTPUT_DEFS_BUDGET", 600)
    out = tool(load(tmp_path, doc), "acme_a").output_schema
    assert out is not None
    # B fits the budget, C does not: B keeps its own fields but C is "anything".
    assert out["$defs"] == {
        "B": {"type": "object", "description": text, "properties": {"c": {}}},
    }
    monkeypatch.setattr(oas_tool, "OUTPUT_DEFS_BUDGET", 100)
    out = tool(load(tmp_path, doc), "acme_a").output_schema
    assert out == {"type": "object", "properties": {"b": {}}}


def test_input_defs_are_transitive_and_only_what_is_reached(tmp_path: Path) -> None:
    doc = _doc(
        {
            "/nodes": {
                "post": {
                    "operationId": "addNode",
                    "requestBody": json_body(
                        {
                            "type": "object",
                            "properties": {
                                "parent": {"$ref": "#/components/schemas/Node"},
                                "tag": {"$ref": "#/components/schemas/Tag"},
                            },
                        }
                    ),
                    "responses": {},
                }
            }
        }
    )
    t = tool(load(tmp_path, doc), "acme_add_node")
    assert t.input_schema["properties"]["parent"] == {"$ref": "#/$defs/Node"}
    assert list(t.input_schema["$defs"]) == ["Node", "Person", "Tag"]
    assert t.input_schema["$defs"]["Node"]["properties"]["owner"] == {"$ref": "#/$defs/Person"}


@pytest.mark.parametrize(
    ("schema", "expected", "wrapped"),
    [
        # Always an object: kept, with the root typed "object" as MCP requires.
        (
            {"allOf": [{"$ref": "#/components/schemas/Unrelated"}]},
            {
                "type": "object",
                "allOf": [{"$ref": "#/$defs/Unrelated"}],
                "$defs": {
                    "Unrelated": {"type": "object", "properties": {"x": {"type": "integer"}}}
                },
            },
            False,
        ),
        (
            {"type": "object", "nullable": True, "properties": {"a": {"type": "string"}}},
            {"type": "object", "properties": {"a": {"type": "string"}}},
            False,
        ),
        (
            {"oneOf": [{"$ref": "#/components/schemas/Person"}, {"properties": {"b": {}}}]},
            {
                "type": "object",
                "oneOf": [{"$ref": "#/$defs/Person"}, {"properties": {"b": {}}}],
                "$defs": {
                    "Person": {
                        "type": "object",
                        "properties": {"manager": {"$ref": "#/$defs/Person"}},
                    }
                },
            },
            False,
        ),
        # Never an object: wrapped, as the gateway wraps the response.
        (
            {"type": "string", "nullable": True},
            {
                "type": "object",
                "properties": {"result": {"type": ["string", "null"]}},
                "required": ["result"],
            },
            True,
        ),
        # Either: only "an object" describes both what passes through and what is wrapped.
        (
            {"description": "d", "anyOf": [{"type": "object"}, {"type": "array"}]},
            {"type": "object", "description": "d"},
            False,
        ),
        ({}, {"type": "object"}, False),
    ],
)
def test_output_shapes(
    tmp_path: Path, schema: dict[str, Any], expected: Any, wrapped: bool
) -> None:
    doc = _doc({"/o": {"get": {"operationId": "o", "responses": ok(schema)}}})
    c = load(tmp_path, doc)
    assert tool(c, "acme_o").output_schema == expected
    assert c.extra["wrapped_outputs"] == (["acme_o"] if wrapped else [])
