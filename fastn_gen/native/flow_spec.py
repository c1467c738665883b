"""The flow specification and its checks against what a tenant can run.

A flow is a trigger and a list of steps, each calling one tool. Argument values may
be literals or contain ``{{ expression }}`` placeholders (JMESPath, see
:mod:`fastn_gen.flows.expressions`) filled in at run time from ``trigger``,
``steps.<id>``, ``item`` (inside a ``for_each`` step) and ``flow``. Literal arguments
are checked now against the tool's input model; values holding a placeholder are
checked when the flow runs, since their type is only known then. A step may only refer
to steps before it (and, inside an on_failure branch, to the step that failed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fastn_gen.flows.expressions import (
    ROOTS,
    ExpressionError,
    bare_expression,
    placeholders,
    references,
)
from fastn_gen.native.cron import cron_problem

__all__ = ["FlowSpec", "FlowStep", "check_flow", "placeholders"]

FLOW_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
STEP_ID = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
EXPRESSION_ROOTS = ROOTS
# Flows may not run, change or delete flows (a flow starting itself would never end).
FLOW_ONLY_TOOLS = frozenset(
    {"fastn_run_flow", "fastn_create_flow", "fastn_set_flow_enabled", "fastn_delete_flow"}
)
EVENT_NAMES = (
    "tool_call.failed",
    "integration.failing",
    "integration.credentials_expired",
    "integration.recovered",
)
EventName = Literal[
    "tool_call.failed",
    "integration.failing",
    "integration.credentials_expired",
    "integration.recovered",
]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ManualTrigger(_Spec):
    type: Literal["manual"]


class ScheduleTrigger(_Spec):
    type: Literal["schedule"]
    cron: str = Field(
        max_length=200, description="Five-field cron expression, e.g. '0 9 * * MON-FRI'."
    )
    timezone: str = Field(default="UTC", max_length=64, description="IANA zone, e.g. Europe/Paris.")


class EventTrigger(_Spec):
    type: Literal["event"]
    event: EventName = Field(
        description="tool_call.failed: a tool call of the tenant failed; "
        "integration.failing / integration.credentials_expired / integration.recovered: "
        "an integration's health became failing, credentials_expired, or healthy again."
    )
    connector: str | None = Field(
        default=None, max_length=64, description="Only events of this integration."
    )
    tool: str | None = Field(
        default=None, max_length=64, description="Only failures of this tool (tool_call.failed)."
    )


Trigger = Annotated[ManualTrigger | ScheduleTrigger | EventTrigger, Field(discriminator="type")]


class RetryPolicy(_Spec):
    max_attempts: int = Field(
        default=3, ge=1, le=10, description="Attempts in all, the first included."
    )
    backoff_s: float = Field(default=1.0, ge=0, le=3600, description="Wait before the first retry.")
    multiplier: float = Field(
        default=2.0, ge=1, le=10, description="Each wait is the previous times this."
    )
    max_backoff_s: float = Field(default=300.0, ge=0, le=3600, description="No wait is longer.")


class _StepBase(_Spec):
    id: str = Field(pattern=STEP_ID, description="Unique within the flow; later steps refer to it.")
    tool: str = Field(min_length=1, max_length=64, description="A tool the tenant can call.")
    arguments: dict[str, Any] = Field(
        default_factory=dict,
        description="The tool's arguments; values may contain {{ expression }} placeholders.",
    )
    condition: str | None = Field(
        default=None,
        max_length=1000,
        description="Run the step (or, with for_each, the element) only when this is true.",
    )
    for_each: str | None = Field(
        default=None,
        max_length=1000,
        description="An expression giving a list; the step runs once per element ({{ item }}).",
    )
    retry: RetryPolicy | None = None


class BranchStep(_StepBase):
    on_failure: Literal["stop", "continue"] = Field(
        default="stop", description="Stop the branch, or continue with its next step."
    )


class FailureBranch(_Spec):
    steps: list[BranchStep] = Field(
        min_length=1, max_length=20, description="Run in order when the step fails."
    )
    then: Literal["stop", "continue"] = Field(
        default="stop",
        description="After the branch: end the run as failed, or go on with the next step.",
    )


class FlowStep(_StepBase):
    on_failure: Literal["stop", "continue"] | FailureBranch = Field(
        default="stop",
        description="Stop the flow, continue with the next step, or run a branch of steps.",
    )


AnyStep = FlowStep | BranchStep


class FlowSpec(_Spec):
    """An automation flow: a trigger, and steps each calling one of the tenant's tools."""

    name: str = Field(pattern=FLOW_NAME, description="Saving an existing name adds a version.")
    description: str = Field(default="", max_length=2000)
    trigger: Trigger
    steps: list[FlowStep] = Field(min_length=1, max_length=100)


@dataclass(frozen=True, slots=True)
class FlowProblem:
    where: str  # "trigger.cron", "steps[1] (notify).arguments.channel"
    message: str
    step: str | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


# A tool name -> its input model, or None when the tenant cannot call it.
InputModelLookup = Callable[[str], type[BaseModel] | None]


def _is_dynamic(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def _dynamic_along(arguments: Any, loc: tuple[int | str, ...]) -> bool:
    """Whether any value on the path ``loc`` into ``arguments`` holds a placeholder."""
    current = arguments
    for part in loc:
        if _is_dynamic(current):
            return True
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        else:
            break  # a union tag or a missing key: nothing more to walk
    return _is_dynamic(current)


def _argument_problems(where: str, step: AnyStep, model: type[BaseModel]) -> Iterator[FlowProblem]:
    try:
        model.model_validate(step.arguments)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            loc = tuple(err["loc"])
            if err["type"] != "extra_forbidden" and _dynamic_along(step.arguments, loc):
                continue  # checked at run time, once the placeholder has a value
            field = ".".join(str(p) for p in loc) or "arguments"
            yield FlowProblem(f"{where}.arguments.{field}", str(err["msg"]), step.id)


def _expression_problems(
    where: str, step: AnyStep, expressions: Sequence[str], earlier: set[str], item: bool
) -> Iterator[FlowProblem]:
    for expression in expressions:
        try:
            refs = references(expression)
        except ExpressionError as exc:
            yield FlowProblem(
                where, f"expression {{{{ {expression} }}}} is not valid: {exc}", step.id
            )
            continue
        unknown = sorted(refs.roots - ROOTS)
        if unknown:
            yield FlowProblem(
                where,
                f"expression {{{{ {expression} }}}} uses {', '.join(unknown)}; expressions may "
                f"use only {', '.join(sorted(ROOTS))}",
                step.id,
            )
        for ref in sorted(refs.steps):
            if ref not in earlier:
                yield FlowProblem(
                    where, f"refers to step {ref!r}, which does not run before this one", step.id
                )
        if "item" in refs.roots and not item:
            yield FlowProblem(where, "uses item, but the step has no for_each", step.id)


def _trigger_problems(
    trigger: Any, input_model: InputModelLookup, connected: set[str]
) -> Iterator[FlowProblem]:
    if isinstance(trigger, ScheduleTrigger):
        problem = cron_problem(trigger.cron)
        if problem is not None:
            yield FlowProblem("trigger.cron", problem)
        try:
            ZoneInfo(trigger.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            yield FlowProblem("trigger.timezone", f"unknown time zone {trigger.timezone!r}")
    elif isinstance(trigger, EventTrigger):
        if trigger.connector is not None and trigger.connector not in connected:
            yield FlowProblem(
                "trigger.connector", f"no integration {trigger.connector!r} is connected"
            )
        if trigger.tool is not None:
            if trigger.event != "tool_call.failed":
                yield FlowProblem("trigger.tool", "only tool_call.failed events name a tool")
            elif input_model(trigger.tool) is None:
                yield FlowProblem("trigger.tool", f"unknown tool {trigger.tool!r} for this tenant")


class _Checker:
    def __init__(self, input_model: InputModelLookup) -> None:
        self.input_model = input_model
        self.seen: set[str] = set()
        self.problems: list[FlowProblem] = []

    def step(self, where: str, step: AnyStep, earlier: set[str]) -> None:
        add = self.problems.extend
        if step.id in self.seen:
            self.problems.append(FlowProblem(f"{where}.id", "another step has this id", step.id))
        self.seen.add(step.id)
        model = self.input_model(step.tool)
        if step.tool in FLOW_ONLY_TOOLS:
            self.problems.append(
                FlowProblem(f"{where}.tool", f"a flow cannot call {step.tool}", step.id)
            )
        elif model is None:
            self.problems.append(
                FlowProblem(f"{where}.tool", f"unknown tool {step.tool!r} for this tenant", step.id)
            )
        else:
            add(_argument_problems(where, step, model))
        item = step.for_each is not None
        add(
            _expression_problems(
                f"{where}.arguments", step, list(placeholders(step.arguments)), earlier, item
            )
        )
        # for_each is evaluated before the step runs, so it may not use its own item.
        if step.for_each is not None:
            expressions = [bare_expression(step.for_each)]
            add(_expression_problems(f"{where}.for_each", step, expressions, earlier, False))
        if step.condition is not None:
            expressions = [bare_expression(step.condition)]
            add(_expression_problems(f"{where}.condition", step, expressions, earlier, item))


def check_flow(
    spec: FlowSpec, input_model: InputModelLookup, connected: set[str]
) -> list[FlowProblem]:
    """Every problem of ``spec`` for a tenant with these tools and integrations."""
    checker = _Checker(input_model)
    checker.problems.extend(_trigger_problems(spec.trigger, input_model, connected))
    earlier: set[str] = set()
    for index, step in enumerate(spec.steps):
        where = f"steps[{index}] ({step.id})"
        checker.step(where, step, earlier)
        earlier.add(step.id)
        if isinstance(step.on_failure, FailureBranch):
            # A branch step sees the steps before it, including the one that failed.
            for number, branch_step in enumerate(step.on_failure.steps):
                inner = f"{where}.on_failure.steps[{number}] ({branch_step.id})"
                checker.step(inner, branch_step, earlier)
                earlier.add(branch_step.id)
    return checker.problems
