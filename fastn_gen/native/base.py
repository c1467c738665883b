"""What every native tool is made of: input and output models, a run function.

Input and output schemas are generated from the pydantic models, so what a client is
told (``inputSchema``, ``outputSchema``) and what the gateway checks and returns are
the same definitions. Every result carries ``structuredContent`` that validates
against the output schema, and the same JSON as text for clients that read text only.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import mcp_types as types
from pydantic import BaseModel, ConfigDict, Field

from fastn_gen.gateway.services import Services
from fastn_gen.gateway.tenancy import Tenant
from fastn_gen.native import schema_snapshot

if TYPE_CHECKING:
    from fastn_gen.flows.runtime import FlowRuntime

TENANT_ID_DESCRIPTION = (
    "Accepted for compatibility with Fastn clients. The tenant is always the one the "
    "API key belongs to; a different value is refused."
)


class NativeInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str | None = Field(default=None, description=TENANT_ID_DESCRIPTION)


class NativeOutput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NativeToolError(Exception):
    """Ends a native call with an ``isError`` result (a problem the caller can fix)."""

    def __init__(self, message: str, structured: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.structured = structured


@dataclass(frozen=True, slots=True)
class CallContext:
    tenant: Tenant
    services: Services
    # Input models of the native tools, by name (flows may call them too).
    native_inputs: Mapping[str, type[BaseModel]] = field(default_factory=dict)
    # The flows runtime that runs and schedules this tenant's flows.
    flows: FlowRuntime | None = None

    @property
    def now(self) -> datetime:
        return self.services.clock()


In = TypeVar("In", bound=NativeInput)
Out = TypeVar("Out", bound=NativeOutput)


@dataclass(frozen=True, slots=True)
class NativeTool(Generic[In, Out]):
    name: str
    title: str
    description: str
    input_model: type[In]
    output_model: type[Out]
    run: Callable[[CallContext, In], Awaitable[Out]]
    read_only: bool = True
    # Deletes state (drives the destructive OAuth scope and the client's confirmation).
    destructive: bool = False
    # Whether the tool reaches an upstream API (the health check does).
    open_world: bool = False

    def input_schema(self) -> dict[str, Any]:
        return schema_snapshot.schemas(self)["input"]

    def output_schema(self) -> dict[str, Any]:
        return schema_snapshot.schemas(self)["output"]

    def mcp_tool(self) -> types.Tool:
        schemas = schema_snapshot.schemas(self)
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=schemas["input"],
            output_schema=schemas["output"],
            annotations=types.ToolAnnotations(
                title=self.title,
                read_only_hint=self.read_only,
                destructive_hint=self.destructive,
                idempotent_hint=self.read_only,
                open_world_hint=self.open_world,
            ),
        )


def structured_result(output: NativeOutput) -> types.CallToolResult:
    doc = output.model_dump(mode="json")
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(doc, ensure_ascii=False))],
        structured_content=doc,
        is_error=False,
    )
