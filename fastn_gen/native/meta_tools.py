"""``fastn_search_tools`` and ``fastn_call_tool``: the tool list of a ``mode: search`` toolset.

A search-mode request lists the native tools and these two instead of its connector
tools. ``fastn_search_tools`` ranks only the tools the request may call (its tenant's
connectors, narrowed by its toolset). ``fastn_call_tool`` hands the name and arguments
to the very function that serves a direct ``tools/call``, so validation, the toolset
check, quotas, events and usage are those of a direct call, under the real tool's name;
a tool the request may not call is answered as unknown, exactly like a direct call.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any

import anyio
import anyio.to_thread
import mcp_types as types
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fastn_gen.gateway.calls import describe_validation_error, error_result
from fastn_gen.gateway.catalog import Catalog
from fastn_gen.gateway.tool_search import ToolSearchIndex
from fastn_gen.gateway.toolsets import ToolFacts

SEARCH_TOOLS = "fastn_search_tools"
CALL_TOOL = "fastn_call_tool"
META_NAMES = frozenset({SEARCH_TOOLS, CALL_TOOL})

# Runs a tool exactly as a direct tools/call would: (name, arguments) -> result.
Dispatch = Callable[[str, Mapping[str, Any] | None], Awaitable[types.CallToolResult]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SearchToolsInput(_Model):
    query: str = Field(
        min_length=1,
        max_length=500,
        description="What you want to do, in plain words, e.g. 'post a message to a channel'.",
    )
    limit: int = Field(default=5, ge=1, le=25, description="How many tools to return.")


class FoundTool(_Model):
    name: str = Field(description="Pass it to fastn_call_tool as name.")
    title: str | None
    description: str | None
    connector: str | None = Field(description="null for native tools.")
    read_only: bool
    destructive: bool
    input_schema: dict[str, Any] = Field(description="The JSON schema of its arguments.")
    score: float = Field(description="Relevance; higher is better.")


class SearchToolsOutput(_Model):
    query: str
    tools: list[FoundTool] = Field(description="Best match first.")


class CallToolInput(_Model):
    name: str = Field(min_length=1, max_length=128, description="A name fastn_search_tools gave.")
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="The tool's arguments, following its input_schema."
    )


def _tool(
    name: str, title: str, description: str, model: type[BaseModel], **hints: Any
) -> types.Tool:
    return types.Tool(
        name=name,
        title=title,
        description=description,
        input_schema=model.model_json_schema(),
        output_schema=(
            SearchToolsOutput.model_json_schema(mode="serialization")
            if name == SEARCH_TOOLS
            else None
        ),
        annotations=types.ToolAnnotations(title=title, **hints),
    )


SEARCH_TOOL = _tool(
    SEARCH_TOOLS,
    "Search tools",
    "Find the tools for a task among every tool you may use, best match first, with their "
    "argument schemas. Then call one with fastn_call_tool.",
    SearchToolsInput,
    read_only_hint=True,
    destructive_hint=False,
    idempotent_hint=True,
    open_world_hint=False,
)
CALL_TOOL_TOOL = _tool(
    CALL_TOOL,
    "Call a tool",
    "Call a tool found with fastn_search_tools: give its name and its arguments. The "
    "result is the tool's own result.",
    CallToolInput,
    read_only_hint=False,
    destructive_hint=True,
    idempotent_hint=False,
    open_world_hint=True,
)

META_TOOLS = (SEARCH_TOOL, CALL_TOOL_TOOL)


class MetaTools:
    """Serves the two meta-tools over one search index, built once per catalog.

    The index is built on the first search, in a worker thread: building it for a large
    catalog (about 0.5 s of CPU for GitHub's 1,222 tools) would otherwise lengthen every
    gateway's start, whether or not any tenant uses search mode.
    """

    def __init__(
        self,
        native_tools: Iterable[types.Tool],
        catalog: Catalog,
        facts: Callable[[str], ToolFacts | None],
    ) -> None:
        self._tools = {tool.name: tool for tool in native_tools}
        self._tools.update((name, entry.tool) for name, entry in catalog.tools.items())
        self._facts = facts
        self._index: ToolSearchIndex | None = None
        self._building = anyio.Lock()
        self._schemas = {tool.name: tool.input_schema for tool in META_TOOLS}

    def __contains__(self, name: str) -> bool:
        return name in META_NAMES

    def input_schema(self, name: str) -> Mapping[str, Any] | None:
        return self._schemas.get(name)

    async def index(self) -> ToolSearchIndex:
        if self._index is None:
            async with self._building:
                if self._index is None:
                    tools = list(self._tools.values())
                    self._index = await anyio.to_thread.run_sync(ToolSearchIndex, tools)
        return self._index

    async def call(
        self,
        name: str,
        arguments: Mapping[str, Any] | None,
        allowed: Collection[str],
        dispatch: Dispatch,
        schema_of: Callable[[str], Mapping[str, Any] | None] | None = None,
    ) -> types.CallToolResult:
        """``schema_of`` gives the input schema this request was advertised (a tenant
        with several accounts has an ``account`` argument the catalog's lacks)."""
        if name == SEARCH_TOOLS:
            try:
                query = SearchToolsInput.model_validate(arguments or {})
            except ValidationError as exc:
                return error_result(describe_validation_error(name, exc))
            return self._search(await self.index(), query, allowed, schema_of)
        try:
            call = CallToolInput.model_validate(arguments or {})
        except ValidationError as exc:
            return error_result(describe_validation_error(name, exc))
        # The meta-tools are not in ``allowed``: dispatch answers them as unknown.
        return await dispatch(call.name, call.arguments)

    def _search(
        self,
        index: ToolSearchIndex,
        query: SearchToolsInput,
        allowed: Collection[str],
        schema_of: Callable[[str], Mapping[str, Any] | None] | None = None,
    ) -> types.CallToolResult:
        found = []
        for hit in index.search(query.query, allowed, query.limit):
            tool = self._tools[hit.name]
            facts = self._facts(hit.name)
            found.append(
                FoundTool(
                    name=tool.name,
                    title=tool.title,
                    description=tool.description,
                    connector=facts.connector if facts is not None else None,
                    read_only=facts.read_only if facts is not None else False,
                    destructive=facts.destructive if facts is not None else True,
                    input_schema=dict(
                        (schema_of(tool.name) if schema_of else None) or tool.input_schema
                    ),
                    score=hit.score,
                )
            )
        doc = SearchToolsOutput(query=query.query, tools=found).model_dump(mode="json")
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(doc, ensure_ascii=False))],
            structured_content=doc,
            is_error=False,
        )
