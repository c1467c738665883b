"""Every public vendor document in ../shared/specs through the whole generator.

For each document: operations are counted from the raw document, independently of the
front end, and every one must come back exactly once as a tool or a skip with a
reason. Tool names are valid and unique; schemas are valid JSON Schema 2020-12 and
self-contained (every ``$ref`` names an entry of the schema's own ``$defs``). The
document is then rendered, formatted and written like ``fastn-gen build`` does; the
module imports, and a sample of its input models agrees with the input schemas.
Finally ruff and ``mypy --strict`` run once over all the generated output.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pydantic
import pytest
import yaml

from fastn_gen.codegen.emit import render_outputs, write_outputs
from fastn_gen.runtime.operation import ToolInput
from fastn_gen.spec.ir import Connector
from fastn_gen.spec.loader import LoadResult
from fastn_gen.spec.naming import VALID_TOOL_NAME, snake_case
from fastn_gen.spec.openapi import load_openapi_connector
from fastn_gen.spec.options import OpenAPIOptions

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = REPO / "pyproject.toml"
SPECS = REPO.parent / "shared" / "specs"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
REF = re.compile(r'"\$ref": "([^"]*)"')
MODEL_SAMPLE = 150  # input models built and validated per document


def _rows() -> list[dict[str, str]]:
    index = SPECS / "INDEX.tsv"
    if not index.is_file():
        return []
    with index.open(encoding="utf-8") as f:
        return [r for r in csv.DictReader(f, delimiter="\t") if r["group"] == "public"]


ROWS = _rows()


def _package(row: dict[str, str]) -> str:
    """A unique package name for the row's generated output."""
    return f"corpus_{ROWS.index(row):02d}_{snake_case(row['vendor'].split()[0])}"


def _raw_operations(path: Path) -> list[tuple[str, str, str | None]]:
    """(METHOD, path, operationId) of every paths × HTTP method, read with a plain loader."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data: Any = json.loads(text)
    else:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    found = []
    for route, item in (data.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            if method in item:
                op = item[method]
                op_id = op.get("operationId") if isinstance(op, dict) else None
                op_id = op_id if isinstance(op_id, str) else None
                found.append((method.upper(), str(route), op_id))
    return found


def _accounted(connector: Connector, raw: list[tuple[str, str, str | None]]) -> Counter[str]:
    """ "METHOD /path" of each tool and skip; a skip names its operation by operationId or
    by "METHOD /path", so operationIds are mapped back through the raw document."""
    by_id: dict[str, list[str]] = {}
    for method, route, op_id in raw:
        if op_id and op_id.strip():
            by_id.setdefault(op_id, []).append(f"{method} {route}")
    keys = Counter(f"{t.method} {t.path}" for t in connector.tools)
    for skip in connector.skipped:
        candidates = by_id.get(skip.operation, [])
        keys[candidates.pop(0) if candidates else skip.operation] += 1
    return keys


def _check_schema(schema: dict[str, Any], where: str) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema.get("type") == "object", where
    defs = schema.get("$defs", {})
    for ref in REF.findall(json.dumps(schema)):
        assert ref.startswith("#/$defs/") and ref[len("#/$defs/") :] in defs, (where, ref)


@dataclass
class Built:
    connector: Connector
    out: Path
    load_seconds: float
    render_seconds: float


class Corpus:
    """Loads and builds each document once; the per-document tests and the whole-output
    checks share the results (in any order, or alone)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.built: dict[str, Built] = {}

    def build(self, row: dict[str, str]) -> Built:
        if row["path"] not in self.built:
            path = SPECS / row["path"]
            name = snake_case(row["vendor"].split()[0])
            started = time.perf_counter()
            connector = load_openapi_connector(path, OpenAPIOptions(name=name), row["path"])
            loaded = time.perf_counter()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            result = LoadResult(connectors=[connector], inputs={row["path"]: digest})
            out = self.root / _package(row)
            write_outputs(render_outputs(result), out)
            rendered = time.perf_counter()
            self.built[row["path"]] = Built(connector, out, loaded - started, rendered - loaded)
        return self.built[row["path"]]

    def build_all(self) -> list[Path]:
        return [self.build(row).out for row in ROWS]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return Corpus(tmp_path_factory.mktemp("corpus"))


@pytest.mark.corpus
def test_index_lists_public_specs() -> None:
    assert len(ROWS) >= 20, f"expected the vendor corpus at {SPECS}"


@pytest.mark.corpus
@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_public_spec(row: dict[str, str], corpus: Corpus) -> None:
    path = SPECS / row["path"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == row["sha256"], f"{path} differs from the document INDEX.tsv describes"
    built = corpus.build(row)
    connector = built.connector

    raw = _raw_operations(path)
    assert len(raw) == int(row["operations"])
    assert len(connector.tools) + len(connector.skipped) == len(raw)
    assert _accounted(connector, raw) == Counter(f"{m} {p}" for m, p, _ in raw)

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

    manifest = json.loads((built.out / "manifest.json").read_bytes())
    assert [t["name"] for t in manifest["tools"]] == names
    assert len(manifest["skipped"]) == len(connector.skipped)
    _check_module(built, manifest)
    print(
        f"\n{row['path']}: {len(connector.tools)} tools, {len(connector.skipped)} skipped; "
        f"load {built.load_seconds:.2f}s, render {built.render_seconds:.2f}s"
    )
    for skip in connector.skipped:
        print(f"  skip {skip.operation}: {skip.reason}")


def _check_module(built: Built, manifest: dict[str, Any]) -> None:
    """Import the module; build a sample of its models and validate empty arguments."""
    name = built.connector.name
    path = built.out / "connectors" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{built.out.name}_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    schemas = {t["name"]: t["input_schema"] for t in manifest["tools"]}
    assert sorted(module.OPERATIONS) == sorted(schemas)
    tools = sorted(schemas)
    step = max(1, len(tools) // MODEL_SAMPLE)
    for tool in tools[::step]:
        model = module.INPUT_MODELS(tool)
        assert issubclass(model, ToolInput)
        fields = model.model_fields.items()
        required = set(schemas[tool].get("required", ()))
        assert {f.alias or n for n, f in fields} == set(schemas[tool]["properties"]), tool
        assert {f.alias or n for n, f in fields if f.is_required()} == required, tool
        try:
            model.model_validate({})
            missing: set[str] = set()
        except pydantic.ValidationError as exc:
            missing = {str(e["loc"][0]) for e in exc.errors() if e["type"] == "missing"}
        assert missing == required, tool


def _tool(*args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-20000:]


@pytest.mark.corpus
def test_generated_output_passes_ruff(corpus: Corpus) -> None:
    packages = [str(p) for p in corpus.build_all()]
    _tool("ruff", "check", "--config", str(PYPROJECT), *packages, cwd=REPO)
    _tool("ruff", "format", "--check", "--config", str(PYPROJECT), *packages, cwd=REPO)


@pytest.mark.corpus
def test_generated_output_passes_mypy_strict(corpus: Corpus) -> None:
    # One run over every document's output keeps the time bounded.
    packages = [p.name for p in corpus.build_all()]
    env = dict(os.environ, MYPYPATH=str(REPO))
    options = ("--config-file", str(PYPROJECT), "--strict", "--no-incremental")
    _tool("mypy", *options, *packages, cwd=corpus.root, env=env)


@pytest.mark.corpus
def test_github_loads_fast() -> None:
    path = SPECS / "github" / "api.github.com.json"
    started = time.perf_counter()
    connector = load_openapi_connector(path, OpenAPIOptions(name="github"), "github")
    seconds = time.perf_counter() - started
    print(f"\nGitHub: {len(connector.tools)} tools in {seconds:.2f}s (JSON parse included)")
    assert len(connector.tools) > 1200
    assert seconds < 5
