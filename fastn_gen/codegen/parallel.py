"""Build connectors side by side: one process per core, one connector per task.

Each connector's work (load and convert its spec, render its module, format it with
ruff, compile its bytecode) depends on nothing but its own files, and a large spec
takes seconds of CPU. Forked workers do that work; the parent gathers the results in
the order of the files, so reports, progress lines and every output byte are those of
a build in one process. The bytecode is compiled by the worker and written by the
parent once the module is on disk (its header records the file's mtime and size).
"""

from __future__ import annotations

import functools
import importlib.util
import marshal
import multiprocessing
import os
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import jinja2

from fastn_gen.codegen.formatting import format_one
from fastn_gen.codegen.jsontext import Encoded
from fastn_gen.spec.errors import SpecError, SpecIssue
from fastn_gen.spec.ir import Connector
from fastn_gen.spec.loader import (
    LoadResult,
    Progress,
    check_gateway_uniqueness,
    discover,
    load_file,
    loaded_message,
)

WORKERS_ENV = "FASTN_GEN_BUILD_WORKERS"


def worker_count(files: int) -> int:
    """Processes to use: one per core (``FASTN_GEN_BUILD_WORKERS`` overrides), at most
    one per file; 1 means build in this process."""
    if not hasattr(os, "fork"):
        return 1
    configured = os.environ.get(WORKERS_ENV, "")
    wanted = int(configured) if configured.isdigit() else (os.cpu_count() or 1)
    return max(1, min(wanted, files))


@dataclass
class ConnectorOutput:
    """What a worker sends back for one spec file."""

    inputs: dict[str, str] = field(default_factory=dict)
    connector: Connector | None = None
    issues: list[SpecIssue] = field(default_factory=list)
    module: str | None = None  # formatted source of connectors/<name>.py
    # The tools' manifest entries, written here: the connector sent back then carries
    # its tools without their schemas (the bulk of what would be pickled).
    manifest_tools: dict[str, Encoded] = field(default_factory=dict)
    # Their output schemas as output_schemas.json holds them, for the same reason.
    output_schemas: dict[str, Encoded] = field(default_factory=dict)
    bytecode: bytes | None = None  # marshalled code object of that module
    failure: BaseException | None = None  # rendering failed: raised if the build goes on
    seconds: float = 0.0


@functools.cache
def _environment(templates_dir: Path) -> jinja2.Environment:
    from fastn_gen.codegen.emit import template_environment

    return template_environment(templates_dir)


def build_one(
    path: Path, connectors_dir: Path, templates_dir: Path, out_dir: Path, compile_code: bool
) -> ConnectorOutput:
    """Load, render, format and compile one spec file (in a worker)."""
    from fastn_gen.codegen.emit import (
        encoded_manifest_tool,
        encoded_output_schemas,
        render_connector,
    )

    started = time.perf_counter()
    result = LoadResult()
    out = ConnectorOutput(inputs=result.inputs)
    try:
        out.connector = load_file(path, connectors_dir, result)
    except SpecError as exc:
        out.issues = list(exc.issues)
        return out
    out.seconds = time.perf_counter() - started
    rel = module_path(out.connector)
    try:
        out.module = format_one(rel, render_connector(_environment(templates_dir), out.connector))
        if compile_code:
            code = compile(out.module, os.fspath(out_dir / rel), "exec", dont_inherit=True)
            out.bytecode = marshal.dumps(code)
        out.manifest_tools = {t.name: encoded_manifest_tool(t) for t in out.connector.tools}
        out.output_schemas = encoded_output_schemas(out.connector.tools)
    except Exception as exc:  # noqa: BLE001 - re-raised by the parent when it matters
        out.failure = exc
        return out
    out.connector = replace(
        out.connector,
        tools=tuple(
            replace(t, input_schema={}, output_schema=None, params=(), body=None)
            for t in out.connector.tools
        ),
    )
    return out


def _prepare(templates_dir: Path) -> None:
    """Import the front ends and compile the templates once, before forking: each worker
    would otherwise do both itself (a few tenths of a second of CPU each)."""
    import fastn_gen.codegen.emit
    import fastn_gen.spec.native
    import fastn_gen.spec.openapi  # noqa: F401

    _environment(templates_dir).get_template("connector_module.py.jinja")


def module_path(connector: Connector) -> str:
    return f"connectors/{connector.name}.py"


def load_in_parallel(
    connectors_dir: Path,
    templates_dir: Path,
    out_dir: Path,
    workers: int,
    compile_code: bool,
    progress: Progress | None = None,
) -> tuple[LoadResult, dict[str, ConnectorOutput]]:
    """``load_connectors``, with each connector's module built alongside it.

    Returns the load result (as ``load_connectors`` gives it) and the outputs of the
    loaded connectors by module path.
    """
    result = LoadResult()
    outputs: dict[str, ConnectorOutput] = {}
    files = discover(connectors_dir)
    _prepare(templates_dir)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures: list[Future[ConnectorOutput]] = [
            pool.submit(build_one, p, connectors_dir, templates_dir, out_dir, compile_code)
            for p in files
        ]
        for path, future in zip(files, futures, strict=True):
            if progress:
                progress(f"loading {path.name}", False)
            got = future.result()
            result.inputs.update(got.inputs)
            if got.connector is None:
                result.issues.extend(got.issues)
                continue
            result.connectors.append(got.connector)
            outputs[module_path(got.connector)] = got
            if progress:
                progress(loaded_message(path, got.connector, got.seconds), True)
    result.connectors.sort(key=lambda c: c.name)
    result.issues.extend(check_gateway_uniqueness(result.connectors))
    return result, outputs


def raise_failures(outputs: dict[str, ConnectorOutput]) -> None:
    """A rendering failure of a worker, raised as it would have been in process."""
    for rel in sorted(outputs):
        failure = outputs[rel].failure
        if failure is not None:
            raise failure


def write_bytecode(out_dir: Path, outputs: dict[str, ConnectorOutput]) -> None:
    """``__pycache__`` for each module the workers compiled, unless already current."""
    for rel in sorted(outputs):
        code = outputs[rel].bytecode
        source = out_dir / rel
        if code is None or not source.is_file():
            continue
        stat = source.stat()
        header = (
            importlib.util.MAGIC_NUMBER
            + (0).to_bytes(4, "little")
            + (int(stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
            + (stat.st_size & 0xFFFFFFFF).to_bytes(4, "little")
        )
        cached = Path(importlib.util.cache_from_source(os.fspath(source)))
        try:
            with cached.open("rb") as existing:
                if existing.read(16) == header:
                    continue
        except OSError:
            pass
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        tmp.write_bytes(header + code)
        tmp.replace(cached)
