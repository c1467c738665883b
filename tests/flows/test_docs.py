"""docs/flows.md publishes the model's schema, and every flow it shows is a valid flow."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from fastn_gen.flows.schema import documented_schema, flow_json_schema, main, updated
from fastn_gen.gateway.catalog import Catalog
from fastn_gen.native.flow_spec import FlowSpec, check_flow
from fastn_gen.native.registry import NATIVE_TOOLS
from tests.gateway.fixtures.gateway_process import GENERATED_MIN, REPO_ROOT

DOC = REPO_ROOT / "docs" / "flows.md"
EXAMPLES = sorted((REPO_ROOT / "examples" / "flows").glob("*.yaml"))
CATALOG = Catalog.load(GENERATED_MIN)
NATIVE = {tool.name: tool.input_model for tool in NATIVE_TOOLS}
_BLOCK = re.compile(r"```(json|yaml)\n(.*?)```", re.DOTALL)


def acme_tool(name: str) -> type[BaseModel] | None:
    if name in NATIVE:
        return NATIVE[name]
    entry = CATALOG.visible(name, ["slack", "shopify"])
    return entry.input_model() if entry is not None else None


def documented_flows() -> list[dict[str, Any]]:
    text = DOC.read_text(encoding="utf-8")
    flows = []
    for kind, body in _BLOCK.findall(text):
        doc = json.loads(body) if kind == "json" else yaml.safe_load(body)
        if isinstance(doc, dict) and "steps" in doc and "trigger" in doc:
            flows.append(doc)
    return flows


def test_the_published_schema_is_the_models() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert documented_schema(text) == flow_json_schema() == FlowSpec.model_json_schema()
    assert updated(text) == text
    assert main([str(DOC), "--check"]) == 0


def test_a_stale_schema_is_found_and_rewritten(tmp_path: Path) -> None:
    stale = tmp_path / "flows.md"
    text = DOC.read_text(encoding="utf-8")
    stale.write_text(text.replace('"FlowSpec"', '"OldSpec"', 1), encoding="utf-8")
    assert main([str(stale), "--check"]) == 1
    assert main([str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == text


@pytest.mark.parametrize(
    "flow", documented_flows() + [yaml.safe_load(p.read_text()) for p in EXAMPLES]
)
def test_every_flow_shown_is_valid_for_a_tenant_with_slack_and_shopify(
    flow: dict[str, Any],
) -> None:
    spec = FlowSpec.model_validate(flow)
    assert check_flow(spec, acme_tool, {"slack", "shopify"}) == []


def test_the_documented_monitoring_flow_is_the_shipped_example() -> None:
    shipped = yaml.safe_load((REPO_ROOT / "examples" / "flows" / "ops-monitor.yaml").read_text())
    documented = next(f for f in documented_flows() if f["name"] == "ops-monitor")
    assert documented == shipped
    assert len(documented_flows()) == 3
