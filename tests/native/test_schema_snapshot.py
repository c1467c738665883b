"""The shipped native tool schemas are exactly what the tools' models generate."""

from __future__ import annotations

from fastn_gen.native import schema_snapshot
from fastn_gen.native.registry import NATIVE_TOOLS


def test_the_shipped_snapshot_is_current() -> None:
    shipped = schema_snapshot.snapshot_path().read_text(encoding="utf-8")
    assert shipped == schema_snapshot.render(NATIVE_TOOLS), (
        "fastn_gen/native/native_schemas.json is stale: run "
        "`python -m fastn_gen.native.schema_snapshot`"
    )


def test_every_native_tool_is_listed_with_its_models_schemas() -> None:
    for tool in NATIVE_TOOLS:
        listed = tool.mcp_tool()
        assert listed.input_schema == tool.input_model.model_json_schema()
        assert listed.output_schema == tool.output_model.model_json_schema(mode="serialization")


def test_callers_get_their_own_copy() -> None:
    tool = NATIVE_TOOLS[0]
    first = tool.input_schema()
    first["properties"] = {}
    assert tool.input_schema() == tool.input_model.model_json_schema()
