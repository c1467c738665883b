"""The copy of a vendor document that Prism validates.

Two changes, both about Prism reading what the document already says:

- A JSON request body object normally admits fields it does not name, so Prism would
  accept a field the gateway misnamed (and merely miss the intended one when it is
  optional). Each operation's top-level request body object that lists its
  ``properties`` (and is not a composition) gets ``additionalProperties: false``.
- Prism reads only the form fields a schema names, and reads an array field as an
  array only when an ``encoding`` entry gives its style (see ``_state_form_arrays``).

The gateway is still built from the original document; only Prism reads the copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

FORM = "application/x-www-form-urlencoded"
_OPEN_ENDED = ("allOf", "anyOf", "oneOf", "additionalProperties", "patternProperties", "not")


def _load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _resolve(doc: Any, node: Any) -> Any:
    for _ in range(16):
        ref = node.get("$ref") if isinstance(node, dict) else None
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return node
        target = doc
        for token in ref[2:].split("/"):
            target = target[token.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _closed(doc: Any, schema: Any) -> Any:
    resolved = _resolve(doc, schema)
    if not isinstance(resolved, dict) or not isinstance(resolved.get("properties"), dict):
        return schema
    if any(k in resolved for k in _OPEN_ENDED):
        return schema
    return {**resolved, "additionalProperties": False}


def _state_form_arrays(doc: Any, media: dict[str, Any]) -> None:
    """Prism reads a form field without an ``encoding`` entry, or whose schema is also
    nullable (3.0 ``nullable``), as one string, so an array field sent the OpenAPI
    default way (``tags=a&tags=b``: style form, explode true) would fail ``type: array``.
    State that default and drop ``nullable`` (a form has no null) for Prism."""
    schema = _resolve(doc, media["schema"])
    properties = schema.get("properties") if isinstance(schema, dict) else None
    encoding = media.setdefault("encoding", {})
    for name, prop in (properties or {}).items():
        resolved = _resolve(doc, prop)
        if isinstance(resolved, dict) and resolved.get("type") == "array":
            properties[name] = {k: v for k, v in resolved.items() if k != "nullable"}
            encoding.setdefault(name, {"style": "form", "explode": True})


def _keys_as_text(node: Any) -> Any:
    """YAML reads unquoted response codes as integers; JSON object keys are strings."""
    if isinstance(node, dict):
        return {str(k): _keys_as_text(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_keys_as_text(v) for v in node]
    return node


def write_strict_copy(source: Path, dest: Path) -> tuple[Path, int]:
    """Write the closed copy as JSON; returns it and how many bodies were closed."""
    doc = _keys_as_text(_load(source))
    closed = 0
    for item in (doc.get("paths") or {}).values():
        for operation in (item or {}).values():
            body = (
                _resolve(doc, operation.get("requestBody")) if isinstance(operation, dict) else None
            )
            for media_type, media in (body or {}).get("content", {}).items():
                if isinstance(media, dict) and "schema" in media:
                    strict = _closed(doc, media["schema"])
                    closed += strict is not media["schema"]
                    media["schema"] = strict
                    if media_type == FORM:
                        _state_form_arrays(doc, media)
    dest.write_text(json.dumps(doc), encoding="utf-8")
    return dest, closed
