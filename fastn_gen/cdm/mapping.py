"""Turn one tool result into common-data-model entities with a connector's mapping.

The mapping's expressions were checked when the connector was built; here they run on
the tool's structured result (``records``, ``next_cursor``) and on each record (``id``,
``url``, the fields). Upstream data is untrusted and uneven: a field whose value does
not fit the model is left out, and a record without an id is skipped, rather than one
odd record failing the whole search.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jmespath import exceptions as jp_errors
from pydantic import ValidationError

from fastn_gen.cdm.functions import evaluate
from fastn_gen.cdm.models import ENTITY_MODELS, Entity
from fastn_gen.runtime.entities import EntityMapping

logger = logging.getLogger(__name__)

MESSAGE_LIMIT = 300


class MappingError(Exception):
    """A tool result the mapping cannot read (its records are not a list, say)."""


@dataclass(frozen=True, slots=True)
class MappedPage:
    entities: list[Entity]
    next_cursor: str | int | float | None  # None: no page after this one
    record_count: int  # records in the result, mapped or not
    skipped: int  # records left out: no id, or nothing of the model could be read


def _absent(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _cursor(value: Any) -> str | int | float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None  # ``has_more && ...`` answers false on the last page
    if isinstance(value, str | int | float):
        return value
    return None


def _remote_id(value: Any) -> str | None:
    if isinstance(value, bool) or _absent(value):
        return None
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _validated(model: type[Entity], doc: dict[str, Any]) -> Entity | None:
    """The entity, leaving out the fields that do not fit the model."""
    for _ in range(len(doc)):
        try:
            return model.model_validate(doc)
        except ValidationError as exc:
            bad = {
                str(err["loc"][0])
                for err in exc.errors(include_url=False, include_input=False)
                if err["loc"]
            }
            bad.discard("source")
            if not bad or not bad & doc.keys():
                return None
            for name in bad:
                doc.pop(name, None)
    return None


def _field(expression: str, record: Any, variables: Mapping[str, str]) -> Any:
    try:
        return evaluate(expression, record, variables)
    except jp_errors.JMESPathError:
        # A function given a value of the wrong type (join over a missing field): the
        # record lacks what the field needs, so the field is absent.
        return None


def map_record(
    mapping: EntityMapping,
    connector: str,
    record: Any,
    variables: Mapping[str, str],
) -> Entity | None:
    remote_id = _remote_id(_field(mapping.id, record, variables))
    if remote_id is None:
        return None
    url = _field(mapping.url, record, variables) if mapping.url else None
    doc: dict[str, Any] = {
        "source": {
            "connector": connector,
            "remote_id": remote_id,
            "remote_url": url if isinstance(url, str) and url else None,
        }
    }
    for name, expression in mapping.fields:
        value = _field(expression, record, variables)
        if not _absent(value):
            doc[name] = value
    return _validated(ENTITY_MODELS[mapping.entity_type], doc)


def map_result(
    mapping: EntityMapping,
    connector: str,
    result: Mapping[str, Any],
    variables: Mapping[str, str],
    page_size: int | None,
) -> MappedPage:
    """The entities in one tool result, and the cursor of the next page."""
    try:
        records = evaluate(mapping.records, result, variables)
        if records is None:
            records = []
        if not isinstance(records, list):
            raise MappingError(f"the records of {mapping.tool} ({mapping.records}) are not a list")
        entities: list[Entity] = []
        for record in records:
            entity = map_record(mapping, connector, record, variables)
            if entity is not None:
                entities.append(entity)
        following = (
            _cursor(evaluate(mapping.next_cursor, result, variables))
            if mapping.next_cursor
            else None
        )
    except jp_errors.JMESPathError as exc:
        detail = " ".join(str(exc).split())[:MESSAGE_LIMIT]
        raise MappingError(f"mapping {mapping.tool} failed: {detail}") from exc
    if mapping.short_page_ends and page_size is not None and len(records) < page_size:
        following = None
    skipped = len(records) - len(entities)
    if skipped:
        logger.debug("%s %s: %d record(s) not mapped", connector, mapping.entity_type, skipped)
    return MappedPage(entities, following, len(records), skipped)
