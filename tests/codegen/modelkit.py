"""Render model builders and import them the way a generated connector module is imported."""

from __future__ import annotations

import itertools
import sys
import types
from collections.abc import Iterable
from typing import Any

from fastn_gen.codegen.pymodels import ModelSource, render_model_builder
from fastn_gen.runtime.operation import ToolInput

_modules = itertools.count()


def module_source(sources: Iterable[ModelSource], header: str = "") -> str:
    """A module holding the builders, laid out like ``connector_module.py.jinja``."""
    sources = list(sources)
    imports = sorted(set().union(*(s.imports for s in sources)))
    parts = [header + '"""Generated input models."""', "", "from __future__ import annotations", ""]
    parts += imports
    for s in sources:
        parts += ["", "", s.source]
    return "\n".join(parts) + "\n"


def load(sources: Iterable[ModelSource]) -> types.ModuleType:
    """Execute the builders in a real module (pydantic resolves names through it)."""
    name = f"_fastn_generated_{next(_modules)}"
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(module_source(sources), name, "exec"), module.__dict__)
    return module


def build(schema: dict[str, Any], tool: str = "demo_tool") -> type[ToolInput]:
    """The input model for ``schema``."""
    source = render_model_builder(tool, schema)
    builder = getattr(load([source]), source.function_name)
    model = builder()
    assert isinstance(model, type) and issubclass(model, ToolInput)
    return model


def obj(properties: dict[str, Any], required: Iterable[str] = (), **extra: Any) -> dict[str, Any]:
    """A closed tool input schema, as ``build_input_schema`` produces."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    schema["additionalProperties"] = False
    schema.update(extra)
    return schema
