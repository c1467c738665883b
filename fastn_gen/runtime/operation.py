"""Operation metadata compiled into ``generated/connectors/<name>.py``.

Generated modules construct these values at import time, so they are plain frozen
dataclasses with positional fields: cheap to build for connectors with a thousand
operations, and all the executor needs to turn validated arguments into a request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Location = Literal["path", "query", "header", "cookie", "body"]


@dataclass(frozen=True, slots=True)
class ParamSpec:
    arg: str  # key in the tool's arguments
    name: str  # name on the wire
    location: Location
    required: bool
    style: str | None = None
    explode: bool | None = None


@dataclass(frozen=True, slots=True)
class BodySpec:
    encoding: Literal["json", "form", "multipart", "raw"]
    media_type: str
    required: bool
    whole_arg: str | None = None  # the argument holding the entire body, if not flattened


@dataclass(frozen=True, slots=True)
class AuthSpec:
    kind: Literal["none", "bearer", "api_key", "basic", "oauth2"]
    location: Literal["header", "query"] | None = None
    param_name: str | None = None
    prefix: str = ""
    token_url: str | None = None
    refresh_url: str | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    name: str
    title: str
    description: str
    base_url: str
    auth: AuthSpec
    self_hosted: bool = False
    health_check: str | None = None
    # Per-connection values substituted into base_url placeholders (Shopify's ``{shop}``),
    # mapped to the regular expression a value must match.
    variables: tuple[tuple[str, str], ...] = ()
    # APIs that answer HTTP 200 with ``{"ok": false, "error": "..."}`` (Slack): the
    # boolean field that says success, and the field holding the error message.
    response_ok_field: str | None = None
    response_error_field: str | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    tool: str
    operation_id: str
    method: str
    path: str
    params: tuple[ParamSpec, ...]
    body: BodySpec | None
    read_only: bool
    destructive: bool
    idempotent: bool
    requires_auth: bool = True


class ToolInput(BaseModel):
    """Base of every generated input model.

    Unknown arguments are refused (``extra="forbid"``) so a typo is reported by name
    instead of silently ignored. ``defer_build`` keeps class creation cheap; the
    validator is built on first use.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        defer_build=True,
        protected_namespaces=(),
        ser_json_inf_nan="constants",
    )

    def to_arguments(self) -> dict[str, Any]:
        """Validated arguments keyed by their wire argument names, unset ones omitted."""
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")


class NestedInput(ToolInput):
    """Base of nested object models whose schema does not close the object.

    JSON Schema objects accept unknown keys unless ``additionalProperties`` is false,
    so these models keep extra keys (and send them on) instead of refusing them.
    """

    model_config = ConfigDict(extra="allow")


def json_integer(value: Any) -> Any:
    """Before-validator giving integers JSON Schema meaning: ``5.0`` is one, ``True`` is not."""
    if isinstance(value, bool):
        raise ValueError("Input should be a valid integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def json_boolean(value: Any) -> Any:
    """Before-validator for boolean literals, which pydantic would otherwise match with 0/1."""
    if not isinstance(value, bool):
        raise ValueError("Input should be a valid boolean")
    return value


def schema_check(schema: Any) -> Callable[[Any], Any]:
    """A before-validator enforcing a JSON Schema (2020-12) that pydantic cannot express.

    Generated models use it for the keywords they cannot type exactly (``not``,
    ``if``/``then``, ``patternProperties``, overlapping ``oneOf``...), so validation is
    never weaker than the published input schema. Messages name the failing keyword and
    where it failed, never the offending value.
    """
    # jsonschema takes ~90 ms to import and most tools never need it.
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    validator = Draft202012Validator(schema)

    def check(value: Any) -> Any:
        if validator.is_valid(value):
            return value
        error = best_match(validator.iter_errors(value))
        keyword, expected = error.validator, error.validator_value
        if keyword is None:  # a ``false`` schema
            problem = "is not allowed here"
        elif keyword in _NAMES_PROPERTIES:
            problem = error.message
        elif keyword in ("type", "pattern", "const", "enum"):
            problem = f"should match {keyword} {_short(expected)}"
        elif isinstance(expected, bool | int | float | str):
            problem = f"should satisfy {keyword}={_short(expected)}"
        else:
            problem = f"does not satisfy the schema's {keyword!r} condition"
        path = "/".join(str(part) for part in error.absolute_path)
        raise ValueError(f"{problem} (at /{path})" if path else problem)

    return check


# Keywords whose jsonschema messages name properties (from the schema or the keys sent),
# not values.
_NAMES_PROPERTIES = frozenset(
    ("required", "dependentRequired", "additionalProperties", "unevaluatedProperties")
)


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LazyModels:
    """Builds each tool's input model on first use and keeps it.

    Creating a pydantic class costs a few hundred microseconds; a connector with a
    thousand operations would pay that for every tool on import. Building lazily keeps
    importing a generated module close to free.
    """

    __slots__ = ("_builders", "_built")

    def __init__(self, builders: dict[str, Callable[[], type[ToolInput]]]) -> None:
        self._builders = builders
        self._built: dict[str, type[ToolInput]] = {}

    def __contains__(self, tool: str) -> bool:
        return tool in self._builders

    def __call__(self, tool: str) -> type[ToolInput]:
        model = self._built.get(tool)
        if model is None:
            model = self._builders[tool]()
            self._built[tool] = model
        return model
