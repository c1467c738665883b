"""Discover the specs in a connectors directory and load each into the IR.

Three kinds of file sit at the top level of ``connectors.d/`` (subdirectories are not
scanned; they hold documents that wrappers point to):

- ``<name>.yaml``: the native connector format, or a wrapper when it has a top-level
  ``openapi:`` key naming a document path;
- ``<name>.openapi.yaml`` / ``<name>.openapi.json``: a bare OpenAPI or Swagger document,
  loaded with default options.

Every problem in every file is collected before the build fails, so one run shows
them all.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fastn_gen.spec.errors import SpecError, SpecIssue, pointer
from fastn_gen.spec.ir import Connector
from fastn_gen.spec.naming import snake_case

# Progress reports: (message, done). ``done`` is False when a step starts (a display
# may overwrite the line) and True for a result worth keeping, one per spec file.
Progress = Callable[[str, bool], None]

BARE_OPENAPI_SUFFIXES = (".openapi.yaml", ".openapi.yml", ".openapi.json")
NATIVE_SUFFIXES = (".yaml", ".yml")


@dataclass
class LoadResult:
    connectors: list[Connector] = field(default_factory=list)
    issues: list[SpecIssue] = field(default_factory=list)
    # Every file that fed the build (spec files and the documents wrappers point to),
    # relative to the connectors directory, with its sha256: the staleness inputs.
    inputs: dict[str, str] = field(default_factory=dict)


def is_bare_openapi(path: Path) -> bool:
    return path.name.endswith(BARE_OPENAPI_SUFFIXES)


def discover(connectors_dir: Path) -> list[Path]:
    """Spec files at the top level of the directory, in a stable order."""
    files = [
        p
        for p in connectors_dir.iterdir()
        if p.is_file()
        and not p.name.startswith(".")
        and (is_bare_openapi(p) or p.name.endswith(NATIVE_SUFFIXES))
    ]
    return sorted(files, key=lambda p: p.name)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_yaml(path: Path, source: str) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise SpecError([SpecIssue(source, "", f"not UTF-8 text: {exc}")]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([SpecIssue(source, "", f"invalid YAML{where}: {problem}")]) from exc


def _is_wrapper(data: Any) -> bool:
    """A wrapper names a document in ``openapi:``; a bare document has a version there."""
    if not isinstance(data, dict) or "openapi" not in data:
        return False
    value = data["openapi"]
    return isinstance(value, str) and not value[:1].isdigit()


def load_file(path: Path, connectors_dir: Path, result: LoadResult) -> Connector:
    """Load one spec file into the IR; raises SpecError with every issue in it."""
    from fastn_gen.spec.native import load_native_connector, wrapper_options
    from fastn_gen.spec.openapi import load_openapi_connector
    from fastn_gen.spec.options import OpenAPIOptions

    source = path.relative_to(connectors_dir).as_posix()
    result.inputs[source] = _sha256(path)
    if is_bare_openapi(path):
        stem = path.name
        for suffix in BARE_OPENAPI_SUFFIXES:
            stem = stem.removesuffix(suffix)
        return load_openapi_connector(path, OpenAPIOptions(name=snake_case(stem)), source)
    data = _read_yaml(path, source)
    if _is_wrapper(data):
        options, doc = wrapper_options(data, source)
        doc_path = (path.parent / doc).resolve()
        if not doc_path.is_file():
            raise SpecError([SpecIssue(source, pointer("openapi"), f"no such file: {doc}")])
        try:
            doc_source = doc_path.relative_to(connectors_dir.resolve()).as_posix()
        except ValueError:
            doc_source = doc_path.as_posix()
        result.inputs[doc_source] = _sha256(doc_path)
        return load_openapi_connector(doc_path, options, doc_source, source)
    if not isinstance(data, dict):
        raise SpecError([SpecIssue(source, "", "expected a mapping at the top level")])
    return load_native_connector(data, source)


def _counts(connector: Connector) -> str:
    tools, skipped = len(connector.tools), len(connector.skipped)
    return f"{tools + skipped} operation(s): {tools} tool(s), {skipped} skipped"


def loaded_message(path: Path, connector: Connector, seconds: float) -> str:
    """The progress line kept for each spec file."""
    return f"{path.name}: {_counts(connector)} in {seconds:.1f} s"


def check_gateway_uniqueness(connectors: list[Connector]) -> list[SpecIssue]:
    """Connector names and tool names must be unique across the whole gateway."""
    issues: list[SpecIssue] = []
    by_connector: dict[str, str] = {}
    by_tool: dict[str, str] = {}
    for c in connectors:
        if c.name in by_connector:
            issues.append(
                SpecIssue(
                    c.source,
                    pointer("name"),
                    f"connector name {c.name!r} is already used by {by_connector[c.name]}",
                )
            )
            continue
        by_connector[c.name] = c.source
        for t in c.tools:
            if t.name in by_tool:
                issues.append(
                    SpecIssue(
                        c.source,
                        t.pointer,
                        f"tool name {t.name!r} is already used by {by_tool[t.name]}",
                    )
                )
            by_tool[t.name] = c.source
    return issues


def load_connectors(connectors_dir: Path, progress: Progress | None = None) -> LoadResult:
    """Load every spec in the directory. Check ``result.issues`` before using the rest."""
    result = LoadResult()
    if not connectors_dir.is_dir():
        result.issues.append(SpecIssue(str(connectors_dir), "", "no such directory"))
        return result
    for path in discover(connectors_dir):
        started = time.perf_counter()
        if progress:
            progress(f"loading {path.name}", False)
        try:
            connector = load_file(path, connectors_dir, result)
        except SpecError as exc:
            result.issues.extend(exc.issues)  # listed by the caller, with every other one
            continue
        result.connectors.append(connector)
        if progress:
            progress(loaded_message(path, connector, time.perf_counter() - started), True)
    result.connectors.sort(key=lambda c: c.name)
    result.issues.extend(check_gateway_uniqueness(result.connectors))
    return result
