"""The requirements map is complete and every test it names exists."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LEVELS = {"MUST", "MUST NOT", "SHOULD", "SHOULD NOT"}
SPECS = {"authorization", "transports", "basic", "server/tools"}


def requirements() -> list[dict[str, Any]]:
    loaded = yaml.safe_load((HERE / "requirements.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, list) and loaded
    return loaded


def defined_tests(path: Path) -> set[str]:
    """``name`` and ``Class::name`` of every test function in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef):
            found.update(
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
    return {name for name in found if name.split("::")[-1].startswith("test_")}


def test_every_requirement_is_complete_and_unique() -> None:
    ids = [r["id"] for r in requirements()]
    assert len(ids) == len(set(ids))
    for requirement in requirements():
        assert set(requirement) == {"id", "spec", "level", "statement", "tests"}, requirement
        assert requirement["level"] in LEVELS and requirement["spec"] in SPECS, requirement
        assert len(requirement["statement"]) > 20 and requirement["tests"], requirement


def test_every_listed_test_exists() -> None:
    missing = []
    cache: dict[Path, set[str]] = {}
    for requirement in requirements():
        for reference in requirement["tests"]:
            file, _, name = reference.partition("::")
            path = ROOT / file
            if not path.is_file():
                missing.append(f"{requirement['id']}: no file {file}")
                continue
            if path not in cache:
                cache[path] = defined_tests(path)
            if name not in cache[path]:
                missing.append(f"{requirement['id']}: no test {reference}")
    assert missing == []


def test_the_map_covers_each_chapter_with_musts() -> None:
    by_spec: dict[str, int] = {}
    for requirement in requirements():
        if requirement["level"].startswith("MUST"):
            by_spec[requirement["spec"]] = by_spec.get(requirement["spec"], 0) + 1
    assert set(by_spec) == SPECS
