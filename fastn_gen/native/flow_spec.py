"""The flow specification and its checks against what a tenant can run.

A flow is a trigger and a list of steps, each calling one tool. Argument values may
be literals or contain ``{{ expression }}`` placeholders filled in at run time
(``trigger.<field>``, ``steps.<id>.result...``, ``item`` inside a ``for_each`` step,
``flow.<field>``). Literal arguments are checked now against the tool's input model;
values holding a placeholder are checked when the flow runs, since their type is only
known then. A step may only refer to steps before it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fastn_gen.native.cron import cron_problem

FLOW_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
STEP_ID = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
EXPRESSION_ROOTS = frozenset({"trigger", "steps", "item", "flow"})
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_ROOT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)")
_STEP_REF = re.compile(r"\bsteps\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_ITEM_REF = re.compile(r"\bitem\b")


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
    event: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_.:-]{0,127}$",
        description="The event that starts the flow, e.g. slack.message or shopify.order_created.",
    )
    connector: str | None = Field(
        default=None, max_length=64, description="The integration the event comes from."
    )


Trigger = Annotated[ManualTrigger | ScheduleTrigger | EventTrigger, Field(discriminator="type")]


class RetryPolicy(_Spec):
    max_attempts: int = Field(default=3, ge=1, le=10)
    backoff_s: float = Field(
        default=1.0, ge=0, le=3600, description="Wait before the first retry; doubles after each."
    )


class FlowStep(_Spec):
    id: str = Field(pattern=STEP_ID, description="Unique within the flow; later steps refer to it.")
    tool: str = Field(min_length=1, max_length=64, description="A tool the tenant can call.")
    arguments: dict[str, Any] = Field(
        default_factory=dict,
        description="The tool's arguments; values may contain {{ expression }} placeholders.",
    )
    condition: str | None = Field(
        default=None, max_length=1000, description="Run the step only when this expression is true."
    )
    for_each: str | None = Field(
        default=None,
        max_length=1000,
        description="An expression giving a list; the step runs once per element ({{ item }}).",
    )
    retry: RetryPolicy | None = None
    on_failure: Literal["stop", "continue"] = Field(
        default="stop", description="Stop the flow, or continue with the next step."
    )


class FlowSpec(_Spec):
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


def placeholders(value: Any) -> Iterator[str]:
    """The expressions inside ``{{ }}`` anywhere in a JSON value."""
    if isinstance(value, str):
        for found in _PLACEHOLDER.finditer(value):
            yield found.group(1).strip()
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from placeholders(item)
    elif isinstance(value, list):
        for item in value:
            yield from placeholders(item)


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


def _argument_problems(where: str, step: FlowStep, model: type[BaseModel]) -> Iterator[FlowProblem]:
    try:
        model.model_validate(step.arguments)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            loc = tuple(err["loc"])
            if err["type"] != "extra_forbidden" and _dynamic_along(step.arguments, loc):
                continue  # checked at run time, once the placeholder has a value
            field = ".".join(str(p) for p in loc) or "arguments"
            yield FlowProblem(f"{where}.arguments.{field}", str(err["msg"]), step.id)


def _reference_problems(
    where: str, step: FlowStep, expressions: list[str], earlier: set[str]
) -> Iterator[FlowProblem]:
    for expression in expressions:
        root = _ROOT.match(expression)
        if root is None or root.group(1) not in EXPRESSION_ROOTS:
            yield FlowProblem(
                where,
                f"expression {{{{ {expression} }}}} must start with one of "
                f"{', '.join(sorted(EXPRESSION_ROOTS))}",
                step.id,
            )
            continue
        for ref in _STEP_REF.findall(expression):
            if ref not in earlier:
                yield FlowProblem(
                    where, f"refers to step {ref!r}, which does not run before this one", step.id
                )
        if _ITEM_REF.search(expression) and step.for_each is None:
            yield FlowProblem(where, "uses item, but the step has no for_each", step.id)


def _bare(expression: str) -> list[str]:
    """A condition or for_each, written with or without ``{{ }}``."""
    found = list(placeholders(expression))
    return found or [expression.strip()]


def _trigger_problems(trigger: Any, connected: set[str]) -> Iterator[FlowProblem]:
    if isinstance(trigger, ScheduleTrigger):
        problem = cron_problem(trigger.cron)
        if problem is not None:
            yield FlowProblem("trigger.cron", problem)
        try:
            ZoneInfo(trigger.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            yield FlowProblem("trigger.timezone", f"unknown time zone {trigger.timezone!r}")
    elif isinstance(trigger, EventTrigger) and trigger.connector is not None:
        if trigger.connector not in connected:
            yield FlowProblem(
                "trigger.connector", f"no integration {trigger.connector!r} is connected"
            )


def check_flow(
    spec: FlowSpec, input_model: InputModelLookup, connected: set[str]
) -> list[FlowProblem]:
    """Every problem of ``spec`` for a tenant with these tools and integrations."""
    problems = list(_trigger_problems(spec.trigger, connected))
    earlier: set[str] = set()
    for index, step in enumerate(spec.steps):
        where = f"steps[{index}] ({step.id})"
        if step.id in earlier:
            problems.append(FlowProblem(f"{where}.id", "another step has this id", step.id))
        model = input_model(step.tool)
        if model is None:
            problems.append(
                FlowProblem(f"{where}.tool", f"unknown tool {step.tool!r} for this tenant", step.id)
            )
        else:
            problems.extend(_argument_problems(where, step, model))
        problems.extend(
            _reference_problems(
                f"{where}.arguments", step, list(placeholders(step.arguments)), earlier
            )
        )
        # for_each is evaluated before the step runs, so it may not use its own item.
        if step.for_each is not None:
            before = step.model_copy(update={"for_each": None})
            problems.extend(
                _reference_problems(f"{where}.for_each", before, _bare(step.for_each), earlier)
            )
        if step.condition is not None:
            problems.extend(
                _reference_problems(f"{where}.condition", step, _bare(step.condition), earlier)
            )
        earlier.add(step.id)
    return problems
