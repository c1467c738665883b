"""``fastn-gen tools --tenant``: what a tenant or key sees, its size, and the cap warnings."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from fastn_gen.cli import main
from fastn_gen.gateway.apikeys import hash_api_key

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "generated"

TENANTS = """\
version: 1
tenants:
  - id: big
    api_keys:
      - {id: big-read, hash: "%(hash)s", toolset: {access: read}}
      - {id: big-slack, hash: "%(hash2)s", toolset: {connectors: [slack], tags: [messaging]}}
    connections:
      - {connector: github, credentials: {token: "${GH}"}}
      - {connector: hubspot, credentials: {access_token: "${HS}"}}
      - {connector: shopify, credentials: {api_key: "${SH}"}, variables: {shop: big}}
      - {connector: slack, credentials: {token: "${SL}"}}
      - {connector: stripe, credentials: {token: "${ST}"}}
  - id: seeker
    toolset: {mode: search, tags: [messaging, no-such-tag]}
    connections:
      - {connector: slack, credentials: {token: "${SL}"}}
"""


def _run(tmp_path: Path, *args: str) -> Any:
    config = tmp_path / "tenants.yaml"
    if not config.exists():
        config.write_text(
            TENANTS % {"hash": hash_api_key("k" * 32), "hash2": hash_api_key("j" * 32)},
            encoding="utf-8",
        )
    return CliRunner().invoke(
        main, ["tools", "--config", str(config), "--generated", str(GENERATED), *args]
    )


def _json(tmp_path: Path, *args: str) -> dict[str, Any]:
    result = _run(tmp_path, "--json", *args)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_a_tenant_above_the_caps_is_warned_with_its_size(tmp_path: Path) -> None:
    result = _run(tmp_path, "--tenant", "big")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "tenant big: 51 tools (mode all)"
    assert lines[1].split() == ["NAME", "CONNECTOR", "ACCESS"]
    assert "stripe_delete_customer" in result.stdout
    row = next(line for line in lines if line.startswith("stripe_delete_customer "))
    assert row.split() == ["stripe_delete_customer", "stripe", "delete"]
    assert lines[-1].startswith("tools/list: 51 tools, ")
    assert "characters per token" in lines[-1]
    assert "warning: 51 tools is above the 40-tool cap(s)" in result.stderr
    assert "mode: search" in result.stderr

    doc = _json(tmp_path, "--tenant", "big")
    size = doc["tools_list"]
    assert doc["count"] == size["tools"] == 51
    assert size["estimated_tokens"] == math.ceil(size["bytes"] / 4)  # the JSON is ASCII
    assert size["bytes"] > 50_000


def test_keys_narrow_and_search_mode_lists_little(tmp_path: Path) -> None:
    everything = _json(tmp_path, "--tenant", "big")
    read = _json(tmp_path, "--tenant", "big", "--key", "big-read")
    slack = _json(tmp_path, "--tenant", "big", "--key", "big-slack")
    assert read["key"] == "big-read"
    assert {row["access"] for row in read["tools"]} == {"read"}
    assert 0 < read["count"] < everything["count"]
    assert read["tools_list"]["bytes"] < everything["tools_list"]["bytes"]
    dynamic = [row["name"] for row in slack["tools"] if row["connector"] != "native"]
    assert dynamic == [
        "slack_add_reaction",
        "slack_channel_history",
        "slack_search_messages",
        "slack_send_message",
    ]
    assert slack["warnings"] == []

    seeker = _json(tmp_path, "--tenant", "seeker")
    assert seeker["mode"] == "search"
    assert seeker["tools_list"]["tools"] == 11 + 2  # native tools and the meta-tools
    assert seeker["warnings"] == ["no tool has the tag 'no-such-tag' (toolset tags match nothing)"]


def test_unknown_tenant_or_key_is_refused(tmp_path: Path) -> None:
    missing = _run(tmp_path, "--tenant", "nobody")
    assert missing.exit_code == 1 and "no tenant 'nobody'" in missing.output
    other = _run(tmp_path, "--tenant", "seeker", "--key", "big-read")
    assert other.exit_code == 1
    assert "tenant seeker has no API key with id 'big-read'" in other.output
    lone_key = _run(tmp_path, "--key", "big-read")
    assert lone_key.exit_code == 2 and "needs --tenant" in lone_key.output


def test_the_specs_tools_are_listed_with_their_output_schemas() -> None:
    # Read from the specs, so the output schemas the manifest leaves out are shown too.
    result = CliRunner().invoke(
        main,
        ["tools", "--connectors", str(REPO / "connectors.d"), "--connector", "slack", "--json"],
    )
    assert result.exit_code == 0, result.output
    listed = {tool["name"]: tool for tool in json.loads(result.stdout)}
    schemas = json.loads((GENERATED / "output_schemas.json").read_bytes())
    slack = {name: schema for name, schema in schemas.items() if name.startswith("slack_")}
    assert slack
    assert {n: t["output_schema"] for n, t in listed.items() if "output_schema" in t} == slack
    assert all(t["input_schema"]["type"] == "object" for t in listed.values())
