"""Small inline OpenAPI documents and a loader for the OpenAPI front-end tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from fastn_gen.spec.ir import Connector, Tool
from fastn_gen.spec.openapi import load_openapi_connector
from fastn_gen.spec.options import OpenAPIOptions


def write(tmp_path: Path, doc: dict[str, Any] | str, name: str = "doc.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def load(
    tmp_path: Path, doc: dict[str, Any] | str, name: str = "doc.json", **options: Any
) -> Connector:
    options.setdefault("name", "acme")
    connector = load_openapi_connector(write(tmp_path, doc, name), OpenAPIOptions(**options), name)
    for tool in connector.tools:
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        if tool.output_schema is not None:
            jsonschema.Draft202012Validator.check_schema(tool.output_schema)
    return connector


def tool(connector: Connector, name: str) -> Tool:
    found = {t.name: t for t in connector.tools}
    assert name in found, sorted(found)
    return found[name]


def doc3(paths: dict[str, Any], version: str = "3.0.3", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": version,
        "info": {"title": "Acme API", "version": "1", "description": "The Acme API."},
        "servers": [{"url": "https://api.acme.example/v1"}],
        "paths": paths,
    }
    doc.update(extra)
    return doc


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def ok(schema: dict[str, Any], code: str = "200") -> dict[str, Any]:
    return {code: {"description": "OK", "content": {"application/json": {"schema": schema}}}}
