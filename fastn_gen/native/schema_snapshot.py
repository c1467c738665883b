"""The native tools' JSON Schemas, generated once and shipped with the package.

Pydantic takes about 50 ms of CPU to generate the native tools' input and output
schemas, at every start, though they change only when a native tool's models do. They
are generated here instead and kept in ``native_schemas.json``:

    python -m fastn_gen.native.schema_snapshot      # rewrite it after changing a model

``tests/native/test_schema_snapshot.py`` fails while the file differs from what the
models generate, so a stale snapshot cannot reach main. A tool missing from the file
(a development tree between a change and the rewrite) has its schemas generated.
"""

from __future__ import annotations

import copy
import functools
import json
import sys
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastn_gen.native.base import NativeTool

SNAPSHOT = "native_schemas.json"
Schemas = dict[str, dict[str, Any]]  # {"input": ..., "output": ...}


def generated(tool: NativeTool[Any, Any]) -> Schemas:
    """What the tool's models generate now."""
    return {
        "input": tool.input_model.model_json_schema(),
        "output": tool.output_model.model_json_schema(mode="serialization"),
    }


@functools.cache
def _shipped() -> dict[str, Schemas]:
    try:
        text = resources.files("fastn_gen.native").joinpath(SNAPSHOT).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    loaded: dict[str, Schemas] = json.loads(text)
    return loaded


def schemas(tool: NativeTool[Any, Any]) -> Schemas:
    """The tool's schemas: shipped if present, else generated. A copy each time, as
    generated ones were, so a caller's change never reaches the shared snapshot."""
    shipped = _shipped().get(tool.name)
    return copy.deepcopy(shipped) if shipped is not None else generated(tool)


def render(tools: Iterable[NativeTool[Any, Any]]) -> str:
    """The snapshot file's text for ``tools`` (sorted, so byte-stable)."""
    doc = {tool.name: generated(tool) for tool in tools}
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def snapshot_path() -> Path:
    return Path(__file__).with_name(SNAPSHOT)


def main() -> int:
    from fastn_gen.native.registry import NATIVE_TOOLS

    snapshot_path().write_text(render(NATIVE_TOOLS), encoding="utf-8")
    print(f"wrote {snapshot_path()} ({len(NATIVE_TOOLS)} tools)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
