"""Annotations of the flow management tools: deleting a flow is destructive."""

from __future__ import annotations

from fastn_gen.native.flow_tools import DELETE_FLOW, SET_FLOW_ENABLED


def test_only_deleting_a_flow_is_marked_destructive() -> None:
    deleted = DELETE_FLOW.mcp_tool().annotations
    toggled = SET_FLOW_ENABLED.mcp_tool().annotations
    assert deleted is not None and deleted.destructive_hint is True
    assert deleted.read_only_hint is False
    assert toggled is not None and toggled.destructive_hint is False
