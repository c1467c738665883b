"""Flatten an operation's parameters and body fields into one tool input object."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from fastn_gen.spec.ir import JSONSchema, Param

MAX_DESCRIPTION = 1024  # characters; long vendor prose costs model context on every list
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def trim_description(text: str | None, limit: int = MAX_DESCRIPTION) -> str | None:
    """Collapse whitespace-only lines and cut at a sentence or word boundary."""
    if not text:
        return None
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    for sep in (". ", "\n", " "):
        at = cut.rfind(sep)
        if at > limit // 2:
            cut = cut[: at + (1 if sep == ". " else 0)]
            break
    return cut.rstrip() + "…"


def assign_args(params: Sequence[Param]) -> list[Param]:
    """Give every parameter a unique argument name.

    A name used by more than one location gets ``__{location}`` on every use (as
    FastMCP does), so ``id`` in the path and ``id`` in the body become ``id__path``
    and ``id__body``. Order is preserved.
    """
    counts = Counter(p.arg for p in params)
    out: list[Param] = []
    for p in params:
        arg = f"{p.arg}__{p.location}" if counts[p.arg] > 1 else p.arg
        out.append(replace(p, arg=arg))
    # Two params of the same name *and* location (broken specs) still need unique args.
    seen: Counter[str] = Counter()
    result: list[Param] = []
    for p in out:
        seen[p.arg] += 1
        result.append(p if seen[p.arg] == 1 else replace(p, arg=f"{p.arg}_{seen[p.arg]}"))
    return result


def build_input_schema(
    params: Sequence[Param], defs: dict[str, JSONSchema] | None = None
) -> JSONSchema:
    """The tool's input schema: a closed JSON Schema 2020-12 object."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for p in params:
        prop = dict(p.schema)
        if p.description and "description" not in prop:
            prop["description"] = p.description
        properties[p.arg] = prop
        if p.required:
            required.append(p.arg)
    schema: JSONSchema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    if defs:
        schema["$defs"] = {k: defs[k] for k in sorted(defs)}
    return schema
