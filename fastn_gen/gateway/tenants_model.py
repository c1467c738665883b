"""Pydantic models of ``tenants.yaml`` (structure only; cross-checks live in tenancy)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from fastn_gen.admin.config import AdminModel
from fastn_gen.gateway.oauth_config import OAuthResourceModel

TENANT_ID = r"^[a-z0-9][a-z0-9_-]*$"
CONNECTION_NAME = r"^[a-z0-9][a-z0-9_-]*$"
CONNECTOR_NAME = r"^[a-z0-9][a-z0-9_]*$"
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KEY_LABEL = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
BARE_ENV = re.compile(r"^\$[A-Za-z_][A-Za-z0-9_]*$")
SECRET_PREFIX = "secret:"
SECRET_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_reference(text: str) -> str:
    """Refuse references that look intended but are malformed (``${FOO``, ``secret:``)."""
    if not text:
        raise ValueError("empty credential")
    if text.startswith("${") and ENV_REF.match(text) is None:
        raise ValueError(
            "malformed environment reference; write ${NAME} with NAME made of "
            "letters, digits and underscores"
        )
    if BARE_ENV.match(text):
        raise ValueError("environment references are written ${NAME}, with braces")
    if text.startswith(SECRET_PREFIX) and SECRET_NAME.match(text[len(SECRET_PREFIX) :]) is None:
        raise ValueError("malformed secret reference; write secret:<name>")
    return text


FieldName = Annotated[str, StringConstraints(pattern=FIELD_NAME.pattern, max_length=64)]
Reference = Annotated[str, AfterValidator(check_reference)]


class ConnectionModel(_Strict):
    connector: str = Field(pattern=CONNECTOR_NAME, max_length=64)
    name: str | None = Field(default=None, pattern=CONNECTION_NAME, max_length=64)
    credentials: dict[FieldName, Reference] = Field(default_factory=dict)
    variables: dict[FieldName, str] = Field(default_factory=dict)
    allow_plaintext: bool = False


Count = Annotated[int, Field(ge=0)]
Rate = Annotated[int, Field(ge=1)]
ConnectorName = Annotated[str, StringConstraints(pattern=CONNECTOR_NAME, max_length=64)]
ToolName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)]


Glob = Annotated[str, StringConstraints(min_length=1, max_length=128)]
TagName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ToolsetModel(_Strict):
    """Which tools a tenant or API key sees (fastn_gen.gateway.toolsets)."""

    connectors: list[ConnectorName] | None = None
    tags: list[TagName] | None = None
    # read: read-only tools only; write: all but destructive ones; all (the default).
    access: Literal["read", "write", "all"] | None = None
    include: list[Glob] = Field(default_factory=list)
    exclude: list[Glob] = Field(default_factory=list)
    # search: list the native tools plus fastn_search_tools and fastn_call_tool.
    mode: Literal["all", "search"] | None = None


class ApiKeyModel(_Strict):
    id: str = Field(pattern=KEY_LABEL, max_length=64)
    label: str | None = None
    hash: str
    # Narrows the tenant's toolset for requests made with this key.
    toolset: ToolsetModel | None = None


class ScopedLimitsModel(_Strict):
    """Limits for the calls of one connector or one tool."""

    tool_calls_per_month: Count | None = None
    requests_per_minute: Rate | None = None


class LimitsModel(_Strict):
    """Usage limits: a plan's, or a tenant's overrides of its plan's.

    In an override, a field that is present replaces the plan's value, and ``null``
    lifts the plan's limit; per-connector and per-tool entries merge field by field.
    """

    tool_calls_per_month: Count | None = None
    requests_per_minute: Rate | None = None
    per_connector: dict[ConnectorName, ScopedLimitsModel] = Field(default_factory=dict)
    per_tool: dict[ToolName, ScopedLimitsModel] = Field(default_factory=dict)


class PlanModel(LimitsModel):
    description: str | None = None
    # Checked when the file is loaded: a tenant may not have more connections.
    max_connections: Count | None = None


class TenantModel(_Strict):
    id: str = Field(pattern=TENANT_ID, max_length=64)
    display_name: str | None = None
    plan: str = "default"
    limits: LimitsModel | None = None
    allow_plaintext: bool = False
    toolset: ToolsetModel | None = None
    # Items are validated one by one (ApiKeyModel, ConnectionModel) so that a mistake in
    # one connection does not hide the mistakes of the others.
    api_keys: list[Any] = Field(default_factory=list)
    connections: list[Any] = Field(default_factory=list)


class TenantsFileModel(_Strict):
    version: Literal[1]
    data_dir: str | None = None
    # Usage limits per plan; an empty plan (``free: {}`` or ``free:``) limits nothing.
    plans: dict[str, PlanModel | None] = Field(default_factory=dict)
    # Validated one by one (TenantModel) so every tenant's mistakes are reported.
    tenants: list[Any]
    # OAuth resource-server mode: JWT access tokens besides API keys.
    oauth: OAuthResourceModel | None = None
    # "store": serve the tenants kept in the store (fastn-gen tenants ...); this file
    # then lists none and supplies plans, data_dir and oauth only.
    tenants_from: Literal["file", "store"] = "file"
    # Admin keys for /admin and /metrics (fastn_gen.admin).
    admin: AdminModel | None = None
