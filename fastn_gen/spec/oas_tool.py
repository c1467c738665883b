"""One normalised operation to a tool's arguments, body, input and output schemas.

Arguments: path, query, header and cookie parameters, then the body. A JSON, form or
multipart body whose schema is an object with properties (``allOf`` parts merged) is
flattened into one argument per property, skipping ``readOnly`` ones; a property is
required when the body schema lists it as required. Any other body (array, primitive,
``oneOf``, free-form object, or a raw media type such as ``application/octet-stream``)
is one argument named ``body``.

The output schema comes from the preferred success response (``oas_operation``). MCP
requires an object there, and the gateway passes a JSON object response through while
wrapping anything else as ``{"result": ...}``. So a schema that is always an object is
kept (its root typed ``object``); one that never is becomes
``{"type": "object", "properties": {"result": ...}, "required": ["result"]}`` and the
tool is listed in ``Connector.extra["wrapped_outputs"]``; one that may be either is
only ``{"type": "object"}``, the one schema true of both outcomes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastn_gen.spec.inputs import assign_args, build_input_schema, trim_description
from fastn_gen.spec.ir import AuthScheme, Body, JSONSchema, Location, Param
from fastn_gen.spec.oas_auth import credential_param, requires_auth
from fastn_gen.spec.oas_operation import OperationView, RawBody, RawParam
from fastn_gen.spec.oas_schema import DEFS_PREFIX, SchemaConverter
from fastn_gen.spec.refs import RefProblem

_PLACEHOLDER = re.compile(r"{([^{}]+)}")
BODY_ARG = "body"
# Bytes of ``$defs`` an output schema may carry. Stripe's expandable fields reach about
# 500 of its schemas from every response (~400 KB per tool, 200 MB for the connector);
# past the budget, deeper levels are described as "anything" (see SchemaConverter.bounded).
OUTPUT_DEFS_BUDGET = 32_000


@dataclass(frozen=True, slots=True)
class ToolParts:
    params: tuple[Param, ...]
    body: Body | None
    input_schema: JSONSchema
    output_schema: JSONSchema | None
    output_wrapped: bool
    requires_auth: bool
    warning: str | None  # why the output schema was left out


def _empty_object(schema: JSONSchema) -> bool:
    """An object that admits no fields at all: the body carries no arguments."""
    return (
        schema.get("type") == "object"
        and schema.get("properties") == {}
        and schema.get("additionalProperties") is False
    )


class ToolBuilder:
    def __init__(self, inputs: SchemaConverter, outputs: SchemaConverter, auth: AuthScheme) -> None:
        self._in = inputs
        self._out = outputs
        self._auth = auth

    def build(self, view: OperationView) -> ToolParts:
        secured = requires_auth(view.security)
        params = self._params(view, secured)
        whole_index: int | None = None
        body: Body | None = None
        has_body = view.body is not None
        if view.body is not None:
            body_params, whole = self._body(view.body, secured)
            if whole:
                whole_index = len(params)
            params.extend(body_params)
            # A body schema that admits no fields (Stripe's GETs declare one) sends nothing.
            has_body = bool(body_params) or view.body.required
        params = assign_args(params)
        if view.body is not None and has_body:
            body = Body(
                encoding=view.body.encoding,
                media_type=view.body.media_type,
                required=view.body.required,
                whole_arg=params[whole_index].arg if whole_index is not None else None,
            )
        defs = self._in.collect_defs(p.schema for p in params)
        input_schema = build_input_schema(params, defs)
        output, wrapped, warning = self._output(view)
        # A connector without credentials has nothing to require (as native connectors).
        needs_auth = secured and self._auth.kind != "none"
        return ToolParts(tuple(params), body, input_schema, output, wrapped, needs_auth, warning)

    # -- parameters ------------------------------------------------------------------

    def _params(self, view: OperationView, secured: bool) -> list[Param]:
        placeholders = list(dict.fromkeys(_PLACEHOLDER.findall(view.path)))
        declared = {p.name for p in view.params if p.location == "path"}
        raw_params = [p for p in view.params if p.location != "path" or p.name in placeholders]
        # A placeholder the document forgot to declare is still a required string.
        raw_params[:0] = [
            RawParam(name, "path", True, None, view.pointer)
            for name in placeholders
            if name not in declared
        ]
        out: list[Param] = []
        for raw in raw_params:
            if credential_param(raw.name, raw.location, raw.description, self._auth, secured):
                continue
            out.append(self._param(raw, raw.location))
        return out

    def _param(self, raw: RawParam, location: Location) -> Param:
        if raw.schema is None:
            schema: JSONSchema = {"type": "string"}
        else:
            schema = self._in.convert(raw.schema, raw.schema_ptr)
        description = trim_description(raw.description)
        if description and "description" in schema:
            schema = {k: v for k, v in schema.items() if k != "description"}
        return Param(
            arg=raw.name,
            name=raw.name,
            location=location,
            required=raw.required,
            schema=schema,
            description=description,
            style=raw.style,
            explode=raw.explode,
        )

    # -- body ------------------------------------------------------------------------

    def _body(self, body: RawBody, secured: bool) -> tuple[list[Param], bool]:
        """Body arguments, and whether they are one whole-body argument."""
        if body.fields:
            return [
                self._param(f, "body")
                for f in body.fields
                if not credential_param(f.name, "body", f.description, self._auth, secured)
            ], False
        if body.encoding == "raw":
            schema: JSONSchema = {"type": "string", "contentMediaType": body.media_type}
            if body.schema is not None:
                converted = self._in.convert(body.schema, body.schema_ptr)
                if converted.get("type") == "string":
                    schema = converted
            return [self._whole(body, schema)], True
        if body.schema is None:
            return [self._whole(body, {})], True
        fields = self._object_fields(self._in.root(body.schema, body.schema_ptr))
        if fields is None:
            return [self._whole(body, self._in.convert(body.schema, body.schema_ptr))], True
        properties, required = fields
        styles = {name: (style, explode) for name, style, explode in body.field_styles}
        out = []
        for name, prop in properties.items():
            style, explode = styles.get(name, (None, None))
            prop_schema = prop if isinstance(prop, dict) else ({} if prop else {"not": {}})
            if style is None and body.encoding == "form" and self._is_array(prop_schema):
                # OpenAPI's default for a form field: style form, exploded (tags=a&tags=b).
                style, explode = "form", True if explode is None else explode
            description = prop_schema.get("description")
            if description is not None:
                prop_schema = {k: v for k, v in prop_schema.items() if k != "description"}
            out.append(
                Param(
                    arg=name,
                    name=name,
                    location="body",
                    required=name in required,
                    schema=prop_schema,
                    description=description,
                    style=style,
                    explode=explode,
                )
            )
        return out, False

    def _is_array(self, schema: JSONSchema) -> bool:
        try:
            if "$ref" in schema:
                schema = self._in.definition(self._def_pointer(schema["$ref"]))
        except RefProblem:
            return False
        kind = schema.get("type")
        return kind == "array" or (isinstance(kind, list) and "array" in kind)

    def _whole(self, body: RawBody, schema: JSONSchema) -> Param:
        description = trim_description(body.description)
        if description and "description" in schema:
            schema = {k: v for k, v in schema.items() if k != "description"}
        return Param(BODY_ARG, BODY_ARG, "body", body.required, schema, description)

    def _object_fields(
        self, schema: JSONSchema, depth: int = 0
    ) -> tuple[dict[str, Any], set[str]] | None:
        """Properties and required names of an object schema, merging ``allOf``.

        None when the schema is not a plain object with properties.
        """
        if depth > 16 or any(k in schema for k in ("anyOf", "oneOf", "not", "enum", "const")):
            return None
        t = schema.get("type")
        if t is not None and t != "object" and t != ["object", "null"]:
            return None
        properties: dict[str, Any] = {}
        required: set[str] = set()
        parts = list(schema.get("allOf", ()))
        if "$ref" in schema:
            parts.insert(0, {"$ref": schema["$ref"]})
        for part in parts:
            if isinstance(part, dict) and set(part) == {"$ref"}:
                ptr = self._def_pointer(part["$ref"])
                part = self._in.definition(ptr)
            if not isinstance(part, dict):
                return None
            merged = self._object_fields(part, depth + 1)
            if merged is None:
                return None
            properties.update(merged[0])
            required |= merged[1]
        for name, prop in (schema.get("properties") or {}).items():
            if not (isinstance(prop, dict) and prop.get("readOnly") is True):
                properties[name] = prop
        required.update(schema.get("required", ()))
        if depth == 0 and not properties and not _empty_object(schema):
            return None
        return properties, required

    def _def_pointer(self, ref: str) -> str:
        # Both converters share one DefNames, so either maps a name back to its pointer.
        return self._in.def_pointer(ref[len(DEFS_PREFIX) :])

    # -- output ----------------------------------------------------------------------

    def _output(self, view: OperationView) -> tuple[JSONSchema | None, bool, str | None]:
        if view.output_problem is not None:
            problem = view.output_problem
            return None, False, f"output schema left out: {problem.message} at {problem.pointer}"
        if view.output is None:
            return None, False, None
        node, ptr = view.output
        try:
            root = self._out.root(node, ptr)
            shape = self._shape(root)
            if shape == "object":
                schema = root | {"type": "object"}
            elif shape == "other":
                schema = {"type": "object", "properties": {"result": root}, "required": ["result"]}
            else:
                # Sometimes an object, sometimes not: the gateway passes objects through and
                # wraps anything else, so only "an object" describes every result.
                schema = {"type": "object"}
                schema.update({k: root[k] for k in ("title", "description") if k in root})
            schema, defs = self._out.bounded(schema, OUTPUT_DEFS_BUDGET)
        except RefProblem as exc:
            return None, False, f"output schema left out: {exc.message} at {exc.pointer}"
        if defs:
            schema["$defs"] = {k: defs[k] for k in sorted(defs)}
        return schema, shape == "other", None

    def _shape(self, schema: Any, depth: int = 0) -> str:
        """Whether a response under ``schema`` is always a JSON object ("object"), never
        one ("other"), or either ("mixed"). A JSON null alternative is ignored: APIs do
        not answer 2xx with a bare null."""
        if not isinstance(schema, dict) or depth > 16:
            return "mixed"
        t = schema.get("type")
        if t is not None:
            types = ({t} if isinstance(t, str) else set(t)) - {"null"}
            if "object" not in types:
                return "other" if types else "mixed"
            return "object" if types == {"object"} else "mixed"
        if "$ref" in schema:
            return self._shape(self._out.definition(self._def_pointer(schema["$ref"])), depth + 1)
        if any(self._shape(s, depth + 1) == "object" for s in schema.get("allOf", ())):
            return "object"
        for key in ("anyOf", "oneOf"):
            if key in schema:
                shapes = {self._shape(s, depth + 1) for s in schema[key] if s != {"type": "null"}}
                return shapes.pop() if len(shapes) == 1 else "mixed"
        return "object" if "properties" in schema else "mixed"
