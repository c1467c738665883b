"""Render Python values as deterministic source literals for the templates."""

from __future__ import annotations

from typing import Any


def py_literal(value: Any) -> str:
    """``repr`` for scalars; containers rendered recursively in their given order.

    Dict order is kept (callers sort where order is not meaningful) so output is
    byte-stable without reordering schemas.
    """
    if value is None or isinstance(value, bool | int | str):
        return repr(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"non-finite number {value!r} has no JSON form")
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(py_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot render {type(value).__name__} as a literal")
