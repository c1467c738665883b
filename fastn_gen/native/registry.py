"""The native tools, listed first for every tenant, and how a call to one runs.

A call: the optional ``tenant_id`` argument is checked first (a mismatch is refused
and recorded as an ``auth_failure``), then the arguments against the tool's input
model, then the per-minute rate limit; the tool runs, and the call is recorded like
any other tool call (with no connector).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import mcp_types as types
from pydantic import BaseModel, ValidationError

from fastn_gen.gateway.calls import describe_validation_error, error_result, refusal_result
from fastn_gen.gateway.services import Services
from fastn_gen.gateway.tenancy import Tenant
from fastn_gen.native.base import CallContext, NativeTool, NativeToolError, structured_result
from fastn_gen.native.entities import SEARCH_ENTITIES
from fastn_gen.native.events import GET_EVENT_HISTORY
from fastn_gen.native.flow_tools import (
    DELETE_FLOW,
    GET_FLOW,
    LIST_FLOWS,
    RUN_FLOW,
    SET_FLOW_ENABLED,
)
from fastn_gen.native.flows import CREATE_FLOW
from fastn_gen.native.integrations import GET_INTEGRATION_STATUS, LIST_INTEGRATIONS
from fastn_gen.native.usage import GET_USAGE_SUMMARY

logger = logging.getLogger(__name__)

# In the order tools/list shows them.
NATIVE_TOOLS: tuple[NativeTool[Any, Any], ...] = (
    LIST_INTEGRATIONS,
    GET_INTEGRATION_STATUS,
    CREATE_FLOW,
    GET_EVENT_HISTORY,
    GET_USAGE_SUMMARY,
    SEARCH_ENTITIES,
    # The flows engine's management tools.
    RUN_FLOW,
    LIST_FLOWS,
    GET_FLOW,
    SET_FLOW_ENABLED,
    DELETE_FLOW,
)
NATIVE_NAMES = frozenset(tool.name for tool in NATIVE_TOOLS)


def tenant_mismatch(tool: str) -> str:
    # Says nothing about whether the other tenant exists.
    return (
        f"{tool} refused: tenant_id does not match the tenant of the API key; a tool "
        "acts only for the authenticated tenant"
    )


class NativeTools:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._by_name = {tool.name: tool for tool in NATIVE_TOOLS}
        self.tools: tuple[types.Tool, ...] = tuple(tool.mcp_tool() for tool in NATIVE_TOOLS)
        self._schemas = {tool.name: tool.input_schema for tool in self.tools}
        self._inputs: Mapping[str, type[BaseModel]] = {
            tool.name: tool.input_model for tool in NATIVE_TOOLS
        }
        # One flows runtime per set of services; it calls tools through this object.
        from fastn_gen.flows.runtime import FlowRuntime  # the runtime imports this module

        if not isinstance(services.flows, FlowRuntime):
            services.flows = FlowRuntime(services, self)
        self.flows: FlowRuntime = services.flows

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def input_schema(self, name: str) -> Mapping[str, Any] | None:
        return self._schemas.get(name)

    def input_model(self, name: str) -> type[BaseModel]:
        return self._inputs[name]

    def read_only(self, name: str) -> bool:
        return self._by_name[name].read_only

    def context(self, tenant: Tenant) -> CallContext:
        return CallContext(tenant, self.services, self._inputs, self.flows)

    async def call(
        self, tenant: Tenant, name: str, arguments: Mapping[str, Any] | None
    ) -> types.CallToolResult:
        tool = self._by_name[name]
        recorder = self.services.recorder
        started = time.perf_counter()
        claimed = (arguments or {}).get("tenant_id")
        if claimed is not None and claimed != tenant.id:
            await recorder.event(
                tenant.id,
                "auth_failure",
                "failure",
                tool=name,
                error="tenant_id argument does not match the authenticated tenant",
                arguments=arguments,
            )
            return error_result(tenant_mismatch(name), {"error": "tenant_mismatch"})
        try:
            args = tool.input_model.model_validate(arguments or {})
        except ValidationError as exc:
            message = describe_validation_error(name, exc)
            await self._record(tenant, name, started, arguments, message)
            return error_result(message)
        refusal = await self.services.quotas.consume(tenant, None, name)
        if refusal is not None:
            await recorder.quota_refusal(tenant.id, name, None, refusal, arguments)
            return refusal_result(refusal)
        try:
            output = await tool.run(self.context(tenant), args)
        except NativeToolError as exc:
            await self._record(tenant, name, started, arguments, exc.message)
            return error_result(exc.message, exc.structured)
        except Exception:
            logger.exception("native tool %s failed for tenant %s", name, tenant.id)
            message = f"{name} failed: internal error in the gateway"
            await self._record(tenant, name, started, arguments, message)
            return error_result(message)
        await self._record(tenant, name, started, arguments, None)
        return structured_result(output)

    async def _record(
        self,
        tenant: Tenant,
        name: str,
        started: float,
        arguments: Mapping[str, Any] | None,
        error: str | None,
    ) -> None:
        await self.services.recorder.event(
            tenant.id,
            "tool_call",
            "failure" if error else "success",
            tool=name,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            error=error,
            arguments=arguments,
        )
