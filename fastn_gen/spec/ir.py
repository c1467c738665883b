"""The neutral intermediate representation every connector front end produces.

Both front ends (the native YAML format in ``model.py`` and OpenAPI documents in
``openapi.py``) resolve everything they can at build time and hand the code generator
these plain, frozen values. Nothing here knows about YAML, OpenAPI or Jinja.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

JSONSchema = dict[str, Any]

# Where a tool argument travels in the upstream request.
Location = Literal["path", "query", "header", "cookie", "body"]
# How a request body is encoded on the wire.
BodyEncoding = Literal["json", "form", "multipart", "raw"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
AuthKind = Literal["none", "bearer", "api_key", "basic", "oauth2"]


@dataclass(frozen=True, slots=True)
class Param:
    """One argument of a tool's flat input object and where it goes upstream."""

    arg: str  # name in the tool's input object (may carry a ``__{location}`` suffix)
    name: str  # name on the wire (path placeholder, query key, header name, body field)
    location: Location
    required: bool
    schema: JSONSchema  # may contain ``$ref: #/$defs/...`` into the tool's ``$defs``
    description: str | None = None
    # OpenAPI serialisation; ``None`` means the location's default (form/simple).
    style: str | None = None
    explode: bool | None = None


@dataclass(frozen=True, slots=True)
class Body:
    """The request body of an operation.

    When the body schema is an object with known properties, its fields are flattened
    into the input object as ``Param(location="body")`` and ``whole_arg`` is ``None``.
    Otherwise the whole body is one argument named ``whole_arg``.
    """

    encoding: BodyEncoding
    media_type: str
    required: bool
    whole_arg: str | None = None


@dataclass(frozen=True, slots=True)
class Annotations:
    """MCP tool annotations (hints to clients about side effects)."""

    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool = True

    @staticmethod
    def from_method(method: str) -> Annotations:
        """Defaults derived from HTTP semantics (RFC 9110 safe / idempotent methods)."""
        m = method.upper()
        read_only = m in ("GET", "HEAD", "OPTIONS")
        return Annotations(
            read_only=read_only,
            destructive=m in ("DELETE", "PUT"),
            idempotent=m in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE"),
        )


@dataclass(frozen=True, slots=True)
class AuthScheme:
    """How a tenant's credential for this connector is put on the upstream request.

    ``fields`` names the credential fields a tenant connection must provide.
    """

    kind: AuthKind
    # api_key: where and under which name; bearer: header name is Authorization.
    location: Literal["header", "query"] | None = None
    param_name: str | None = None
    prefix: str = ""  # e.g. "Bearer " or "token " for header-carried keys
    # oauth2
    token_url: str | None = None
    refresh_url: str | None = None
    scopes: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return {
            "none": (),
            "bearer": ("token",),
            "api_key": ("api_key",),
            "basic": ("username", "password"),
            "oauth2": ("access_token", "refresh_token", "client_id", "client_secret"),
        }[self.kind]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str  # final MCP tool name, unique in the gateway
    connector: str
    operation_id: str  # the spec's operationId, or the native tool's own name
    description: str
    method: HttpMethod
    path: str  # path template relative to the connector base URL, e.g. /repos/{owner}
    params: tuple[Param, ...]
    body: Body | None
    input_schema: JSONSchema
    output_schema: JSONSchema | None
    annotations: Annotations
    title: str | None = None
    tags: tuple[str, ...] = ()
    requires_auth: bool = True
    # Where the operation lives in its source document (JSON pointer), for messages.
    pointer: str = ""


@dataclass(frozen=True, slots=True)
class Skip:
    """An operation that did not become a tool, and why. Never dropped silently."""

    connector: str
    operation: str  # operationId, or "METHOD /path"
    reason: str
    pointer: str = ""


@dataclass(frozen=True, slots=True)
class EntityMapping:
    """How one common-data-model type is read from one of the connector's tools.

    Expressions are JMESPath, already checked (see ``spec/entities.py``).
    """

    entity_type: str
    tool: str  # full tool name
    records: str
    id: str
    fields: tuple[tuple[str, str], ...]
    url: str | None = None
    query_arg: str | None = None
    limit_arg: str | None = None
    max_limit: int | None = None
    cursor_arg: str | None = None
    next_cursor: str | None = None
    short_page_ends: bool = False
    arguments: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Connector:
    name: str  # snake_case, used as the tool-name prefix
    title: str
    description: str
    base_url: str
    auth: AuthScheme
    tools: tuple[Tool, ...]
    skipped: tuple[Skip, ...] = ()
    source: str = ""  # path of the spec file, relative to the connectors directory
    # A self-hosted connector may point at private addresses (see the security docs).
    self_hosted: bool = False
    health_check: str | None = None  # tool name run by the on-demand health check
    extra: dict[str, Any] = field(default_factory=dict)
    entities: tuple[EntityMapping, ...] = ()  # sorted by entity type
