"""Syntax check of five-field cron expressions (minute hour day-of-month month weekday).

Only checks; :mod:`fastn_gen.flows.cron` computes due times from the same tables.
Accepts ``*``, values, ranges ``a-b``, steps ``*/n`` and ``a-b/n``, lists ``a,b``,
month and weekday names (``JAN``, ``MON``) and the macros ``@hourly``, ``@daily``,
``@weekly``, ``@monthly``, ``@yearly``.
"""

from __future__ import annotations

import re

MACROS = frozenset(
    {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"}
)
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# (name, lowest, highest, names mapped to numbers)
FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(_MONTHS)}),
    ("day of week", 0, 7, {d: i for i, d in enumerate(_DAYS)}),
)
# What each macro stands for.
MACRO_FIELDS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
ITEM = re.compile(r"^(?P<range>\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(?P<step>[0-9]+))?$")


def _value(text: str, low: int, high: int, names: dict[str, int]) -> int | None:
    number = names.get(text.upper()) if not text.isdigit() else int(text)
    if number is None or not low <= number <= high:
        return None
    return number


def _field_problem(text: str, name: str, low: int, high: int, names: dict[str, int]) -> str | None:
    for item in text.split(","):
        found = ITEM.match(item)
        if found is None:
            return f"{name} field {text!r}: {item!r} is not a value, range or step"
        step = found.group("step")
        if step is not None and int(step) == 0:
            return f"{name} field {text!r}: a step must be at least 1"
        part = found.group("range")
        if part == "*":
            continue
        bounds = part.split("-")
        values = [_value(b, low, high, names) for b in bounds]
        if any(v is None for v in values):
            return f"{name} field {text!r}: values must be {low}-{high}" + (
                " or names" if names else ""
            )
        if len(values) == 2 and values[0] is not None and values[1] is not None:
            if values[0] > values[1]:
                return f"{name} field {text!r}: range {part} runs backwards"
    return None


def cron_problem(expression: str) -> str | None:
    """None when ``expression`` is a valid cron expression, else what is wrong."""
    text = expression.strip()
    if text.startswith("@"):
        return None if text.lower() in MACROS else f"unknown cron macro {text!r}"
    fields = text.split()
    if len(fields) != 5:
        return (
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            f"not {len(fields)}"
        )
    for field_text, (name, low, high, names) in zip(fields, FIELDS, strict=True):
        problem = _field_problem(field_text, name, low, high, names)
        if problem is not None:
            return problem
    return None
