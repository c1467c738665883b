"""Every public vendor document in ../shared/specs through the OpenAPI front end.

Operations are counted from the raw document, independently of the front end, and
every one must come back as a tool or a skip. Schemas must be valid JSON Schema
2020-12 and self-contained (every ``$ref`` names an entry of the schema's own
``$defs``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from fastn_gen.spec.naming import VALID_TOOL_NAME, snake_case
from fastn_gen.spec.openapi import load_openapi_connector
from fastn_gen.spec.options import OpenAPIOptions

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "specs"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
REF = re.compile(r'"\$ref": "([^"]*)"')


def _rows() -> list[dict[str, str]]:
    index = SPECS / "INDEX.tsv"
    if not index.is_file():
        return []
    with index.open(encoding="utf-8") as f:
        return [r for r in csv.DictReader(f, delimiter="\t") if r["group"] == "public"]


ROWS = _rows()


def _raw_operation_count(path: Path) -> int:
    """paths × HTTP methods, read with a plain loader (keys become strings anyway)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data: Any = json.loads(text)
    else:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return sum(
        1
        for item in (data.get("paths") or {}).values()
        if isinstance(item, dict)
        for method in METHODS
        if method in item
    )


def _check_schema(schema: dict[str, Any], where: str) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema.get("type") == "object", where
    defs = schema.get("$defs", {})
    for ref in REF.findall(json.dumps(schema)):
        assert ref.startswith("#/$defs/") and ref[len("#/$defs/") :] in defs, (where, ref)


@pytest.mark.corpus
def test_index_lists_public_specs() -> None:
    assert len(ROWS) >= 20, f"expected the vendor corpus at {SPECS}"


@pytest.mark.corpus
@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_public_spec(row: dict[str, str]) -> None:
    path = SPECS / row["path"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == row["sha256"], f"{path} differs from the document INDEX.tsv describes"
    name = snake_case(row["vendor"].split()[0])
    started = time.perf_counter()
    connector = load_openapi_connector(path, OpenAPIOptions(name=name), row["path"])
    seconds = time.perf_counter() - started

    expected = _raw_operation_count(path)
    assert expected == int(row["operations"])
    assert len(connector.tools) + len(connector.skipped) == expected

    names = [t.name for t in connector.tools]
    assert all(VALID_TOOL_NAME.match(n) for n in names), [
        n for n in names if not VALID_TOOL_NAME.match(n)
    ]
    assert len(set(names)) == len(names)
    assert names == sorted(names)
    for tool in connector.tools:
        _check_schema(tool.input_schema, f"{tool.name} input")
        if tool.output_schema is not None:
            _check_schema(tool.output_schema, f"{tool.name} output")
    for skip in connector.skipped:
        assert skip.reason and skip.pointer
    print(
        f"\n{row['path']}: {len(connector.tools)} tools, {len(connector.skipped)} skipped, "
        f"{seconds:.2f}s"
    )
    for skip in connector.skipped:
        print(f"  skip {skip.operation}: {skip.reason}")


@pytest.mark.corpus
def test_github_loads_fast() -> None:
    path = SPECS / "github" / "api.github.com.json"
    started = time.perf_counter()
    connector = load_openapi_connector(path, OpenAPIOptions(name="github"), "github")
    seconds = time.perf_counter() - started
    print(f"\nGitHub: {len(connector.tools)} tools in {seconds:.2f}s (JSON parse included)")
    assert len(connector.tools) > 1200
    assert seconds < 5
