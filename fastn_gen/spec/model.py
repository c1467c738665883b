"""Pydantic models of the two YAML formats in ``connectors.d/``.

- :class:`ConnectorSpec`: the native connector format (tools described directly);
- :class:`OpenAPIWrapperSpec`: a wrapper that names an OpenAPI document (``openapi:``)
  and says which of its operations become tools, under which names.

The models check the structure and each field on its own. Unknown fields are errors, so
a typo is reported rather than ignored. :func:`validate` reports validation errors as
issues with JSON pointers into the document and messages in the document's own terms.
Rules that relate fields to each other (path placeholders and path parameters, names
across tools, base URL variables) live in ``native.py``. The reference for users is
``docs/connector-format.md``.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from fastn_gen.spec.errors import SpecError, SpecIssue, pointer
from fastn_gen.spec.naming import VALID_TOOL_NAME

Loc = tuple[str | int, ...]  # JSON pointer tokens
M = TypeVar("M", bound=BaseModel)

# Strict snake_case: no leading, trailing or doubled underscores, because ``__`` is
# reserved for the ``__{location}`` suffixes of colliding argument names.
SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_CONNECTOR_NAME = 32  # leaves room for the operation part in a 64-character tool name
MAX_ARG_NAME = 64

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
JsonType = Literal["string", "integer", "number", "boolean", "array", "object"]
ParamLocation = Literal["path", "query", "header", "body"]
QueryStyle = Literal["form", "spaceDelimited", "pipeDelimited", "deepObject"]
NativeBodyEncoding = Literal["json", "form", "multipart"]

# The shorthand typing fields of a parameter (by their YAML names); ``schema:`` replaces
# all of them.
SHORTHAND_FIELDS = (
    "type",
    "format",
    "enum",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "items",
    "properties",
)


def _snake_case(value: str) -> str:
    if not SNAKE_CASE.fullmatch(value):
        raise PydanticCustomError(
            "snake_case",
            "must be snake_case: lower-case letters and digits in words joined by single "
            "underscores, starting with a letter",
        )
    return value


def _connector_name(value: str) -> str:
    _snake_case(value)
    if len(value) > MAX_CONNECTOR_NAME:
        raise PydanticCustomError(
            "name_too_long", f"must be at most {MAX_CONNECTOR_NAME} characters"
        )
    return value


def _tool_name(value: str) -> str:
    if not VALID_TOOL_NAME.fullmatch(value):
        raise PydanticCustomError(
            "tool_name", "must be 1 to 64 characters of lower-case letters, digits and '_'"
        )
    return value


def _arg_name(value: str) -> str:
    if not IDENTIFIER.fullmatch(value) or len(value) > MAX_ARG_NAME:
        raise PydanticCustomError(
            "arg_name",
            f"must be an identifier (letters, digits, '_', not starting with a digit) "
            f"of at most {MAX_ARG_NAME} characters",
        )
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise PydanticCustomError("regex", f"not a valid regular expression: {exc}") from exc
    return value


def _number(value: Any) -> Any:
    # ``bool`` is an ``int`` in Python but never a JSON Schema number.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("number", "expected a number")
    return value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


NonEmptyStr = Annotated[str, Field(min_length=1)]
SnakeName = Annotated[str, AfterValidator(_snake_case)]
ConnectorName = Annotated[str, AfterValidator(_connector_name)]
ToolName = Annotated[str, AfterValidator(_tool_name)]
ArgName = Annotated[str, AfterValidator(_arg_name)]
Regex = Annotated[str, Field(min_length=1), AfterValidator(_regex)]
Number = Annotated[Any, AfterValidator(_number)]
HttpMethod = Annotated[Method, BeforeValidator(_upper)]
# Rule criteria accept one value or a list of values.
OneOrMany = Annotated[list[NonEmptyStr], BeforeValidator(_one_or_many)]
MethodList = Annotated[list[HttpMethod], BeforeValidator(_one_or_many)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- auth ---------------------------------------------------------------------------


class NoAuth(_Spec):
    type: Literal["none"]


class BearerAuth(_Spec):
    """``Authorization: <prefix><token>``."""

    type: Literal["bearer"]
    prefix: str = "Bearer "


class ApiKeyAuth(_Spec):
    type: Literal["api_key"]
    location: Literal["header", "query"] = Field(alias="in")
    name: NonEmptyStr
    prefix: str = ""


class BasicAuth(_Spec):
    type: Literal["basic"]


class OAuth2Auth(_Spec):
    type: Literal["oauth2"]
    token_url: NonEmptyStr
    refresh_url: NonEmptyStr | None = None  # when it differs from token_url
    scopes: list[NonEmptyStr] = []


AuthSpec = Annotated[
    NoAuth | BearerAuth | ApiKeyAuth | BasicAuth | OAuth2Auth, Field(discriminator="type")
]


# --- tools --------------------------------------------------------------------------


class ParameterSpec(_Spec):
    """One input of a tool: its wire name, where it travels and its JSON Schema type."""

    name: NonEmptyStr
    location: ParamLocation = Field(alias="in")
    description: str | None = None
    required: bool | None = None  # None: true for path parameters, false otherwise
    arg: ArgName | None = None
    # Shorthand JSON Schema (YAML names as in JSON Schema).
    type: JsonType | None = None
    format: NonEmptyStr | None = None
    enum: list[Any] | None = Field(default=None, min_length=1)
    default: Any = None  # given or not is told by ``model_fields_set``
    minimum: Number | None = None
    maximum: Number | None = None
    min_length: int | None = Field(default=None, alias="minLength", ge=0)
    max_length: int | None = Field(default=None, alias="maxLength", ge=0)
    pattern: Regex | None = None
    items: dict[str, Any] | None = None
    properties: dict[str, dict[str, Any]] | None = None
    # A full JSON Schema instead of the shorthand.
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    style: QueryStyle | None = None
    explode: bool | None = None

    def shorthand_given(self) -> list[str]:
        """The shorthand typing fields present in the YAML, by their YAML names."""
        fields = type(self).model_fields
        given = {fields[f].alias or f for f in self.model_fields_set}
        return [f for f in SHORTHAND_FIELDS if f in given]


class AnnotationsSpec(_Spec):
    """MCP tool hints; a missing one is derived from the HTTP method."""

    read_only: bool | None = None
    destructive: bool | None = None
    idempotent: bool | None = None
    open_world: bool | None = None


class ToolSpec(_Spec):
    name: SnakeName  # operation part; the tool is ``{connector}_{name}``
    tool_name: ToolName | None = None  # the full tool name, replacing the derived one
    title: NonEmptyStr | None = None
    description: NonEmptyStr
    method: HttpMethod
    path: NonEmptyStr
    parameters: list[ParameterSpec] = []
    body_encoding: NativeBodyEncoding = "json"
    annotations: AnnotationsSpec = AnnotationsSpec()
    output_schema: dict[str, Any] | None = None
    tags: list[NonEmptyStr] = []


# --- connector ----------------------------------------------------------------------


class VariableSpec(_Spec):
    """A per-connection value substituted into ``base_url`` (Shopify's ``{shop}``)."""

    description: str | None = None
    pattern: Regex  # the whole value must match; it decides where credentials are sent


class ResponseOkSpec(_Spec):
    """For APIs that answer HTTP 200 with ``{"ok": false, "error": "..."}``."""

    field: NonEmptyStr
    error_field: NonEmptyStr | None = None


class ConnectorSpec(_Spec):
    name: ConnectorName
    title: NonEmptyStr
    description: str = ""
    base_url: NonEmptyStr
    self_hosted: bool = False
    health_check: NonEmptyStr | None = None
    auth: AuthSpec
    variables: dict[str, VariableSpec] = {}
    response_ok: ResponseOkSpec | None = None
    tools: list[ToolSpec]  # at least one; checked in native.py with the other rules
    entities: dict[str, Any] = {}  # common-data-model mappings, checked in entities.py


# --- OpenAPI wrapper ----------------------------------------------------------------


class RouteRuleSpec(_Spec):
    """Selects operations: every given criterion must match; a list matches any item."""

    operation_id: OneOrMany = []
    tag: OneOrMany = []
    method: MethodList = []
    path: OneOrMany = []  # fnmatch globs over the path template, e.g. /repos/*/issues


class SecuritySpec(_Spec):
    scheme: NonEmptyStr
    prefix: str | None = None


class OpenAPIWrapperSpec(_Spec):
    name: ConnectorName
    title: NonEmptyStr | None = None
    description: str | None = None
    openapi: NonEmptyStr  # path of the document, relative to the wrapper file
    base_url: NonEmptyStr | None = None
    include: list[RouteRuleSpec] = []
    exclude: list[RouteRuleSpec] = []
    names: dict[str, ToolName] = {}
    security: SecuritySpec | None = None
    default_auth: Literal["none", "bearer"] = "none"
    self_hosted: bool = False
    health_check: ToolName | None = None
    entities: dict[str, Any] = {}  # common-data-model mappings, checked in entities.py


@dataclasses.dataclass
class Issues:
    """Problems found in one file, each with a JSON pointer."""

    source: str
    found: list[SpecIssue] = dataclasses.field(default_factory=list)

    def add(self, loc: Loc, message: str) -> None:
        self.found.append(SpecIssue(self.source, pointer(*loc), message))

    def raise_if_any(self) -> None:
        if self.found:
            raise SpecError(self.found)


# --- validation errors as issues -----------------------------------------------------


def show(value: Any) -> str:
    """A value as messages quote it: YAML words for scalars, the kind for collections."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_MESSAGES = {
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "list_type": "expected a list",
}


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _field_annotation(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info.annotation
    return None


def _tag_of(model: type[BaseModel]) -> str | None:
    info = model.model_fields.get("type")
    args = get_args(info.annotation) if info else ()
    return args[0] if len(args) == 1 and isinstance(args[0], str) else None


def _allowed_fields(root: type[BaseModel], parent: Loc) -> list[str]:
    """The YAML field names of the model(s) found at ``parent`` (a pydantic location)."""
    models = [root]
    for el in parent:
        if isinstance(el, int):
            continue  # a list item: ``models`` already holds the item models
        found = [
            m
            for model in models
            if (annotation := _field_annotation(model, el)) is not None
            for m in _models_in(annotation)
        ]
        if found or any(_field_annotation(m, el) is not None for m in models):
            models = found
            continue
        tagged = [m for m in models if _tag_of(m) == el]
        if tagged:
            models = tagged  # a union member's tag
        # otherwise a mapping key (a variable's name): the models stay
    return sorted({info.alias or name for m in models for name, info in m.model_fields.items()})


def _data_tokens(loc: Loc, data: Any) -> list[str | int]:
    """Turn a pydantic location into JSON pointer tokens into ``data``.

    Pydantic adds the tag of a discriminated union member (``auth.api_key.in``) and
    ``[key]`` for mapping keys; neither is in the document.
    """
    tokens: list[str | int] = []
    node = data
    for i, el in enumerate(loc):
        last = i == len(loc) - 1
        if el == "[key]":
            continue
        if isinstance(node, dict):
            if not last and node.get("type") == el:
                continue
            if el in node:
                node = node[el]
                tokens.append(el)
                continue
            if not last and isinstance(el, str):
                continue
        elif isinstance(node, list) and isinstance(el, int) and 0 <= el < len(node):
            node = node[el]
            tokens.append(el)
            continue
        tokens.append(el)
        node = None
    return tokens


def _error_issue(err: Any, root: type[BaseModel], data: Any, base: Loc) -> tuple[Loc, str]:
    kind: str = err["type"]
    loc: Loc = tuple(err["loc"])
    ctx: dict[str, Any] = err.get("ctx") or {}
    tokens = _data_tokens(loc, data)
    key_error = "[key]" in loc
    value = err.get("input")
    if kind == "missing":
        message = f"missing required field '{loc[-1]}'"
    elif kind == "extra_forbidden":
        allowed = _allowed_fields(root, loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        message = f"unknown field '{loc[-1]}'" + (f"; did you mean '{hint[0]}'?" if hint else "")
    elif kind == "union_tag_not_found":
        tokens.append("type")
        message = "missing required field 'type'"
    elif kind == "union_tag_invalid":
        tokens.append("type")
        message = f"expected one of {ctx.get('expected_tags')}, got {show(ctx.get('tag'))}"
    elif kind == "literal_error":
        message = f"expected {ctx.get('expected')}, got {show(value)}"
    elif kind in _TYPE_MESSAGES:
        message = f"{_TYPE_MESSAGES[kind]}, got {show(value)}"
    elif kind == "string_too_short" and ctx.get("min_length") == 1:
        message = "must not be empty"
    elif kind == "too_short":
        message = f"must have at least {ctx.get('min_length')} item(s)"
    elif kind == "greater_than_equal":
        message = f"must be at least {ctx.get('ge')}, got {show(value)}"
    else:
        message = str(err["msg"])
    if key_error:
        message = f"mapping key {show(loc[-2] if len(loc) > 1 else value)}: {message}"
    return (*base, *tokens), message


def validate(model: type[M], data: Any, base: Loc, issues: Issues) -> M | None:
    """Validate ``data`` (found at ``base``) against ``model``; report failures to ``issues``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc, message = _error_issue(err, model, data, base)
            issues.add(loc, message)
        return None
