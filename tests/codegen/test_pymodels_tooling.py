"""A module of generated builders passes ruff (lint and format) and mypy --strict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fastn_gen.codegen.formatting import RUFF_SETTINGS, format_one
from fastn_gen.codegen.pymodels import render_model_builder

from .modelkit import load, module_source, obj
from .test_pymodels import ALL_OF, KINDS, NESTED, TREE, WEIRD
from .test_pymodels_properties import SCHEMAS

REPO = Path(__file__).resolve().parents[2]
# The header of templates/connector_module.py.jinja.
HEADER = "# ruff: noqa: E501\n"

PROPERTIES: list[dict[str, Any]] = [
    {"type": "string", "description": "A plain string. " * 20},
    {"type": "string", "enum": ["open", "closed", "it's", 'say "hi"', "back\\slash"]},
    {"type": "string", "pattern": "^[A-Z]{2}-\\d+$", "minLength": 3},
    {"type": "integer", "minimum": 1, "maximum": 100, "multipleOf": 5},
    {"type": "number", "exclusiveMinimum": 0.5, "multipleOf": 0.25},
    {"type": ["boolean", "null"]},
    {"enum": [1, "one", None, True, 1.5]},
    {"const": "fixed"},
    {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}}}},
    {"type": "array", "prefixItems": [{"type": "string"}], "uniqueItems": True},
    {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    {"type": "object", "properties": {"a": {}}, "additionalProperties": {"type": "integer"}},
    {"type": "object", "patternProperties": {"^x-": {"type": "string"}}},
    {"anyOf": [{"$ref": "#/$defs/Item"}, {"type": "null"}]},
    {"oneOf": [{"type": "integer"}, {"minimum": 2}]},
    {"allOf": [{"$ref": "#/$defs/Item"}, {"properties": {"extra": {"type": "string"}}}]},
    {"not": {"type": "string"}, "description": "Anything but a string."},
    {"if": {"type": "integer"}, "then": {"minimum": 0}},
    {"$ref": "#/$defs/Tree"},
    {"$ref": "#/$defs/Json"},
    {"type": "array", "items": {"$ref": "#/$defs/Tree"}, "minItems": 1},
    {"type": "object", "properties": {"gone": False}, "unevaluatedProperties": False},
    {},
    {"type": "object", "properties": {"list": {"$ref": "#/$defs/Item"}}, "required": ["list"]},
]
DEFS = {
    "Item": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
        "required": ["id"],
    },
    "Tree": {
        "type": "object",
        "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}}},
        "not": {"required": ["forbidden"]},
    },
    "Json": {
        "anyOf": [
            {"type": ["string", "number", "boolean", "null"]},
            {"type": "array", "items": {"$ref": "#/$defs/Json"}},
            {"type": "object", "additionalProperties": {"$ref": "#/$defs/Json"}},
        ]
    },
}


def tool_schemas() -> dict[str, dict[str, Any]]:
    """About fifty tools: the test schemas plus combinations of tricky properties."""
    tools: dict[str, dict[str, Any]] = {
        "demo_kinds": KINDS,
        "demo_nested": NESTED,
        "demo_tree": TREE,
        "demo_all_of": ALL_OF,
        "demo_weird_names": obj({name: {"type": "integer"} for name in WEIRD}, WEIRD[:2]),
    }
    for name, schema in SCHEMAS.items():
        tools[f"demo_property_{name}"] = schema
    n = len(PROPERTIES)
    for i in range(42):
        names = [WEIRD[(i + k) % len(WEIRD)] for k in range(3)]
        props = {name: PROPERTIES[(i * 3 + k) % n] for k, name in enumerate(names)}
        tools[f"combo_{i:02d}_tool"] = obj(props, names[:1], **{"$defs": DEFS})
    return tools


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sources = [render_model_builder(tool, schema) for tool, schema in tool_schemas().items()]
    assert len(sources) >= 50
    text = module_source(sources, HEADER)
    out = tmp_path_factory.mktemp("generated") / "connector_models.py"
    # ruff sorts imports by whether fastn_gen is first-party, which it judges from the
    # working directory: format where the checks below run.
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        out.write_text(format_one(str(out), text))
    return out


def test_module_passes_ruff_check(generated: Path) -> None:
    result = run("ruff", "check", *RUFF_SETTINGS, "--select", "E,F,W,I,B,UP", str(generated))
    assert result.returncode == 0, result.stdout + result.stderr


def test_module_is_ruff_formatted(generated: Path) -> None:
    result = run("ruff", "format", "--check", *RUFF_SETTINGS, str(generated))
    assert result.returncode == 0, result.stdout + result.stderr


def test_module_passes_mypy_strict(generated: Path, tmp_path: Path) -> None:
    result = run(
        "mypy",
        "--strict",
        "--ignore-missing-imports",
        "--python-version",
        "3.11",
        "--cache-dir",
        str(tmp_path / "mypy"),
        str(generated),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_builder_in_the_module_builds(generated: Path) -> None:
    sources = [render_model_builder(tool, schema) for tool, schema in tool_schemas().items()]
    module = load(sources)
    for source in sources:
        model = getattr(module, source.function_name)()
        assert model.model_json_schema()["type"] == "object"
