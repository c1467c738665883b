"""Every tool of a generated directory, loaded once at start-up.

``manifest.json`` is read once and each connector module is imported by file path: no
spec is parsed at start-up. The MCP ``Tool`` objects are built here, once, so serving
``tools/list`` is a dictionary lookup, and per-tenant lists are cached by the set of
connectors a tenant has connected (tenants on the same plan share one list).

The tools' output schemas live apart, in ``output_schemas.json`` (most of a large
build's bytes), and are read only when asked for: by ``load(output_schemas=True)`` (a
server listing them) or on the first :meth:`Catalog.output_schema`, once either way.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import mcp_types as types

from fastn_gen.collector import collector_paused
from fastn_gen.runtime.operation import ConnectorSpec, LazyModels, Operation, ToolInput

# As fastn_gen.codegen.emit writes it (not imported: the gateway does not load codegen).
MANIFEST_FORMAT = 2
MODULE_PREFIX = "fastn_generated_"


class CatalogError(Exception):
    """The generated directory is missing, stale or inconsistent."""


@dataclass(frozen=True, slots=True)
class ToolEntry:
    """One dynamic tool: what is advertised and what is needed to run it."""

    tool: types.Tool
    connector: ConnectorSpec
    operation: Operation
    input_models: LazyModels
    # The operation's tags (OpenAPI ``tags``, native ``tags``), for toolsets.
    tags: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.tool.name

    @property
    def input_schema(self) -> dict[str, Any]:
        return self.tool.input_schema

    def input_model(self) -> type[ToolInput]:
        """The tool's pydantic input model (built on first use, then cached)."""
        return self.input_models(self.tool.name)


@dataclass(frozen=True, slots=True)
class ConnectorEntry:
    spec: ConnectorSpec
    tool_names: tuple[str, ...]  # sorted
    module: ModuleType


class Catalog:
    """Tools by name, connectors by name, and cached per-tenant tool lists."""

    def __init__(
        self,
        connectors: Mapping[str, ConnectorEntry],
        tools: Mapping[str, ToolEntry],
        native_tools: Iterable[types.Tool] = (),
        output_schemas: OutputSchemas | None = None,
    ) -> None:
        self.connectors: dict[str, ConnectorEntry] = dict(connectors)
        self.tools: dict[str, ToolEntry] = dict(tools)
        # Tools served for every tenant, listed before the dynamic ones. None are
        # registered yet; they would be added here with their own call handlers.
        self.native_tools: tuple[types.Tool, ...] = tuple(native_tools)
        self._lists: dict[frozenset[str], tuple[types.Tool, ...]] = {}
        self.output_schemas = output_schemas or OutputSchemas(None, None)
        # Whether the tools' ``Tool`` objects carry their output schemas.
        self.tools_carry_output_schemas = False

    @classmethod
    def load(
        cls, generated_dir: Path, *, module_suffix: str = "", output_schemas: bool = False
    ) -> Catalog:
        """``module_suffix`` (a live reload) imports the modules under names of their own
        and from source, so the catalog still serving keeps its modules.
        ``output_schemas``: the tools' ``Tool`` objects carry their output schemas (read
        from output_schemas.json now); without, they carry none and the file is not read."""
        # Loading allocates millions of long-lived objects (the manifest's schemas) and
        # no reference cycles; the cyclic collector would rescan them again and again.
        # Paused meanwhile, the load takes about a third less time.
        with collector_paused():
            return cls._load(Path(generated_dir), module_suffix, output_schemas)

    @classmethod
    def _load(
        cls, generated_dir: Path, module_suffix: str = "", with_schemas: bool = False
    ) -> Catalog:
        manifest = _read_manifest(generated_dir)
        output_schemas = _output_schemas_of(generated_dir, manifest)
        schemas = output_schemas.all() if with_schemas else {}
        connectors: dict[str, ConnectorEntry] = {}
        operations: dict[str, tuple[dict[str, Operation], LazyModels]] = {}
        names_by_connector: dict[str, list[str]] = {}
        for raw in manifest.get("connectors", []):
            name = str(raw["name"])
            module = _import_connector(generated_dir, name, str(raw["module"]), module_suffix)
            spec, ops, models = _connector_parts(module, name)
            connectors[name] = ConnectorEntry(spec=spec, tool_names=(), module=module)
            operations[name] = (ops, models)
            names_by_connector[name] = []

        tools: dict[str, ToolEntry] = {}
        for raw in manifest.get("tools", []):
            name = str(raw["name"])
            connector = str(raw["connector"])
            if connector not in connectors:
                raise CatalogError(f"tool {name}: unknown connector {connector!r} in manifest")
            if name in tools:
                raise CatalogError(f"tool {name}: listed twice in manifest")
            ops, models = operations[connector]
            if name not in ops or name not in models:
                raise CatalogError(
                    f"tool {name}: not in {connectors[connector].module.__file__}; "
                    "the generated directory is stale, run `fastn-gen build`"
                )
            tools[name] = ToolEntry(
                tool=_mcp_tool(raw, schemas.get(name)),
                connector=connectors[connector].spec,
                operation=ops[name],
                input_models=models,
                tags=tuple(str(tag) for tag in raw.get("tags") or ()),
            )
            names_by_connector[connector].append(name)

        for name, entry in connectors.items():
            connectors[name] = ConnectorEntry(
                spec=entry.spec,
                tool_names=tuple(sorted(names_by_connector[name])),
                module=entry.module,
            )
        catalog = cls(connectors, tools, output_schemas=output_schemas)
        catalog.tools_carry_output_schemas = with_schemas
        return catalog

    @property
    def tool_count(self) -> int:
        return len(self.tools) + len(self.native_tools)

    def connector_specs(self) -> dict[str, ConnectorSpec]:
        return {name: entry.spec for name, entry in self.connectors.items()}

    def tools_for(self, connectors: Iterable[str]) -> tuple[types.Tool, ...]:
        """Native tools, then the tools of ``connectors`` sorted by name (cached)."""
        key = frozenset(c for c in connectors if c in self.connectors)
        listed = self._lists.get(key)
        if listed is None:
            names = sorted(n for c in key for n in self.connectors[c].tool_names)
            listed = self.native_tools + tuple(self.tools[n].tool for n in names)
            self._lists[key] = listed
        return listed

    def output_schema(self, name: str) -> dict[str, Any] | None:
        """Tool ``name``'s output schema (output_schemas.json is read on first use)."""
        return self.output_schemas.all().get(name) if name in self.tools else None

    def visible(self, name: str, connectors: Iterable[str]) -> ToolEntry | None:
        """The tool named ``name`` if it belongs to one of ``connectors``, else None."""
        entry = self.tools.get(name)
        if entry is None or entry.connector.name not in connectors:
            return None
        return entry


def _read_manifest(generated_dir: Path) -> dict[str, Any]:
    path = generated_dir / "manifest.json"
    try:
        manifest: object = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"{path} not found; run `fastn-gen build` first") from None
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path}: not valid JSON: {exc}") from None
    found = manifest.get("format") if isinstance(manifest, dict) else None
    if not isinstance(manifest, dict) or found != MANIFEST_FORMAT:
        raise CatalogError(
            f"{path}: manifest format {found!r} is not {MANIFEST_FORMAT}; "
            "rebuild with this version of fastn-gen"
        )
    return manifest


class OutputSchemas:
    """output_schemas.json, read on first use and then kept (thread-safe: a live reload
    loads catalogs in a worker thread)."""

    def __init__(self, path: Path | None, sha256: str | None) -> None:
        self.path = path
        self.sha256 = sha256
        self._lock = threading.Lock()
        self._schemas: dict[str, dict[str, Any]] | None = None

    @property
    def loaded(self) -> bool:
        return self._schemas is not None

    def all(self) -> dict[str, dict[str, Any]]:
        """Output schemas by tool name; tools without one are absent."""
        if self._schemas is None:
            with self._lock:
                if self._schemas is None:
                    self._schemas = self._read()
        return self._schemas

    def _read(self) -> dict[str, dict[str, Any]]:
        if self.path is None:
            return {}
        path = self.path
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CatalogError(f"{path} not found; run `fastn-gen build`") from None
        except OSError as exc:
            raise CatalogError(f"{path}: cannot be read: {exc}") from None
        if hashlib.sha256(data).hexdigest() != self.sha256:
            # A file from another build, or cut short: its schemas would not be the tools'.
            raise CatalogError(
                f"{path} does not match manifest.json (another build's, or damaged); "
                "run `fastn-gen build`"
            )
        try:
            schemas: object = json.loads(data)
        except ValueError as exc:
            raise CatalogError(f"{path}: not valid JSON: {exc}") from None
        if not isinstance(schemas, dict) or not all(isinstance(v, dict) for v in schemas.values()):
            raise CatalogError(f"{path}: expected an object of output schemas by tool name")
        return schemas


def _output_schemas_of(generated_dir: Path, manifest: Mapping[str, Any]) -> OutputSchemas:
    """Where the manifest says its output schemas are (not read here)."""
    path = generated_dir / "manifest.json"
    ref = manifest.get("output_schemas")
    if not isinstance(ref, dict) or not all(
        isinstance(ref.get(key), str) for key in ("file", "sha256")
    ):
        raise CatalogError(f"{path}: no valid output_schemas entry; run `fastn-gen build`")
    file = Path(ref["file"])
    if file.is_absolute() or ".." in file.parts:
        raise CatalogError(f"{path}: output schemas file {ref['file']!r} is outside the directory")
    return OutputSchemas(generated_dir / file, ref["sha256"])


class _SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Compiles from source, ignoring cached bytecode.

    Bytecode is checked against the source's size and mtime in whole seconds, so a
    module rebuilt within the second its bytecode was written, at the same size,
    would load stale. Without stats the loader neither reads nor writes the cache.
    """

    def path_stats(self, path: str) -> Mapping[str, Any]:
        raise OSError("bytecode cache bypassed")


def _import_connector(
    generated_dir: Path, name: str, rel: str, module_suffix: str = ""
) -> ModuleType:
    path = (generated_dir / rel).resolve()
    if not path.is_file():
        raise CatalogError(f"connector {name}: module {path} not found")
    module_name = MODULE_PREFIX + name + module_suffix
    existing = sys.modules.get(module_name)
    if existing is not None and getattr(existing, "__file__", None) != str(path):
        # Another generated directory already uses the name in this process.
        module_name += "_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    loader = _SourceOnlyLoader(module_name, str(path)) if module_suffix else None
    spec = importlib.util.spec_from_file_location(module_name, path, loader=loader)
    if spec is None or spec.loader is None:
        raise CatalogError(f"connector {name}: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before running: pydantic resolves the deferred input models'
    # annotations through sys.modules when they are first built.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise CatalogError(f"connector {name}: importing {path} failed: {exc!r}") from exc
    return module


def _connector_parts(
    module: ModuleType, name: str
) -> tuple[ConnectorSpec, dict[str, Operation], LazyModels]:
    spec = getattr(module, "CONNECTOR", None)
    ops = getattr(module, "OPERATIONS", None)
    models = getattr(module, "INPUT_MODELS", None)
    if not isinstance(spec, ConnectorSpec) or not isinstance(ops, dict):
        raise CatalogError(f"connector {name}: {module.__file__} lacks CONNECTOR or OPERATIONS")
    if not isinstance(models, LazyModels):
        raise CatalogError(f"connector {name}: {module.__file__} lacks INPUT_MODELS")
    if spec.name != name:
        raise CatalogError(f"connector {name}: module declares connector {spec.name!r}")
    return spec, ops, models


def _mcp_tool(raw: Mapping[str, Any], output_schema: dict[str, Any] | None) -> types.Tool:
    hints = raw.get("annotations") or {}
    return types.Tool(
        name=str(raw["name"]),
        title=raw.get("title"),
        description=raw.get("description"),
        input_schema=raw["input_schema"],
        output_schema=output_schema,
        annotations=types.ToolAnnotations(
            read_only_hint=hints.get("readOnlyHint"),
            destructive_hint=hints.get("destructiveHint"),
            idempotent_hint=hints.get("idempotentHint"),
            open_world_hint=hints.get("openWorldHint"),
        ),
    )
