"""Swagger 2.0 operations in the shape of OpenAPI 3 ones.

- ``in: body`` becomes the request body, encoded by the preferred ``consumes`` type
  (JSON, else form, else multipart, else raw);
- ``in: formData`` parameters become body fields, multipart when one is a file or only
  ``multipart/form-data`` is consumed, else a form;
- other parameters carry their schema keywords on the parameter itself; those are
  lifted into a schema, and ``collectionFormat`` becomes ``style``/``explode``;
- a response's ``schema`` is JSON when ``produces`` allows JSON (or says nothing).

``#/definitions/...``, ``#/parameters/...`` and ``#/responses/...`` references need
nothing special: they are plain pointers into the document.
"""

from __future__ import annotations

from typing import Any

from fastn_gen.spec.errors import escape_pointer_token
from fastn_gen.spec.oas_load import Document
from fastn_gen.spec.oas_operation import (
    OperationView,
    RawBody,
    RawOperation,
    RawParam,
    common_fields,
    effective_security,
    encoding_for,
    is_json_media,
    media_rank,
    merged_parameters,
    read_output,
    success_codes,
)
from fastn_gen.spec.refs import RefProblem, Resolver

# Keywords a non-body 2.0 parameter shares with a schema.
_SCHEMA_KEYS = (
    "type",
    "format",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
)
# collectionFormat -> (style, explode) for query parameters; path and header use simple.
_COLLECTION_QUERY = {
    "csv": ("form", False),
    "ssv": ("spaceDelimited", False),
    "pipes": ("pipeDelimited", False),
    "multi": ("form", True),
}
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


def _media_list(op: dict[str, Any], doc: Document, key: str) -> list[str]:
    value = op.get(key, doc.data.get(key))
    return [m for m in value if isinstance(m, str)] if isinstance(value, list) else []


def _param_schema(param: dict[str, Any]) -> dict[str, Any]:
    return {k: param[k] for k in _SCHEMA_KEYS if k in param}


def _style(param: dict[str, Any], location: str) -> tuple[str | None, bool | None]:
    fmt = param.get("collectionFormat")
    if location == "formData" and param.get("type") == "array":
        # Form fields are written like query parameters; csv is Swagger 2.0's default.
        return _COLLECTION_QUERY.get(fmt if isinstance(fmt, str) else "csv", (None, None))
    if param.get("type") != "array" or not isinstance(fmt, str):
        return None, None
    if location == "query":
        return _COLLECTION_QUERY.get(fmt, (None, None))
    if fmt == "csv":
        return "simple", False
    return None, None


def view_2(raw: RawOperation, doc: Document, resolver: Resolver) -> OperationView:
    """Normalise a Swagger 2.0 operation."""
    op = raw.operation
    params: list[RawParam] = []
    fields: list[RawParam] = []
    body: RawBody | None = None
    for param, ptr in merged_parameters(raw, resolver):
        where = param["in"]
        description = param.get("description")
        description = description if isinstance(description, str) else None
        required = where == "path" or param.get("required") is True
        if where == "body":
            body = _body(param, ptr, op, doc, required, description)
        elif where == "formData":
            style, explode = _style(param, where)
            schema = _param_schema(param)
            fields.append(
                RawParam(param["name"], "body", required, schema, ptr, description, style, explode)
            )
        elif where in ("path", "query", "header"):
            style, explode = _style(param, where)
            params.append(
                RawParam(
                    param["name"],
                    where,
                    required,
                    _param_schema(param),
                    ptr,
                    description,
                    style,
                    explode,
                )
            )
        else:
            raise RefProblem(f"parameter location {where!r} is not valid in Swagger 2.0", ptr)
    if fields:
        if body is not None:
            msg = "an operation cannot have both body and formData parameters"
            raise RefProblem(msg, raw.pointer)
        body = _form_body(fields, op, doc)
    output, output_problem = read_output(
        lambda r, res: _output(r, res, _media_list(op, doc, "produces")), raw, resolver
    )
    return OperationView(
        **common_fields(raw),
        security=effective_security(raw, doc.data.get("security")),
        servers=None,
        params=tuple(params),
        body=body,
        output=output,
        output_problem=output_problem,
    )


def _body(
    param: dict[str, Any],
    ptr: str,
    op: dict[str, Any],
    doc: Document,
    required: bool,
    description: str | None,
) -> RawBody:
    consumes = _media_list(op, doc, "consumes")
    media = min(consumes, key=media_rank) if consumes else "application/json"
    return RawBody(
        media_type=media,
        encoding=encoding_for(media),
        required=required,
        schema=param.get("schema"),
        schema_ptr=f"{ptr}/schema",
        description=description,
    )


def _form_body(fields: list[RawParam], op: dict[str, Any], doc: Document) -> RawBody:
    consumes = [m.split(";")[0].strip().lower() for m in _media_list(op, doc, "consumes")]
    has_file = any(isinstance(f.schema, dict) and f.schema.get("type") == "file" for f in fields)
    multipart = has_file or (MULTIPART in consumes and FORM not in consumes)
    return RawBody(
        media_type=MULTIPART if multipart else FORM,
        encoding="multipart" if multipart else "form",
        required=any(f.required for f in fields),
        schema=None,
        schema_ptr="",
        fields=tuple(fields),
    )


def _output(raw: RawOperation, resolver: Resolver, produces: list[str]) -> tuple[Any, str] | None:
    responses = raw.operation.get("responses")
    if not isinstance(responses, dict):
        return None
    if produces and not any(is_json_media(m) for m in produces):
        return None
    base = f"{raw.pointer}/responses"
    for code in success_codes(responses):
        response, ptr = resolver.deref(responses[code], f"{base}/{escape_pointer_token(code)}")
        if isinstance(response, dict) and "schema" in response:
            return response["schema"], f"{ptr}/schema"
    return None
