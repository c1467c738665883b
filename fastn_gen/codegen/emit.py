"""Render loaded connectors into the files of ``generated/`` (in memory).

Output is byte-stable: connectors and tools are sorted by name, nothing depends on
time or machine, and Python files go through ``ruff`` with fixed settings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from fastn_gen import __version__
from fastn_gen.codegen.formatting import format_python
from fastn_gen.codegen.jsontext import Encoded, dumps_layered
from fastn_gen.codegen.literals import py_literal
from fastn_gen.codegen.pymodels import render_model_builder
from fastn_gen.spec.ir import Connector, Tool
from fastn_gen.spec.loader import LoadResult, Progress

# 2: output schemas moved out of the manifest into OUTPUT_SCHEMAS_FILE.
MANIFEST_FORMAT = 2
# The tools' output schemas, by tool name: most of a large build's bytes, and read by
# the gateway only when it lists them (``serve --list-output-schemas``).
OUTPUT_SCHEMAS_FILE = "output_schemas.json"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
# A source checkout keeps templates/ beside the package; an installed wheel carries them
# as package data in fastn_gen/templates (setup.py maps one onto the other).
DEFAULT_TEMPLATES = (
    PACKAGE_ROOT / "templates"
    if (PACKAGE_ROOT / "templates").is_dir()
    else PACKAGE_ROOT.parent / "templates"
)
# Source that shapes the output: a change here makes generated/ stale.
GENERATOR_SOURCES = ("spec", "codegen")


def template_environment(templates_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["py"] = py_literal
    return env


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tree_hashes(root: Path, pattern: str) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): _sha256_bytes(p.read_bytes())
        for p in sorted(root.rglob(pattern))
        if p.is_file() and "__pycache__" not in p.parts
    }


def generator_fingerprint() -> str:
    digest = hashlib.sha256()
    for part in GENERATOR_SOURCES:
        for rel, sha in _tree_hashes(PACKAGE_ROOT / part, "*.py").items():
            digest.update(f"{part}/{rel}:{sha}\n".encode())
    return digest.hexdigest()


def _annotations(tool: Tool) -> dict[str, Any]:
    a = tool.annotations
    return {
        "readOnlyHint": a.read_only,
        "destructiveHint": a.destructive,
        "idempotentHint": a.idempotent,
        "openWorldHint": a.open_world,
    }


def manifest_tool(tool: Tool) -> dict[str, Any]:
    return {
        "name": tool.name,
        "connector": tool.connector,
        "operation_id": tool.operation_id,
        "title": tool.title,
        "description": tool.description,
        "method": tool.method,
        "path": tool.path,
        "tags": list(tool.tags),
        "annotations": _annotations(tool),
        "input_schema": tool.input_schema,
    }


def described_tool(tool: Tool) -> dict[str, Any]:
    """A tool's manifest entry with its output schema (``fastn-gen tools --json``)."""
    entry = manifest_tool(tool)
    if tool.output_schema is not None:
        entry["output_schema"] = tool.output_schema
    return entry


def manifest_connector(c: Connector) -> dict[str, Any]:
    return {
        "name": c.name,
        "title": c.title,
        "description": c.description,
        "base_url": c.base_url,
        "auth": {"kind": c.auth.kind, "fields": list(c.auth.fields)},
        "variables": sorted(_variables(c)),
        "module": f"connectors/{c.name}.py",
        "source": c.source,
        "health_check": c.health_check,
        "tool_count": len(c.tools),
        "skipped_count": len(c.skipped),
    }


# Where a tool's entry sits in manifest.json: the manifest, its "tools" list, the entry.
TOOL_DEPTH = 2


def encoded_manifest_tool(tool: Tool) -> Encoded:
    """A tool's manifest entry as the manifest's text will hold it."""
    return Encoded(dumps_layered(manifest_tool(tool), depth=TOOL_DEPTH))


# output_schemas.json: one line per tool, each schema on its line by the C encoder.
SCHEMA_LEVELS = 1


def encoded_output_schemas(tools: Iterable[Tool]) -> dict[str, Encoded]:
    """The output schemas of ``tools`` as output_schemas.json will hold them."""
    return {
        t.name: Encoded(dumps_layered(t.output_schema, levels=SCHEMA_LEVELS, depth=1))
        for t in tools
        if t.output_schema is not None
    }


def output_schemas_text(result: LoadResult, encoded: Mapping[str, Encoded] | None = None) -> bytes:
    """output_schemas.json: tool name → output schema, sorted by name; tools without
    one are left out. ``encoded`` holds schemas already written (by tool name)."""
    encoded = encoded or {}
    schemas: dict[str, Any] = {}
    for tool in sorted((t for c in result.connectors for t in c.tools), key=lambda t: t.name):
        schema = encoded.get(tool.name) or tool.output_schema
        if schema is not None:
            schemas[tool.name] = schema
    return (dumps_layered(schemas, levels=SCHEMA_LEVELS) + "\n").encode()


def build_manifest(
    result: LoadResult,
    templates_dir: Path,
    output_schemas: bytes,
    encoded: Mapping[str, Encoded] | None = None,
) -> dict[str, Any]:
    """The manifest; ``encoded`` holds tool entries already written (by tool name),
    ``output_schemas`` the text of output_schemas.json (its digest is recorded, so a
    file from another build is refused)."""
    encoded = encoded or {}
    connectors = sorted(result.connectors, key=lambda c: c.name)
    tools = sorted((t for c in connectors for t in c.tools), key=lambda t: t.name)
    skipped = sorted(
        (s for c in connectors for s in c.skipped), key=lambda s: (s.connector, s.operation)
    )
    return {
        "format": MANIFEST_FORMAT,
        "generator": f"fastn-gen {__version__}",
        "inputs": {
            "connectors": dict(sorted(result.inputs.items())),
            "templates": _tree_hashes(templates_dir, "*.jinja"),
            "generator": generator_fingerprint(),
        },
        "output_schemas": {
            "file": OUTPUT_SCHEMAS_FILE,
            "sha256": _sha256_bytes(output_schemas),
        },
        "connectors": [manifest_connector(c) for c in connectors],
        "tools": [encoded.get(t.name) or manifest_tool(t) for t in tools],
        "skipped": [
            {"connector": s.connector, "operation": s.operation, "reason": s.reason}
            | ({"pointer": s.pointer} if s.pointer else {})
            for s in skipped
        ],
    }


def _variables(c: Connector) -> dict[str, str]:
    """Connection variables (name → regex) declared by the spec, e.g. Shopify's shop."""
    declared = c.extra.get("variables") or {}
    return {
        name: str((spec or {}).get("pattern") or ".+") for name, spec in sorted(declared.items())
    }


def _response_ok(c: Connector) -> tuple[str | None, str | None]:
    ok = c.extra.get("response_ok") or {}
    return ok.get("field"), ok.get("error_field")


@dataclass(frozen=True, slots=True)
class _Builder:
    tool: str
    function_name: str
    source: str


def render_connector(env: jinja2.Environment, c: Connector) -> str:
    builders: list[_Builder] = []
    imports: set[str] = set()
    for tool in sorted(c.tools, key=lambda t: t.name):
        model = render_model_builder(tool.name, tool.input_schema)
        builders.append(_Builder(tool.name, model.function_name, model.source))
        imports.update(model.imports)
    ok_field, error_field = _response_ok(c)
    return env.get_template("connector_module.py.jinja").render(
        connector=c,
        tools=sorted(c.tools, key=lambda t: t.name),
        source=c.source,
        builders=builders,
        imports=sorted(imports),
        variables=tuple(_variables(c).items()),
        response_ok_field=ok_field,
        response_error_field=error_field,
    )


def render_outputs(
    result: LoadResult,
    templates_dir: Path = DEFAULT_TEMPLATES,
    progress: Progress | None = None,
    formatted: Mapping[str, str] | None = None,
    encoded: Mapping[str, Encoded] | None = None,
    encoded_schemas: Mapping[str, Encoded] | None = None,
) -> dict[str, bytes]:
    """Every file of generated/, keyed by its path relative to the output directory.

    ``formatted``: connector modules already rendered and formatted (by path);
    ``encoded``: manifest entries of tools already written (by tool name);
    ``encoded_schemas``: output schemas already written (by tool name).
    """
    formatted = formatted or {}
    env = template_environment(templates_dir)
    connectors = sorted(result.connectors, key=lambda c: c.name)
    python: dict[str, str] = {
        "__init__.py": env.get_template("package_init.py.jinja").render(
            what="Gateway code generated from connectors.d."
        ),
        "connectors/__init__.py": env.get_template("package_init.py.jinja").render(
            what="One module per connector: operation metadata and typed input models."
        ),
        "server.py": env.get_template("server.py.jinja").render(
            connectors=connectors, connector_names=tuple(c.name for c in connectors)
        ),
    }
    for c in connectors:
        if f"connectors/{c.name}.py" in formatted:
            continue
        if progress:
            progress(f"rendering connectors/{c.name}.py ({len(c.tools)} tools)", False)
        python[f"connectors/{c.name}.py"] = render_connector(env, c)
    if progress:
        progress(f"formatting {len(python)} Python files", False)
    outputs = {path: source.encode() for path, source in format_python(python).items()}
    outputs.update((path, source.encode()) for path, source in formatted.items())
    if progress:
        progress(f"writing manifest.json and {OUTPUT_SCHEMAS_FILE}", False)
    schemas = output_schemas_text(result, encoded_schemas)
    manifest = build_manifest(result, templates_dir, schemas, encoded)
    outputs[OUTPUT_SCHEMAS_FILE] = schemas
    outputs["manifest.json"] = (dumps_layered(manifest) + "\n").encode()
    return dict(sorted(outputs.items()))


def stale_files(outputs: dict[str, bytes], out_dir: Path) -> list[str]:
    """Paths whose content on disk differs from ``outputs``, plus leftovers to delete."""
    stale = [
        rel
        for rel, data in outputs.items()
        if not (out_dir / rel).is_file() or (out_dir / rel).read_bytes() != data
    ]
    return sorted(stale + leftover_files(outputs, out_dir))


def leftover_files(outputs: Iterable[str], out_dir: Path) -> list[str]:
    """Generated connector modules on disk that no longer have a spec."""
    wanted = set(outputs)
    conn_dir = out_dir / "connectors"
    if not conn_dir.is_dir():
        return []
    return sorted(
        rel
        for p in conn_dir.glob("*.py")
        if (rel := p.relative_to(out_dir).as_posix()) not in wanted
    )


def write_outputs(outputs: dict[str, bytes], out_dir: Path) -> list[str]:
    """Write changed files only (keeps mtimes of unchanged ones); returns what changed."""
    changed = stale_files(outputs, out_dir)
    for rel in changed:
        target = out_dir / rel
        if rel not in outputs:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_bytes(outputs[rel])
        tmp.replace(target)
    return changed
