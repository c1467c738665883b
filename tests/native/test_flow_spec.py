"""Flow specifications checked against a tenant's real tool input models."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from fastn_gen.gateway.catalog import Catalog
from fastn_gen.native.cron import cron_problem
from fastn_gen.native.flow_spec import FlowSpec, check_flow
from tests.gateway.fixtures.gateway_process import GENERATED_MIN

CATALOG = Catalog.load(GENERATED_MIN)


def slack_only(name: str) -> type[BaseModel] | None:
    entry = CATALOG.visible(name, ["slack"])
    return entry.input_model() if entry is not None else None


def problems(doc: dict[str, Any]) -> list[str]:
    return [str(p) for p in check_flow(FlowSpec.model_validate(doc), slack_only, {"slack"})]


def flow(*steps: dict[str, Any], trigger: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": "daily-digest", "trigger": trigger or {"type": "manual"}, "steps": list(steps)}


def test_a_valid_flow_with_placeholders_has_no_problems() -> None:
    doc = flow(
        {"id": "channels", "tool": "slack_list_channels", "arguments": {"limit": 10}},
        {
            "id": "post",
            "tool": "slack_send_message",
            "for_each": "{{ steps.channels.result.channels }}",
            "condition": "steps.channels.result.ok",
            # The placeholder makes the value's type known only at run time.
            "arguments": {"channel": "{{ item.id }}", "text": "Digest for {{ trigger.day }}"},
            "retry": {"max_attempts": 3, "backoff_s": 2},
            "on_failure": "continue",
        },
        trigger={"type": "schedule", "cron": "0 9 * * MON-FRI", "timezone": "Europe/Paris"},
    )
    assert problems(doc) == []


def test_literal_arguments_are_checked_and_problems_name_step_and_field() -> None:
    doc = flow(
        {"id": "count", "tool": "slack_list_channels", "arguments": {"limit": 0, "colour": "x"}},
        {"id": "post", "tool": "slack_send_message", "arguments": {"text": "hi"}},
    )
    assert problems(doc) == [
        "steps[0] (count).arguments.limit: Input should be greater than or equal to 1",
        "steps[0] (count).arguments.colour: Extra inputs are not permitted",
        "steps[1] (post).arguments.channel: Field required",
    ]


def test_a_placeholder_as_the_whole_value_defers_the_type_check() -> None:
    doc = flow(
        {"id": "c", "tool": "slack_list_channels", "arguments": {"limit": "{{ trigger.n }}"}}
    )
    assert problems(doc) == []


def test_tools_must_be_visible_to_the_tenant() -> None:
    doc = flow({"id": "orders", "tool": "shopify_list_orders"}, {"id": "x", "tool": "nope"})
    assert problems(doc) == [
        "steps[0] (orders).tool: unknown tool 'shopify_list_orders' for this tenant",
        "steps[1] (x).tool: unknown tool 'nope' for this tenant",
    ]


def test_references_must_point_to_earlier_steps() -> None:
    doc = flow(
        {
            "id": "post",
            "tool": "slack_send_message",
            "arguments": {"channel": "{{ steps.later.id }}", "text": "{{ item }}"},
        },
        {"id": "later", "tool": "slack_list_channels", "for_each": "{{ item.x }}"},
        {"id": "post", "tool": "slack_list_channels", "condition": "{{ secrets.token }}"},
    )
    assert problems(doc) == [
        "steps[0] (post).arguments: refers to step 'later', which does not run before this one",
        "steps[0] (post).arguments: uses item, but the step has no for_each",
        "steps[1] (later).for_each: uses item, but the step has no for_each",
        "steps[2] (post).id: another step has this id",
        "steps[2] (post).condition: expression {{ secrets.token }} uses secrets; expressions "
        "may use only flow, item, steps, trigger",
    ]


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (
            {"type": "schedule", "cron": "0 25 * * *"},
            "trigger.cron: hour field '25': values must be 0-23",
        ),
        (
            {"type": "schedule", "cron": "* * *"},
            "trigger.cron: a cron expression has 5 fields (minute hour day-of-month month "
            "day-of-week), not 3",
        ),
        (
            {"type": "schedule", "cron": "@daily", "timezone": "Mars/Olympus"},
            "trigger.timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            {"type": "event", "event": "integration.failing", "connector": "shopify"},
            "trigger.connector: no integration 'shopify' is connected",
        ),
    ],
)
def test_triggers_are_checked(trigger: dict[str, Any], expected: str) -> None:
    assert problems(flow({"id": "a", "tool": "slack_list_channels"}, trigger=trigger)) == [expected]


def test_the_shape_is_checked_by_the_model() -> None:
    with pytest.raises(ValidationError) as caught:
        FlowSpec.model_validate(
            {
                "name": "Bad Name",
                "trigger": {"type": "hourly"},
                "steps": [{"id": "1x", "tool": "t"}],
            }
        )
    locs = {tuple(e["loc"]) for e in caught.value.errors()}
    assert ("name",) in locs and ("steps", 0, "id") in locs
    assert any(loc[0] == "trigger" for loc in locs)


@pytest.mark.parametrize(
    "expression",
    ["*/15 * * * *", "0 9-17/2 1,15 JAN-JUN MON", "5 4 * * sun", "@hourly", "0 0 1 */3 7"],
)
def test_cron_expressions_that_are_valid(expression: str) -> None:
    assert cron_problem(expression) is None


@pytest.mark.parametrize(
    "expression", ["60 * * * *", "*/0 * * * *", "5-1 * * * *", "* * * FOO *", "@often"]
)
def test_cron_expressions_that_are_not(expression: str) -> None:
    assert cron_problem(expression) is not None
