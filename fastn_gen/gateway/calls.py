"""One connector tool call, start to end: validate, check quotas, execute, record.

The ``tools/call`` handler and the on-demand health check both run connector tools
through here, so every such call is counted against the tenant's limits before it goes
upstream and leaves an event and an integration-status update behind.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import mcp_types as types
from pydantic import ValidationError

from fastn_gen.gateway.accounts import AccountRefusal, choose_account
from fastn_gen.gateway.catalog import ToolEntry
from fastn_gen.gateway.executor import Executor
from fastn_gen.gateway.outcome import ERR_ARGUMENTS, ToolOutcome, error_outcome
from fastn_gen.gateway.quotas import QuotaEnforcer, QuotaRefusal
from fastn_gen.gateway.recording import ERR_INTERNAL, EventRecorder
from fastn_gen.gateway.tenancy import Connection, Tenant

logger = logging.getLogger(__name__)


def describe_validation_error(tool: str, exc: ValidationError) -> str:
    """``Invalid arguments for <tool>: <field>: <problem>; ...`` without echoing values."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in err["loc"]) or "arguments"
        problems.append(f"{where}: {err['msg']}")
    return f"Invalid arguments for {tool}: " + "; ".join(problems)


def error_result(text: str, structured: dict[str, Any] | None = None) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structured_content=structured,
        is_error=True,
    )


def refusal_result(refusal: QuotaRefusal) -> types.CallToolResult:
    return error_result(refusal.message, refusal.structured())


def outcome_result(outcome: ToolOutcome) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=outcome.text)],
        structured_content=outcome.structured,
        is_error=outcome.is_error,
    )


class ConnectorCalls:
    """Runs connector tools for tenants, with limits and recording."""

    def __init__(self, executor: Executor, quotas: QuotaEnforcer, recorder: EventRecorder) -> None:
        self.executor = executor
        self.quotas = quotas
        self.recorder = recorder

    async def call_for_client(
        self, tenant: Tenant, entry: ToolEntry, arguments: Mapping[str, Any] | None
    ) -> tuple[types.CallToolResult, ToolOutcome | None] | None:
        """A call as a client makes it: the account argument picks the connection.

        None when the tenant has no connection to the tool's connector.
        """
        choice = choose_account(tenant, entry, arguments)
        if choice is None:
            return None
        if isinstance(choice, AccountRefusal):
            refused = error_outcome(choice.message, ERR_ARGUMENTS, 0.0)
            await self.recorder.tool_call(
                tenant.id, entry.name, entry.connector.name, refused, arguments
            )
            return error_result(choice.message, choice.structured()), None
        return await self.call(tenant, entry, choice.connection, choice.arguments)

    async def call(
        self,
        tenant: Tenant,
        entry: ToolEntry,
        connection: Connection,
        arguments: Mapping[str, Any] | None,
    ) -> tuple[types.CallToolResult, ToolOutcome | None]:
        """The result for the client, and the upstream outcome when the call ran."""
        name, connector = entry.name, entry.connector.name
        try:
            validated = entry.input_model().model_validate(arguments or {})
        except ValidationError as exc:
            message = describe_validation_error(name, exc)
            refused = error_outcome(message, ERR_ARGUMENTS, 0.0)
            await self.recorder.tool_call(
                tenant.id, name, connector, refused, arguments, connection=connection.name
            )
            return error_result(message), None
        refusal = await self.quotas.consume(tenant, connector, name)
        if refusal is not None:
            await self.recorder.quota_refusal(tenant.id, name, connector, refusal, arguments)
            return refusal_result(refusal), None
        try:
            outcome = await self.executor.execute(
                tenant, connection, entry.connector, entry.operation, validated.to_arguments()
            )
        except Exception:
            # The executor reports upstream failures as outcomes; anything raised is a
            # bug, and must still not take the connection down.
            logger.exception("tool %s failed for tenant %s", name, tenant.id)
            outcome = error_outcome(
                f"{name} failed: internal error in the gateway", ERR_INTERNAL, 0.0
            )
        await self.recorder.tool_call(
            tenant.id, name, connector, outcome, arguments, connection=connection.name
        )
        logger.debug(
            "tool %s tenant %s: status %s in %.1f ms%s",
            name,
            tenant.id,
            outcome.upstream_status,
            outcome.latency_ms,
            " (error)" if outcome.is_error else "",
        )
        return outcome_result(outcome), outcome
