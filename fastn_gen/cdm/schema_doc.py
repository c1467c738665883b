"""The published JSON Schema of the common data model, and its part of ``docs/cdm.md``.

The part of ``docs/cdm.md`` between the two markers is generated from the models: a
table of fields per entity type, then the whole JSON Schema (2020-12). A test checks
that the document matches the models; after changing a model, run

    python -m fastn_gen.cdm.schema_doc docs/cdm.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from fastn_gen.cdm.models import ENTITY_MODELS

BEGIN = "<!-- BEGIN GENERATED: python -m fastn_gen.cdm.schema_doc docs/cdm.md -->"
END = "<!-- END GENERATED -->"
SCHEMA_ID = "https://fastn-gen.dev/schemas/cdm.json"


def cdm_schema() -> dict[str, Any]:
    """One JSON Schema document with every entity type (and its parts) under ``$defs``."""
    _, schema = models_json_schema(
        [(model, "serialization") for model in ENTITY_MODELS.values()],
        ref_template="#/$defs/{model}",
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "fastn-gen common data model",
        **schema,
    }


def _type_of(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        kinds = [_type_of(s) for s in schema["anyOf"] if s.get("type") != "null"]
        return " or ".join(kinds)
    if schema.get("type") == "array":
        return f"list of {_type_of(schema.get('items') or {})}"
    kind = str(schema.get("type", "any"))
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def _description(schema: dict[str, Any]) -> str:
    for candidate in [schema, *schema.get("anyOf", [])]:
        if "description" in candidate:
            return str(candidate["description"]).replace("|", "\\|")
    return ""


def _table(name: str, defs: dict[str, Any]) -> list[str]:
    schema = defs[name]
    required = set(schema.get("required") or [])
    lines = [f"### {name}", "", str(schema.get("description", "")).strip(), ""]
    model = ENTITY_MODELS.get(name)
    if model is not None and model.SEARCH_FIELDS:
        weights = ", ".join(f"`{f}` {w:g}" for f, w in model.SEARCH_FIELDS)
        lines += [f"A query is matched against {weights}.", ""]
    lines += ["| field | type | |", "| --- | --- | --- |"]
    for field, sub in schema["properties"].items():
        mark = " (required)" if field in required else ""
        lines.append(f"| `{field}` | {_type_of(sub)}{mark} | {_description(sub)} |")
    return [*lines, ""]


def generated_section() -> str:
    schema = cdm_schema()
    defs = schema["$defs"]
    parts = [BEGIN, "", "## Entity types", ""]
    for name in ENTITY_MODELS:
        parts += _table(name, defs)
    parts += ["## Shared types", ""]
    for name in sorted(set(defs) - set(ENTITY_MODELS)):
        parts += _table(name, defs)
    parts += [
        "## JSON Schema",
        "",
        f"Every type above, as one JSON Schema (2020-12) document (`{SCHEMA_ID}`):",
        "",
        "```json",
        json.dumps(schema, indent=2, ensure_ascii=False),
        "```",
        "",
        END,
    ]
    return "\n".join(parts)


def updated_document(text: str) -> str:
    """``text`` with the generated part replaced; the markers must be present."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError("the document lacks the generated-part markers")
    return text[:start] + generated_section() + text[end + len(END) :]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m fastn_gen.cdm.schema_doc docs/cdm.md", file=sys.stderr)
        return 2
    path = Path(argv[0])
    path.write_text(updated_document(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
