"""Connectors built in worker processes give the bytes, reports and bytecode of a build
in one process."""

from __future__ import annotations

import py_compile
from importlib.util import cache_from_source
from pathlib import Path

import pytest

from fastn_gen.codegen.build import build
from fastn_gen.codegen.parallel import WORKERS_ENV, worker_count

REPO = Path(__file__).resolve().parents[2]
BROKEN = REPO / "tests" / "golden" / "broken"


def files_of(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def run(
    monkeypatch: pytest.MonkeyPatch, workers: int, connectors: Path, out: Path, **kw: bool
) -> list[str]:
    monkeypatch.setenv(WORKERS_ENV, str(workers))
    assert worker_count(5) == workers
    report = build(connectors, out, **kw)
    return [str(issue) for issue in report.issues]


def test_output_is_the_same_with_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    connectors = REPO / "connectors.d"
    assert run(monkeypatch, 1, connectors, tmp_path / "one") == []
    assert run(monkeypatch, 2, connectors, tmp_path / "two") == []
    one, two = files_of(tmp_path / "one"), files_of(tmp_path / "two")
    assert len(one) > 5 and one == two
    # The committed output is what either build writes.
    assert files_of(REPO / "generated") == one
    assert run(monkeypatch, 2, connectors, REPO / "generated", check=True) == []


def test_bytecode_written_by_the_parent_is_what_python_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "gen"
    assert run(monkeypatch, 2, REPO / "connectors.d", out) == []
    modules = sorted((out / "connectors").glob("*.py"))
    assert len(modules) >= 5
    for module in modules:
        written = Path(cache_from_source(str(module))).read_bytes()
        reference = tmp_path / "reference.pyc"
        py_compile.compile(str(module), cfile=str(reference), doraise=True)
        assert written == reference.read_bytes(), module
    # A second build changes nothing, bytecode included.
    before = {m: Path(cache_from_source(str(m))).stat().st_mtime_ns for m in modules}
    assert run(monkeypatch, 2, REPO / "connectors.d", out) == []
    assert {m: Path(cache_from_source(str(m))).stat().st_mtime_ns for m in modules} == before


def test_problems_are_reported_in_the_same_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = run(monkeypatch, 1, BROKEN, tmp_path / "one")
    two = run(monkeypatch, 2, BROKEN, tmp_path / "two")
    assert len(one) == 59 and one == two
    assert not (tmp_path / "two").exists()
