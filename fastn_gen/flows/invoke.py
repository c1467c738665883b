"""One tool call of a flow step, through the same path as an MCP ``tools/call``.

Native tools run through :class:`NativeTools.call`, connector tools through
:class:`ConnectorCalls.call`, exactly as the request handlers call them: the tool must
be visible to the tenant at run time (its connections may have changed since the flow
was saved), the call is counted against the tenant's quotas and recorded as an event,
and the upstream sees only the tenant's own credentials. Calls made for a flow carry
the run id (:data:`FLOW_RUN`), so events can say so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mcp_types as types
from pydantic import ValidationError

from fastn_gen.gateway.recording import FLOW_RUN
from fastn_gen.gateway.services import Services
from fastn_gen.gateway.tenancy import Tenant
from fastn_gen.gateway.tool_views import entry_facts

if TYPE_CHECKING:
    from fastn_gen.native.registry import NativeTools

# Refusals a retry cannot change before the period ends.
NOT_RETRIED = frozenset(
    {"invalid_arguments", "unknown_tool", "quota_exceeded", "tenant_mismatch", "expression"}
)


@dataclass(frozen=True, slots=True)
class CallOutcome:
    ok: bool
    result: Any  # structured content, else the text (parsed as JSON when it is JSON)
    error: str | None
    kind: str | None  # why it failed: invalid_arguments, rate_limited, http_status, ...
    latency_ms: float
    upstream_status: int | None = None
    retry_after_s: float | None = None

    @property
    def retryable(self) -> bool:
        return not self.ok and self.kind not in NOT_RETRIED


def failure(error: str, kind: str, latency_ms: float = 0.0) -> CallOutcome:
    return CallOutcome(False, None, error, kind, latency_ms)


def _text(result: types.CallToolResult) -> str:
    return "".join(b.text for b in result.content if isinstance(b, types.TextContent))


def _value(result: types.CallToolResult) -> Any:
    if result.structured_content is not None:
        return result.structured_content
    text = _text(result)
    try:
        return json.loads(text)
    except ValueError:
        return text


class ToolInvoker:
    def __init__(self, services: Services, native: NativeTools) -> None:
        self.services = services
        self.native = native

    def idempotent(self, tenant: Tenant, tool: str) -> bool:
        """Whether calling ``tool`` twice does no more than calling it once."""
        if tool in self.native:
            return self.native.read_only(tool)
        entry = self.services.catalog.visible(tool, tenant.connected_connectors())
        hints = entry.tool.annotations if entry is not None else None
        return bool(hints and (hints.read_only_hint or hints.idempotent_hint))

    def connector_of(self, tenant: Tenant, tool: str) -> str | None:
        entry = self.services.catalog.visible(tool, tenant.connected_connectors())
        return entry.connector.name if entry is not None else None

    async def call(
        self, tenant: Tenant, tool: str, arguments: Mapping[str, Any], run_id: str
    ) -> CallOutcome:
        token = FLOW_RUN.set(run_id)
        try:
            if tool in self.native:
                return await self._native(tenant, tool, arguments)
            return await self._connector(tenant, tool, arguments)
        finally:
            FLOW_RUN.reset(token)

    async def _native(self, tenant: Tenant, tool: str, arguments: Mapping[str, Any]) -> CallOutcome:
        started = time.perf_counter()
        model = self.native.input_model(tool)
        try:
            model.model_validate(arguments)
            invalid = False
        except ValidationError:
            invalid = True  # the call below refuses and records it, as for a client
        result = await self.native.call(tenant, tool, arguments)
        latency = (time.perf_counter() - started) * 1000.0
        if not result.is_error:
            return CallOutcome(True, _value(result), None, None, latency)
        structured = result.structured_content or {}
        kind = "invalid_arguments" if invalid else str(structured.get("error") or "tool_error")
        retry_after = structured.get("retry_after_s")
        return CallOutcome(
            False,
            None,
            _text(result),
            kind,
            latency,
            retry_after_s=float(retry_after) if isinstance(retry_after, int | float) else None,
        )

    async def _connector(
        self, tenant: Tenant, tool: str, arguments: Mapping[str, Any]
    ) -> CallOutcome:
        entry = self.services.catalog.visible(tool, tenant.connected_connectors())
        if entry is not None and not tenant.toolset.admits(entry_facts(entry)):
            entry = None
        started = time.perf_counter()
        # Like a client's call: an account argument picks one of several connections.
        done = (
            await self.services.calls.call_for_client(tenant, entry, arguments)
            if entry is not None
            else None
        )
        if done is None:
            # The same answer as for an MCP client: nothing about other tenants' tools.
            return failure(f"Unknown tool: {tool}", "unknown_tool")
        result, outcome = done
        latency = (time.perf_counter() - started) * 1000.0
        if outcome is None:  # refused before going upstream: arguments or a limit
            structured = result.structured_content or {}
            kind = str(structured.get("error") or "invalid_arguments")
            retry_after = structured.get("retry_after_s")
            return CallOutcome(
                False,
                None,
                _text(result),
                kind,
                latency,
                retry_after_s=float(retry_after) if isinstance(retry_after, int | float) else None,
            )
        if outcome.is_error:
            return CallOutcome(
                False,
                None,
                outcome.text,
                outcome.error or "tool_error",
                outcome.latency_ms,
                outcome.upstream_status,
                outcome.retry_after,
            )
        value = outcome.structured if outcome.structured is not None else _value(result)
        return CallOutcome(True, value, None, None, outcome.latency_ms, outcome.upstream_status)
