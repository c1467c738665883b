"""``fastn_list_integrations`` and ``fastn_get_integration_status``.

An integration is one connector the tenant has connected (possibly through several
connections). Its status comes from the store: health derived from recent outcomes,
last success and error, consecutive failures, token expiry. The connector's declared
health-check operation (read-only, no arguments) can be run on demand; it goes through
the same quotas and recording as any other call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from fastn_gen.gateway.tenancy import Connection
from fastn_gen.native.account_health import AccountHealth, accounts_health
from fastn_gen.native.base import (
    CallContext,
    NativeInput,
    NativeOutput,
    NativeTool,
    NativeToolError,
)
from fastn_gen.native.events import EventOut, event_out
from fastn_gen.store.records import EventQuery, Health, IntegrationStatus

HealthName = Literal["healthy", "degraded", "failing", "credentials_expired", "unknown"]


class AccountStatus(NativeOutput):
    name: str = Field(description="The connection (account) name.")
    health: HealthName
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    token_expires_at: datetime | None
    calls_ok: int = Field(description="Successful calls among the recent events read.")
    calls_failed: int = Field(description="Failed calls among the recent events read.")


def account_status(found: AccountHealth) -> AccountStatus:
    return AccountStatus(
        name=found.name,
        health=found.health,
        last_success_at=found.last_success_at,
        last_error_at=found.last_error_at,
        last_error=found.last_error,
        consecutive_failures=found.consecutive_failures,
        token_expires_at=found.token_expires_at,
        calls_ok=found.calls_ok,
        calls_failed=found.calls_failed,
    )


class IntegrationSummary(NativeOutput):
    connector: str
    title: str
    connections: list[str] = Field(
        description="The tenant's connection names to it (accounts). Health and call "
        "counts cover them all; events name the one each call used (detail.connection)."
    )
    default_connection: str | None = Field(
        description="The connection a tool call uses when it names no account; null when "
        "each call must name one in its account argument."
    )
    health: HealthName
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    token_expires_at: datetime | None
    tools: int = Field(description="Number of tools this integration provides.")
    health_check: str | None = Field(description="The tool run by an on-demand health check.")
    accounts: list[AccountStatus] = Field(
        default_factory=list,
        # Left out with a single connection, whose health the fields above already are.
        exclude_if=lambda v: not v,
        description="Present with several connections to the connector: each one's own "
        "health, from the recent calls that used it (the fields above cover them all).",
    )


class ListIntegrationsInput(NativeInput):
    pass


class ListIntegrationsOutput(NativeOutput):
    tenant_id: str
    integrations: list[IntegrationSummary]
    health_counts: dict[str, int] = Field(description="Integrations per health state.")


class ConnectionOut(NativeOutput):
    name: str
    variables: dict[str, str]
    credentials: dict[str, Literal["env", "secret", "literal"]] = Field(
        description="Credential fields and where each value comes from (never the value)."
    )


class HealthCheckOut(NativeOutput):
    tool: str
    ok: bool
    upstream_status: int | None
    latency_ms: float
    error: str | None


class IntegrationDetail(IntegrationSummary):
    tenant_id: str
    description: str
    auth: str = Field(description="The connector's authentication scheme.")
    connection_details: list[ConnectionOut]
    calls_ok: int
    calls_failed: int
    recent_errors: list[EventOut]
    health_check_result: HealthCheckOut | None = Field(
        description="Present when run_health_check was requested."
    )


class GetIntegrationStatusInput(NativeInput):
    connector: str = Field(
        min_length=1,
        max_length=64,
        description="The connector, e.g. slack (see fastn_list_integrations).",
    )
    run_health_check: bool = Field(
        default=False,
        description="Run the connector's health-check operation now and include its result.",
    )
    account: str | None = Field(
        default=None,
        max_length=64,
        description="With run_health_check and several connections to the connector: "
        "the connection to check (default: the default connection).",
    )
    recent_errors: int = Field(
        default=5, ge=0, le=50, description="How many recent failed events to include."
    )


def unknown_integration(connector: str) -> NativeToolError:
    # The same for a connector that exists but is not connected and one that does not.
    return NativeToolError(
        f"No integration {connector!r} is connected for this tenant",
        {"error": "unknown_integration", "connector": connector},
    )


async def _summary(
    ctx: CallContext, connector: str, status: IntegrationStatus | None
) -> IntegrationSummary:
    entry = ctx.services.catalog.connectors.get(connector)
    spec = entry.spec if entry is not None else None
    health: Health = status.health if status is not None else "unknown"
    names = sorted(c.name for c in ctx.tenant.connections.values() if c.connector == connector)
    accounts: list[AccountStatus] = []
    if len(names) > 1:  # one connection: the connector's row is already its health
        found = await accounts_health(ctx.services.store, ctx.tenant.id, connector, names)
        accounts = [account_status(a) for a in found]
    default = connector if connector in names else None
    return IntegrationSummary(
        connector=connector,
        title=spec.title if spec is not None else connector,
        connections=names,
        default_connection=names[0] if len(names) == 1 else default,
        health=health,
        last_success_at=status.last_success_at if status else None,
        last_error_at=status.last_error_at if status else None,
        last_error=status.last_error if status else None,
        consecutive_failures=status.consecutive_failures if status else 0,
        token_expires_at=status.token_expires_at if status else None,
        tools=len(entry.tool_names) if entry is not None else 0,
        health_check=spec.health_check if spec is not None else None,
        accounts=accounts,
    )


async def list_integrations(ctx: CallContext) -> ListIntegrationsOutput:
    await ctx.services.flush()
    rows = await ctx.services.store.integration_status(ctx.tenant.id)
    by_connector = {row.connector: row for row in rows}
    items = [await _summary(ctx, c, by_connector.get(c)) for c in ctx.tenant.connected_connectors()]
    counts: dict[str, int] = {}
    for item in items:
        counts[item.health] = counts.get(item.health, 0) + 1
    return ListIntegrationsOutput(tenant_id=ctx.tenant.id, integrations=items, health_counts=counts)


def _account(ctx: CallContext, connector: str, account: str | None) -> Connection | None:
    if account is None:
        return ctx.tenant.connection_for(connector)
    connection = ctx.tenant.connections.get(account)
    if connection is None or connection.connector != connector:
        names = sorted(c.name for c in ctx.tenant.connections.values() if c.connector == connector)
        raise NativeToolError(
            f"account: no connection {account!r} to {connector}; one of: {', '.join(names)}",
            {"error": "invalid_arguments", "field": "account", "accounts": names},
        )
    return connection


async def _run_health_check(
    ctx: CallContext, connector: str, account: str | None = None
) -> HealthCheckOut:
    services = ctx.services
    spec = services.catalog.connectors[connector].spec
    entry = services.catalog.tools.get(spec.health_check or "")
    connection = _account(ctx, connector, account)
    if entry is None or connection is None:
        raise NativeToolError(
            f"Connector {connector} declares no health check",
            {"error": "no_health_check", "connector": connector},
        )
    result, outcome = await services.calls.call(ctx.tenant, entry, connection, {})
    if outcome is None:  # refused before going upstream (a quota)
        text = result.content[0].text if result.content else "refused"  # type: ignore[union-attr]
        raise NativeToolError(f"Health check not run: {text}", result.structured_content)
    return HealthCheckOut(
        tool=entry.name,
        ok=not outcome.is_error,
        upstream_status=outcome.upstream_status,
        latency_ms=round(outcome.latency_ms, 3),
        error=outcome.text if outcome.is_error else None,
    )


async def integration_detail(
    ctx: CallContext,
    connector: str,
    *,
    run_health_check: bool = False,
    recent_errors: int = 5,
    account: str | None = None,
) -> IntegrationDetail:
    if connector not in ctx.tenant.connected_connectors():
        raise unknown_integration(connector)
    check = await _run_health_check(ctx, connector, account) if run_health_check else None
    services = ctx.services
    await services.flush()
    rows = await services.store.integration_status(ctx.tenant.id, connector)
    status = next((row for row in rows if row.connector == connector), None)
    errors: list[EventOut] = []
    if recent_errors:
        page = await services.store.list_events(
            ctx.tenant.id, EventQuery(status="failure", connector=connector, limit=recent_errors)
        )
        errors = [event_out(e) for e in page.events]
    entry = services.catalog.connectors.get(connector)
    connections = [
        ConnectionOut(
            name=c.name,
            variables=dict(c.variables),
            credentials={f: ref.kind for f, ref in c.credentials.items()},
        )
        for c in sorted(ctx.tenant.connections.values(), key=lambda c: c.name)
        if c.connector == connector
    ]
    summary = await _summary(ctx, connector, status)
    return IntegrationDetail(
        **summary.model_dump(),
        tenant_id=ctx.tenant.id,
        description=entry.spec.description if entry is not None else "",
        auth=entry.spec.auth.kind if entry is not None else "none",
        connection_details=connections,
        calls_ok=status.calls_ok if status else 0,
        calls_failed=status.calls_failed if status else 0,
        recent_errors=errors,
        health_check_result=check,
    )


async def _list(ctx: CallContext, args: ListIntegrationsInput) -> ListIntegrationsOutput:
    return await list_integrations(ctx)


async def _status(ctx: CallContext, args: GetIntegrationStatusInput) -> IntegrationDetail:
    return await integration_detail(
        ctx,
        args.connector,
        run_health_check=args.run_health_check,
        recent_errors=args.recent_errors,
        account=args.account,
    )


LIST_INTEGRATIONS = NativeTool(
    name="fastn_list_integrations",
    title="List integrations",
    description=(
        "The integrations (connected services) of the current tenant, each with a health "
        "summary: healthy, degraded, failing, credentials_expired or unknown (not used yet)."
    ),
    input_model=ListIntegrationsInput,
    output_model=ListIntegrationsOutput,
    run=_list,
)

GET_INTEGRATION_STATUS = NativeTool(
    name="fastn_get_integration_status",
    title="Get integration status",
    description=(
        "Detailed status of one integration: health, last success, last error and its "
        "message, consecutive failures, token expiry, call counts and recent errors. With "
        "run_health_check, first runs the connector's health-check operation."
    ),
    input_model=GetIntegrationStatusInput,
    output_model=IntegrationDetail,
    run=_status,
    open_world=True,
)
