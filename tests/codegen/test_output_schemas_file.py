"""``generated/output_schemas.json``: the tools' output schemas, apart from the manifest.

The gateway reads the manifest at every start and this file only when it lists output
schemas, so the build must write every schema here, none in the manifest, the same
bytes every time, and ``build --check`` must notice when the file is stale.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fastn_gen.codegen.build import build
from fastn_gen.codegen.parallel import WORKERS_ENV
from fastn_gen.gateway.catalog import Catalog
from fastn_gen.spec.loader import load_connectors

REPO = Path(__file__).resolve().parents[2]
CONNECTORS = REPO / "connectors.d"
NATIVE_SET = REPO / "tests" / "golden" / "native"


def build_into(out: Path, connectors: Path = CONNECTORS) -> None:
    report = build(connectors, out)
    assert not report.issues, [str(i) for i in report.issues]


def test_every_output_schema_is_in_the_file_and_none_in_the_manifest(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    build_into(out)
    expected = {
        t.name: t.output_schema
        for c in load_connectors(CONNECTORS).connectors
        for t in c.tools
        if t.output_schema is not None
    }
    assert len(expected) > 10
    text = (out / "output_schemas.json").read_bytes()
    schemas = json.loads(text)
    assert schemas == expected
    assert list(schemas) == sorted(schemas)
    # One line per tool, so a changed schema is a changed line of that tool only.
    assert text.count(b"\n") == len(schemas) + 2

    manifest = json.loads((out / "manifest.json").read_bytes())
    assert manifest["format"] == 2
    assert all("output_schema" not in tool for tool in manifest["tools"])
    assert manifest["output_schemas"] == {
        "file": "output_schemas.json",
        "sha256": hashlib.sha256(text).hexdigest(),
    }


def test_the_file_is_byte_stable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_ENV, "1")
    build_into(tmp_path / "one")
    build_into(tmp_path / "two")
    monkeypatch.setenv(WORKERS_ENV, "2")
    build_into(tmp_path / "three")
    one, two, three = (
        (tmp_path / name / "output_schemas.json").read_bytes() for name in ("one", "two", "three")
    )
    assert one == two == three
    # The committed generated/ holds the same file.
    assert (REPO / "generated" / "output_schemas.json").read_bytes() == one


def test_check_notices_a_stale_or_missing_file(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    build_into(out, NATIVE_SET)
    assert build(NATIVE_SET, out, check=True).changed == []
    path = out / "output_schemas.json"
    original = path.read_bytes()
    path.write_bytes(original.replace(b'"type": "object"', b'"type": "array"', 1))
    assert build(NATIVE_SET, out, check=True).changed == ["output_schemas.json"]
    path.unlink()
    assert build(NATIVE_SET, out, check=True).changed == ["output_schemas.json"]
    build_into(out, NATIVE_SET)
    assert path.read_bytes() == original


def test_the_catalog_reads_back_what_the_build_wrote(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    build_into(out, NATIVE_SET)
    written = json.loads((out / "output_schemas.json").read_bytes())
    assert written
    catalog = Catalog.load(out, output_schemas=True)
    carried = {
        name: entry.tool.output_schema
        for name, entry in catalog.tools.items()
        if entry.tool.output_schema is not None
    }
    assert carried == written
    lean = Catalog.load(out)
    assert all(entry.tool.output_schema is None for entry in lean.tools.values())
