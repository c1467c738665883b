"""``fastn-gen flows``: a YAML flow saved, listed, run, inspected, disabled and deleted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fastn_gen.cli_flows import flows
from tests.flows.world import World

DIGEST_YAML = """\
name: channel-digest
description: Greet every channel, then count them
trigger: {type: manual}
steps:
  - id: channels
    tool: slack_list_channels
    arguments: {limit: 10}
  - id: greet
    tool: slack_send_message
    for_each: steps.channels.result.channels
    arguments:
      channel: "{{ item.id }}"
      text: "Hello #{{ item.name }}, from {{ trigger.input.who }}"
  - id: count
    tool: slack_send_message
    arguments:
      channel: C001
      text: "{{ length(steps.greet.result) }} channels greeted"
"""


def invoke(world: World, *args: str, code: int = 0) -> Result:
    where = ["--tenant", "acme", "--config", str(world.config), "--generated", str(world.generated)]
    result = CliRunner().invoke(flows, [*args, *where], env=world.tokens, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def test_a_yaml_flow_through_every_command(world: World, tmp_path: Path) -> None:
    path = tmp_path / "digest.yaml"
    path.write_text(DIGEST_YAML, encoding="utf-8")
    assert "saved channel-digest version 1" in invoke(world, "create", str(path)).stdout
    assert "version 2" in invoke(world, "create", str(path)).stdout

    listed = as_json(invoke(world, "list", "--json"))
    assert [(f["name"], f["version"], f["enabled"]) for f in listed["flows"]] == [
        ("channel-digest", 2, True)
    ]

    ran = invoke(world, "run", "channel-digest", "--input", '{"who": "the CLI"}')
    assert "channel-digest v2: succeeded" in ran.stdout
    assert world.slack.posted("C001") == ["Hello #general, from the CLI", "2 channels greeted"]
    assert world.slack.posted("C002") == ["Hello #random, from the CLI"]

    runs = as_json(invoke(world, "runs", "channel-digest", "--json"))["runs"]
    assert [(r["status"], r["trigger"]["source"]) for r in runs] == [("succeeded", "cli")]
    one = as_json(invoke(world, "runs", "--run", runs[0]["run_id"], "--json"))["run"]
    assert [(s["step"], s["item_index"]) for s in one["steps"]] == [
        ("channels", None),
        ("greet", None),
        ("greet", 0),
        ("greet", 1),
        ("count", None),
    ]
    shown = invoke(world, "runs", "--run", runs[0]["run_id"]).stdout
    assert "greet" in shown and "slack_send_message" in shown

    got = as_json(invoke(world, "get", "channel-digest", "--json"))
    assert [v["version"] for v in got["versions"]] == [1, 2]
    assert got["spec"]["steps"][1]["for_each"] == "steps.channels.result.channels"

    assert "channel-digest disabled" in invoke(world, "disable", "channel-digest").stdout
    refused = invoke(world, "run", "channel-digest", code=1)
    assert "disabled" in refused.stderr
    invoke(world, "enable", "channel-digest")
    assert "deleted channel-digest" in invoke(world, "delete", "channel-digest").stdout
    assert as_json(invoke(world, "list", "--json"))["flows"] == []


def test_a_failing_run_exits_1_and_an_invalid_file_exits_2(world: World, tmp_path: Path) -> None:
    failing = tmp_path / "failing.json"
    failing.write_text(
        json.dumps(
            {
                "name": "failing",
                "trigger": {"type": "manual"},
                "steps": [
                    {
                        "id": "post",
                        "tool": "slack_send_message",
                        "arguments": {"channel": "C500", "text": "x"},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    invoke(world, "create", str(failing))
    ran = invoke(world, "run", "failing", code=1)
    assert "failing v1: failed" in ran.stdout and "step post failed" in ran.stdout

    invalid = tmp_path / "invalid.yaml"
    invalid.write_text(
        DIGEST_YAML.replace("slack_list_channels", "shopify_nope").replace("limit: 10", "x: 1"),
        encoding="utf-8",
    )
    refused = invoke(world, "create", str(invalid), code=2)
    assert "steps[0] (channels).tool: unknown tool 'shopify_nope' for this tenant" in refused.stderr
    unknown = invoke(world, "runs", "nothing-here", code=1)
    assert "No flow named 'nothing-here'" in unknown.stderr


def test_an_unknown_tenant_is_refused(world: World) -> None:
    result = CliRunner().invoke(
        flows,
        [
            "list",
            "--tenant",
            "initech",
            "--config",
            str(world.config),
            "--generated",
            str(world.generated),
        ],
        env=world.tokens,
    )
    assert result.exit_code == 2
    assert "no tenant 'initech'" in result.stderr


@pytest.mark.parametrize("command", ["list", "get", "enable", "disable", "delete", "run", "runs"])
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(flows, [command, "--help"])
    assert result.exit_code == 0 and "--tenant" in result.stdout


def test_the_flows_group_is_a_fastn_gen_command() -> None:
    from fastn_gen.cli import main

    assert main.commands["flows"] is flows
