"""The ``build`` / ``validate`` workflows: load, report, render, write or check."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastn_gen.codegen.bytecode import compile_modules
from fastn_gen.codegen.emit import DEFAULT_TEMPLATES, render_outputs, stale_files, write_outputs
from fastn_gen.codegen.parallel import (
    ConnectorOutput,
    load_in_parallel,
    raise_failures,
    worker_count,
    write_bytecode,
)
from fastn_gen.collector import collector_paused
from fastn_gen.spec.errors import SpecIssue
from fastn_gen.spec.ir import Skip
from fastn_gen.spec.loader import LoadResult, Progress, discover, load_connectors


@dataclass
class BuildReport:
    issues: list[SpecIssue] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # written, or stale with --check
    tool_count: int = 0
    connector_count: int = 0


def _report(result: LoadResult) -> BuildReport:
    return BuildReport(
        issues=list(result.issues),
        skipped=sorted(
            (s for c in result.connectors for s in c.skipped),
            key=lambda s: (s.connector, s.operation),
        ),
        tool_count=sum(len(c.tools) for c in result.connectors),
        connector_count=len(result.connectors),
    )


def validate(
    connectors_dir: Path, progress: Progress | None = None
) -> tuple[LoadResult, BuildReport]:
    # A build allocates millions of long-lived objects and almost no cycles: the
    # collector took 40% of a large build's CPU time rescanning them.
    with collector_paused():
        result = load_connectors(connectors_dir, progress)
    return result, _report(result)


def build(
    connectors_dir: Path,
    out_dir: Path,
    *,
    check: bool = False,
    templates_dir: Path = DEFAULT_TEMPLATES,
    progress: Progress | None = None,
) -> BuildReport:
    """Render everything; write changed files, or with ``check`` only list stale ones."""
    with collector_paused():
        workers = worker_count(len(discover(connectors_dir))) if connectors_dir.is_dir() else 1
        if workers == 1:
            result, report = validate(connectors_dir, progress)
            built: dict[str, ConnectorOutput] = {}
        else:
            result, built = load_in_parallel(
                connectors_dir, templates_dir, out_dir, workers, not check, progress
            )
            report = _report(result)
        if report.issues:
            return report
        raise_failures(built)
        formatted = {rel: out.module for rel, out in built.items() if out.module is not None}
        encoded = {
            name: text for out in built.values() for name, text in out.manifest_tools.items()
        }
        schemas = {
            name: text for out in built.values() for name, text in out.output_schemas.items()
        }
        outputs = render_outputs(result, templates_dir, progress, formatted, encoded, schemas)
        if check:
            report.changed = stale_files(outputs, out_dir)
            return report
        report.changed = write_outputs(outputs, out_dir)
        if progress:
            progress("compiling bytecode", False)
        write_bytecode(out_dir, built)
        compile_modules(out_dir, [rel for rel in outputs if rel not in built])
    return report
