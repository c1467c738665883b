"""docs/cdm.md publishes the JSON Schema of the models as they are."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from fastn_gen.cdm.models import ENTITY_MODELS
from fastn_gen.cdm.schema_doc import BEGIN, END, cdm_schema, updated_document

DOC = Path(__file__).resolve().parents[2] / "docs" / "cdm.md"


def test_the_document_matches_the_models() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert text == updated_document(text), (
        "docs/cdm.md is out of date: run python -m fastn_gen.cdm.schema_doc docs/cdm.md"
    )


def test_the_published_schema_is_valid_and_names_every_type() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index(BEGIN) : text.index(END)]
    published = json.loads(section.split("```json\n", 1)[1].split("\n```", 1)[0])
    assert published == cdm_schema()
    Draft202012Validator.check_schema(published)
    assert set(ENTITY_MODELS) <= set(published["$defs"])
    for name in ENTITY_MODELS:
        assert published["$defs"][name]["required"] == ["source"]
