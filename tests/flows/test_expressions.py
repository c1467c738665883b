"""Flow expressions: placeholders, types, truth, what an expression refers to, errors."""

from __future__ import annotations

from typing import Any

import pytest

from fastn_gen.flows.expressions import (
    ExpressionError,
    bare_expression,
    evaluate,
    references,
    render,
    truthy,
)

DATA: dict[str, Any] = {
    "trigger": {"type": "manual", "input": {"channel": "C001", "n": 3, "tags": ["a", "b"]}},
    "steps": {
        "list": {
            "status": "succeeded",
            "result": {
                "channels": [
                    {"id": "C001", "name": "general", "members": 12},
                    {"id": "C002", "name": "random", "members": 3},
                ]
            },
        }
    },
    "flow": {"name": "digest", "previous_run_at": None},
    "item": {"id": "C002"},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ trigger.input.n }}", 3),  # a whole placeholder keeps its JSON type
        (
            "  {{ steps.list.result.channels[0] }} ",
            {"id": "C001", "name": "general", "members": 12},
        ),
        ("{{ flow.previous_run_at }}", None),
        ("#{{ trigger.input.channel }} has {{ trigger.input.n }}", "#C001 has 3"),
        ("tags: {{ trigger.input.tags }}", 'tags: ["a","b"]'),  # non-strings as JSON
        ("none: [{{ flow.previous_run_at }}]", "none: []"),
        ("{{ steps.list.result.channels[?members > `5`].name }}", ["general"]),
        ("{{ join(', ', steps.list.result.channels[].name) }}", "general, random"),
        ("{{ length(steps.list.result.channels) }} channels", "2 channels"),
        ("{{ sort_by(steps.list.result.channels, &members)[0].id }}", "C002"),
        ("{{ item.id }}", "C002"),
        ("no placeholder", "no placeholder"),
    ],
)
def test_render(template: str, expected: Any) -> None:
    assert render(template, DATA) == expected


def test_render_walks_objects_and_lists() -> None:
    value = {"a": ["{{ trigger.input.n }}", {"b": "x{{ item.id }}"}], "c": 5, "d": None}
    assert render(value, DATA) == {"a": [3, {"b": "xC002"}], "c": 5, "d": None}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (False, False),
        ("", False),
        ([], False),
        ({}, False),
        (0, True),  # JMESPath truth: compare numbers explicitly
        ("no", True),
        ([0], True),
        (True, True),
    ],
)
def test_truth(value: Any, expected: bool) -> None:
    assert truthy(value) is expected


def test_conditions_with_and_without_braces() -> None:
    assert bare_expression("{{ trigger.input.n > `2` }}") == "trigger.input.n > `2`"
    assert bare_expression(" trigger.input.n ") == "trigger.input.n"
    assert evaluate(bare_expression("{{ trigger.input.n > `2` }}"), DATA) is True


@pytest.mark.parametrize(
    ("expression", "roots", "steps"),
    [
        ("steps.list.result.channels[0].id", {"steps"}, {"list"}),
        ("steps.a.result[?x == `1`].y", {"steps"}, {"a"}),
        ("length(steps.a.result) > `0` || trigger.x", {"steps", "trigger"}, {"a"}),
        ("sort_by(steps.a.rows, &name)[0].id", {"steps"}, {"a"}),  # &name is per element
        ("{x: steps.b.r, y: flow.name}", {"steps", "flow"}, {"b"}),
        ("steps.a[*].b | [0]", {"steps"}, {"a"}),
        ("not_null(steps.x, steps.y)", {"steps"}, {"x", "y"}),
        ("items[?secret].value", {"items"}, set()),  # secret is read on elements
        ("secrets.token", {"secrets"}, set()),
        ("null", {"null"}, set()),  # a name: the null literal is `null`
    ],
)
def test_references(expression: str, roots: set[str], steps: set[str]) -> None:
    found = references(expression)
    assert (found.roots, found.steps) == (roots, steps)


def test_errors_say_what_and_where() -> None:
    with pytest.raises(ExpressionError, match="empty expression"):
        references("  ")
    with pytest.raises(ExpressionError):
        references("steps.list.result[0")
    with pytest.raises(ExpressionError, match="longer than"):
        references("a" * 1001)
    with pytest.raises(ExpressionError, match=r"\{\{ length\(trigger.input.n\) \}\}"):
        evaluate("length(trigger.input.n)", DATA)
    with pytest.raises(ExpressionError, match="Unknown function"):
        render("{{ exec('rm -rf /') }}", DATA)
