"""Loading a generated directory into the gateway's catalog."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from fastn_gen.gateway.catalog import Catalog, CatalogError

GENERATED_MIN = Path(__file__).resolve().parent / "fixtures" / "generated_min"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(GENERATED_MIN)


def test_tools_are_built_once_from_the_manifest(catalog: Catalog) -> None:
    assert sorted(catalog.tools) == [
        "shopify_list_orders",
        "slack_list_channels",
        "slack_send_message",
    ]
    assert catalog.tool_count == 3
    send = catalog.tools["slack_send_message"]
    assert send.tool.title == "Send a message"
    assert send.tool.input_schema["required"] == ["channel", "text"]
    # Output schemas are not read at load unless asked for (see below).
    assert send.tool.output_schema is None
    assert send.tool.annotations is not None
    assert send.tool.annotations.read_only_hint is False
    assert send.tool.annotations.open_world_hint is True
    assert send.operation.method == "POST"
    assert send.connector.name == "slack"
    assert send.connector.response_ok_field == "ok"
    orders = catalog.tools["shopify_list_orders"]
    assert orders.tool.annotations is not None and orders.tool.annotations.read_only_hint
    assert orders.connector.variables == (("shop", "^[a-z0-9][a-z0-9-]*$"),)
    assert catalog.connectors["slack"].tool_names == ("slack_list_channels", "slack_send_message")


def test_per_tenant_lists_are_sorted_and_shared(catalog: Catalog) -> None:
    both = catalog.tools_for(["slack", "shopify"])
    assert [t.name for t in both] == [
        "shopify_list_orders",
        "slack_list_channels",
        "slack_send_message",
    ]
    assert catalog.tools_for(["shopify", "slack"]) is both
    assert [t.name for t in catalog.tools_for(["slack", "github"])] == [
        "slack_list_channels",
        "slack_send_message",
    ]
    assert catalog.tools_for([]) == ()


def test_visibility_follows_connected_connectors(catalog: Catalog) -> None:
    assert catalog.visible("shopify_list_orders", ["slack"]) is None
    assert catalog.visible("no_such_tool", ["slack", "shopify"]) is None
    entry = catalog.visible("shopify_list_orders", ["shopify"])
    assert entry is not None and entry.name == "shopify_list_orders"


def test_input_models_validate_and_report_fields(catalog: Catalog) -> None:
    model = catalog.tools["slack_send_message"].input_model()
    assert model.model_validate({"channel": "C1", "text": "hi"}).to_arguments() == {
        "channel": "C1",
        "text": "hi",
    }
    with pytest.raises(ValidationError) as info:
        model.model_validate({"text": "hi", "extra": 1})
    assert {e["loc"][0] for e in info.value.errors()} == {"channel", "extra"}


def test_missing_manifest_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="manifest.json not found"):
        Catalog.load(tmp_path)


def test_other_manifest_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 3}))
    with pytest.raises(CatalogError, match="format 3 is not 2"):
        Catalog.load(tmp_path)


def test_a_manifest_with_output_schemas_inside_is_refused(tmp_path: Path) -> None:
    """Format 1 kept the output schemas in manifest.json: rebuild."""
    dest = copy_generated(tmp_path)
    manifest = json.loads((dest / "manifest.json").read_text())
    del manifest["output_schemas"]
    manifest["format"] = 1
    manifest["tools"][2]["output_schema"] = {"type": "object"}
    (dest / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CatalogError) as caught:
        Catalog.load(dest)
    message = str(caught.value)
    assert "manifest.json: manifest format 1 is not 2" in message
    assert "rebuild with this version of fastn-gen" in message


def copy_generated(tmp_path: Path) -> Path:
    dest = tmp_path / "generated"
    shutil.copytree(GENERATED_MIN, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_output_schemas_are_read_when_asked_for(tmp_path: Path) -> None:
    carrying = Catalog.load(GENERATED_MIN, output_schemas=True)
    assert carrying.tools_carry_output_schemas and carrying.output_schemas.loaded
    send = carrying.tools["slack_send_message"].tool
    assert send.output_schema is not None
    assert send.output_schema["properties"]["ts"] == {"type": "string"}
    assert send.output_schema["required"] == ["ok"]
    # Tools without one stay without.
    assert carrying.tools["slack_list_channels"].tool.output_schema is None

    lazy = Catalog.load(copy_generated(tmp_path))
    assert not lazy.output_schemas.loaded
    assert lazy.output_schema("slack_send_message") == send.output_schema
    assert lazy.output_schemas.loaded
    assert lazy.output_schema("slack_list_channels") is None
    assert lazy.output_schema("no_such_tool") is None


def test_output_schemas_file_is_not_read_unless_asked_for(tmp_path: Path) -> None:
    dest = copy_generated(tmp_path)
    (dest / "output_schemas.json").unlink()
    catalog = Catalog.load(dest)  # the file is not needed for this
    assert sorted(catalog.tools) == sorted(Catalog.load(GENERATED_MIN).tools)
    with pytest.raises(CatalogError, match=r"generated/output_schemas\.json not found"):
        catalog.output_schema("slack_send_message")
    with pytest.raises(CatalogError, match=r"generated/output_schemas\.json not found"):
        Catalog.load(dest, output_schemas=True)


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[:-20],  # cut short
        lambda text: text.replace('"ts"', '"tz"'),  # another build's
    ],
)
def test_a_damaged_output_schemas_file_is_refused(
    tmp_path: Path, damage: Callable[[str], str]
) -> None:
    dest = copy_generated(tmp_path)
    path = dest / "output_schemas.json"
    path.write_text(damage(path.read_text()))
    with pytest.raises(CatalogError) as caught:
        Catalog.load(dest, output_schemas=True)
    assert str(path) in str(caught.value)
    assert "does not match manifest.json" in str(caught.value)


def test_output_schemas_that_are_not_a_mapping_are_refused(tmp_path: Path) -> None:
    dest = copy_generated(tmp_path)
    text = b"[1, 2]\n"
    (dest / "output_schemas.json").write_bytes(text)
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["output_schemas"]["sha256"] = hashlib.sha256(text).hexdigest()
    (dest / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CatalogError, match="output_schemas.json: expected an object"):
        Catalog.load(dest, output_schemas=True)


def test_a_manifest_without_its_output_schemas_entry_is_refused(tmp_path: Path) -> None:
    dest = copy_generated(tmp_path)
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["output_schemas"] = {"file": "../elsewhere.json", "sha256": "0"}
    (dest / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CatalogError, match="is outside"):
        Catalog.load(dest)
    del manifest["output_schemas"]
    (dest / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CatalogError, match="no valid output_schemas entry"):
        Catalog.load(dest)


def test_tool_missing_from_its_module_means_stale(tmp_path: Path) -> None:
    dest = tmp_path / "generated"
    shutil.copytree(GENERATED_MIN, dest, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = json.loads((dest / "manifest.json").read_text())
    extra = dict(manifest["tools"][1], name="slack_archive_channel")
    manifest["tools"].append(extra)
    (dest / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CatalogError, match="slack_archive_channel: .*stale"):
        Catalog.load(dest)


def test_two_directories_load_side_by_side(tmp_path: Path, catalog: Catalog) -> None:
    dest = tmp_path / "generated"
    shutil.copytree(GENERATED_MIN, dest, ignore=shutil.ignore_patterns("__pycache__"))
    other = Catalog.load(dest)
    assert other.connectors["slack"].module is not catalog.connectors["slack"].module
    model = other.tools["slack_list_channels"].input_model()
    assert model.model_validate({"limit": 5}).to_arguments() == {"limit": 5}
