"""Options that shape how an OpenAPI document becomes a connector.

Filled from a connectors.d YAML wrapper (``openapi: path``) or left at their defaults
for a bare ``*.openapi.{yaml,json}`` document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class RouteRule:
    """Selects operations. Every given criterion must match (AND); lists match any item."""

    operation_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()  # upper-case HTTP methods
    paths: tuple[str, ...] = ()  # fnmatch-style globs over the path template, e.g. /repos/*

    def is_empty(self) -> bool:
        return not (self.operation_ids or self.tags or self.methods or self.paths)


@dataclass(frozen=True, slots=True)
class SecurityMapping:
    """Which security scheme of the document supplies the tenant credential, and how.

    ``scheme`` names an entry of ``components.securitySchemes`` (or Swagger 2.0
    ``securityDefinitions``). ``prefix`` overrides the header value prefix for API keys
    carried in the Authorization header (GitHub's ``token ``, for instance).
    """

    scheme: str
    prefix: str | None = None


@dataclass(frozen=True, slots=True)
class OpenAPIOptions:
    name: str  # connector name (tool-name prefix)
    title: str | None = None
    description: str | None = None
    base_url: str | None = None  # overrides servers[0] / host+basePath
    include: tuple[RouteRule, ...] = ()  # empty: include everything
    exclude: tuple[RouteRule, ...] = ()
    names: dict[str, str] = field(
        default_factory=dict
    )  # operationId or "METHOD /path" -> tool name
    security: SecurityMapping | None = None  # None: the first usable scheme, if any
    # Used when the document declares no security scheme at all (GitHub's octokit copy).
    default_auth: Literal["none", "bearer"] = "none"
    self_hosted: bool = False
    health_check: str | None = None
    # The wrapper's ``entities:`` block, checked against the tools once they are built.
    entities: dict[str, Any] = field(default_factory=dict)
