"""How relevant an entity is to a text query, and exact-match filters.

Each entity type names the fields a query is matched against, with weights
(``SEARCH_FIELDS`` in :mod:`fastn_gen.cdm.models`; Contact: name 3, email 3,
company 1, phone 1). Text is compared case-insensitively with runs of whitespace
collapsed. Each field scores:

| the field's text | match |
| --- | --- |
| equals the query | 1.0 |
| starts with the query | 0.8 |
| contains the query | 0.6 |
| otherwise | 0.4 x the share of the query's words it contains |

The entity's score is the weighted mean over its search fields, rounded to four
places: between 0 (nothing matches) and 1 (every search field equals the query). An
empty query scores every entity 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastn_gen.cdm.models import Entity
from fastn_gen.cdm.values import Money

FilterValue = str | int | float | bool


def normalise(text: str) -> str:
    return " ".join(text.casefold().split())


def _text(value: Any) -> str:
    if isinstance(value, Money):
        return value.amount
    if isinstance(value, str):
        return normalise(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def field_match(text: str, query: str, words: list[str]) -> float:
    if not text or not query:
        return 0.0
    if text == query:
        return 1.0
    if text.startswith(query):
        return 0.8
    if query in text:
        return 0.6
    found = sum(1 for word in words if word in text)
    return 0.4 * found / len(words) if words else 0.0


def score(entity: Entity, query: str) -> float:
    wanted = normalise(query)
    weights = type(entity).SEARCH_FIELDS
    if not wanted or not weights:
        return 0.0
    words = wanted.split()
    total = sum(weight for _, weight in weights)
    earned = sum(
        weight * field_match(_text(getattr(entity, name, None)), wanted, words)
        for name, weight in weights
    )
    return round(earned / total, 4)


# -- filters --------------------------------------------------------------------------------


def filter_problem(model: type[Entity], path: str) -> str | None:
    """What is wrong with a filter's field path for ``model`` (None when it is fine)."""
    head = path.split(".", 1)[0]
    if head not in model.model_fields:
        fields = ", ".join(model.model_fields)
        return f"{model.__name__} has no field {head!r} to filter on (fields: {fields})"
    return None


def _lookup(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def _equal(found: Any, wanted: FilterValue) -> bool:
    if isinstance(wanted, bool) or isinstance(found, bool):
        return found is wanted
    if isinstance(wanted, str) and isinstance(found, str):
        return normalise(found) == normalise(wanted)
    if isinstance(wanted, int | float) and isinstance(found, str):
        return found == str(wanted)
    return bool(found == wanted)


def matches_filters(entity: Entity, filters: Mapping[str, FilterValue]) -> bool:
    """Every filter's field (a dotted path such as ``total.currency``) equals its value;
    strings compare without regard to case."""
    if not filters:
        return True
    doc = entity.model_dump(mode="json")
    return all(_equal(_lookup(doc, path), value) for path, value in filters.items())
