"""Snapshots of everything ``fastn-gen build`` writes for small golden connector sets.

Each set under ``tests/golden/<set>/`` is a connectors directory built with the real
pipeline (load, render, ruff formatting, write). Every output file is snapshotted;
the generated code must also pass ruff and ``mypy --strict``, import, and come out
byte-identical whichever directory the build runs from. The broken documents under
``tests/golden/broken/`` fail with every problem named by file and JSON pointer.

Update the snapshots after an intended change with ``pytest --snapshot-update``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest
from click.testing import CliRunner

from fastn_gen.cli import EXIT_INVALID, main
from fastn_gen.codegen.build import build
from fastn_gen.codegen.emit import generator_fingerprint
from fastn_gen.codegen.formatting import RUFF_SETTINGS
from fastn_gen.codegen.jsontext import dumps_layered
from fastn_gen.runtime.operation import ToolInput

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = REPO / "pyproject.toml"
LINT_RULES = "E,F,W,I,B,UP"  # pyproject.toml's [tool.ruff.lint] select
GOLDEN = REPO / "tests" / "golden"
SETS = ("native", "openapi30", "openapi31", "swagger2", "recursive", "collisions", "bodies")
BROKEN = (GOLDEN / "broken", GOLDEN / "broken" / "openapi")
# Changes with every edit of the generator's source; checked, then masked in snapshots.
FINGERPRINT_MASK = "<generator fingerprint>"


def build_set(name: str, out: Path) -> dict[str, bytes]:
    """Build one golden set into ``out``; every file written, by relative path."""
    report = build(GOLDEN / name, out)
    assert not report.issues, [str(i) for i in report.issues]
    return files_of(out)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every set built once, each into a package named after it (``golden_<set>``)."""
    root = tmp_path_factory.mktemp("golden")
    for name in SETS:
        build_set(name, root / f"golden_{name}")
    return {name: root / f"golden_{name}" for name in SETS}


def files_of(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def masked_manifest(data: bytes) -> str:
    manifest = json.loads(data)
    assert manifest["inputs"]["generator"] == generator_fingerprint()
    manifest["inputs"]["generator"] = FINGERPRINT_MASK
    return dumps_layered(manifest) + "\n"


@pytest.mark.parametrize("name", SETS)
def test_generated_files(name: str, built: dict[str, Path], snapshot: Any) -> None:
    files = files_of(built[name])
    assert sorted(files) == snapshot(name="files")
    for rel, data in files.items():
        text = masked_manifest(data) if rel == "manifest.json" else data.decode()
        assert text == snapshot(name=rel)


@pytest.mark.parametrize("name", SETS)
def test_every_operation_is_a_tool_or_a_reported_skip(name: str, built: dict[str, Path]) -> None:
    manifest = json.loads((built[name] / "manifest.json").read_bytes())
    for connector in manifest["connectors"]:
        tools = [t for t in manifest["tools"] if t["connector"] == connector["name"]]
        skips = [s for s in manifest["skipped"] if s["connector"] == connector["name"]]
        assert (connector["tool_count"], connector["skipped_count"]) == (len(tools), len(skips))
        assert all(s["reason"] for s in skips)


@pytest.fixture
def cwd_with_lookalikes(tmp_path: Path) -> Iterator[Path]:
    """A working directory where ruff's default import classification would differ:
    third-party names exist as local packages there, and fastn_gen does not."""
    for package in ("pydantic", "typing_extensions"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


def test_output_is_identical_from_any_working_directory(
    built: dict[str, Path], cwd_with_lookalikes: Path
) -> None:
    for name in SETS:
        again = build_set(name, cwd_with_lookalikes / "out" / name)
        assert again == files_of(built[name]), name


def test_building_twice_changes_nothing(built: dict[str, Path]) -> None:
    name = "openapi30"
    before = {p: p.stat().st_mtime_ns for p in built[name].rglob("*") if p.is_file()}
    report = build(GOLDEN / name, built[name])
    assert report.changed == []
    assert {p: p.stat().st_mtime_ns for p in built[name].rglob("*") if p.is_file()} == before
    assert build(GOLDEN / name, built[name], check=True).changed == []


# -- tooling: what CI runs on the committed output ---------------------------------------


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def python_files(built: dict[str, Path]) -> list[str]:
    return sorted(str(p) for out in built.values() for p in out.rglob("*.py"))


def test_generated_code_passes_ruff_check(built: dict[str, Path]) -> None:
    # The project's own rules, as `make lint` applies them to generated/.
    run("ruff", "check", "--config", str(PYPROJECT), *python_files(built), cwd=REPO)
    run("ruff", "check", *RUFF_SETTINGS, "--select", LINT_RULES, *python_files(built), cwd=REPO)


def test_generated_code_is_ruff_formatted(built: dict[str, Path]) -> None:
    run("ruff", "format", "--check", "--config", str(PYPROJECT), *python_files(built), cwd=REPO)
    run("ruff", "format", "--check", *RUFF_SETTINGS, *python_files(built), cwd=REPO)


def test_generated_code_passes_mypy_strict(built: dict[str, Path]) -> None:
    # One run over every set, with the project's mypy settings plus --strict; fastn_gen
    # is type-checked from the checkout. A cache of its own (gitignored) keeps the
    # library stubs checked once per machine rather than once per run.
    root = next(iter(built.values())).parent
    env = dict(os.environ, MYPYPATH=str(REPO))
    packages = sorted(out.name for out in built.values())
    cache = REPO / ".mypy_cache" / "generated-snapshots"
    options = ("--config-file", str(PYPROJECT), "--strict", "--cache-dir", str(cache))
    run("mypy", *options, *packages, cwd=root, env=env)


def import_module(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", SETS)
def test_generated_modules_import_and_build_their_models(name: str, built: dict[str, Path]) -> None:
    manifest = json.loads((built[name] / "manifest.json").read_bytes())
    schemas = {t["name"]: t["input_schema"] for t in manifest["tools"]}
    for connector in manifest["connectors"]:
        path = built[name] / connector["module"]
        # The build wrote the bytecode, so a gateway importing the module never compiles.
        assert Path(importlib.util.cache_from_source(str(path))).is_file()
        module = import_module(path, f"golden_{name}_{connector['name']}")
        assert module.CONNECTOR.name == connector["name"]
        own = {t["name"] for t in manifest["tools"] if t["connector"] == connector["name"]}
        assert set(module.OPERATIONS) == own
        for tool in module.OPERATIONS:
            model = module.INPUT_MODELS(tool)
            assert issubclass(model, ToolInput)
            required = set(schemas[tool].get("required", ()))
            props = set(schemas[tool]["properties"])
            fields = model.model_fields.items()
            assert {f.alias or n for n, f in fields if f.is_required()} == required
            assert {f.alias or n for n, f in fields} == props
            # Calling with no arguments fails only by naming the required ones.
            if required:
                with pytest.raises(pydantic.ValidationError) as caught:
                    model.model_validate({})
                missing = {e["loc"][0] for e in caught.value.errors() if e["type"] == "missing"}
                assert missing == required
            else:
                assert model.model_validate({}).to_arguments() == {}


# -- broken documents --------------------------------------------------------------------


@pytest.mark.parametrize("connectors", BROKEN, ids=lambda p: p.relative_to(GOLDEN).as_posix())
def test_broken_documents_report_every_issue(
    connectors: Path, tmp_path: Path, snapshot: Any
) -> None:
    report = build(connectors, tmp_path / "out")
    assert report.issues
    for issue in report.issues:
        assert issue.file and (connectors / issue.file).is_file(), issue
        assert issue.pointer == "" or issue.pointer.startswith("/"), issue
    assert "\n".join(str(i) for i in report.issues) == snapshot
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("connectors", BROKEN, ids=lambda p: p.relative_to(GOLDEN).as_posix())
@pytest.mark.parametrize("command", ["build", "validate"])
def test_cli_exits_2_naming_every_issue(
    connectors: Path, command: str, tmp_path: Path, snapshot: Any
) -> None:
    args = [command, "--connectors", str(connectors)]
    if command == "build":
        args += ["--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == EXIT_INVALID, result.output
    assert result.stdout == ""
    assert result.stderr == snapshot
