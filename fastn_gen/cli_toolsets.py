"""``fastn-gen tools --tenant ID [--key KEY_ID]``: what one tenant (or key) is shown.

Lists the tools the tenant may call with their connector and access, the count, and
the size of its ``tools/list`` result (bytes of the serialised JSON, and an estimate
of the tokens it costs a model: one token per four characters). Warns when the count
is above the tool caps common clients apply.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import mcp_types as types

# Clients cap the tools they pass to a model: some editors at about 40, others at 128.
TOOL_CAPS = (40, 128)
CHARS_PER_TOKEN = 4
EXIT_INVALID = 2


@dataclass(frozen=True, slots=True)
class ToolsReport:
    tenant: str
    key: str | None
    mode: str
    tools: list[dict[str, Any]]  # name, connector, access: what the request may call
    listed: int  # tools in its tools/list
    list_bytes: int
    list_tokens: int
    warnings: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "key": self.key,
            "mode": self.mode,
            "count": len(self.tools),
            "tools_list": {
                "tools": self.listed,
                "bytes": self.list_bytes,
                "estimated_tokens": self.list_tokens,
                "token_estimate": f"{CHARS_PER_TOKEN} characters per token of the JSON",
            },
            "tools": self.tools,
            "warnings": self.warnings,
        }


def list_size(result: types.ListToolsResult) -> tuple[int, int]:
    """(bytes, estimated tokens) of ``result`` as the gateway serialises it."""
    text = json.dumps(
        result.model_dump(mode="json", by_alias=True, exclude_none=True),
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return len(text.encode()), math.ceil(len(text) / CHARS_PER_TOKEN)


def _warnings(listed: int, unknown_tags: list[str]) -> list[str]:
    found = [f"no tool has the tag {tag!r} (toolset tags match nothing)" for tag in unknown_tags]
    above = [cap for cap in TOOL_CAPS if listed > cap]
    if above:
        caps = " and ".join(str(cap) for cap in above)
        found.append(
            f"{listed} tools is above the {caps}-tool cap(s) some clients apply: narrow the "
            "toolset (connectors, tags, access, include/exclude) or set mode: search"
        )
    return found


def tools_report(config: Path, generated: Path, tenant_id: str, key_id: str | None) -> ToolsReport:
    """Raises click.ClickException for an unknown tenant or key, or a bad file."""
    from fastn_gen.gateway.catalog import Catalog, CatalogError
    from fastn_gen.gateway.handlers import TOOLS_LIST_CACHE
    from fastn_gen.gateway.tenancy import TenantConfigError, TenantRegistry
    from fastn_gen.gateway.tool_list import ToolLists
    from fastn_gen.gateway.tool_views import ToolViews
    from fastn_gen.native.meta_tools import META_TOOLS
    from fastn_gen.native.registry import NATIVE_NAMES, NATIVE_TOOLS

    # Unset ${VAR} credentials do not change what a tenant sees.
    logging.getLogger("fastn_gen.gateway.tenancy").setLevel(logging.ERROR)
    try:
        catalog = Catalog.load(generated)
        registry = TenantRegistry.load(
            config, catalog=catalog.connector_specs(), tools={*catalog.tools, *NATIVE_NAMES}
        )
    except (CatalogError, TenantConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    if registry.tenants_from == "store":
        raise click.ClickException(
            f"{config} serves its tenants from the store; toolsets are read from a "
            "tenants file only"
        )
    tenant = registry.get(tenant_id)
    if tenant is None:
        raise click.ClickException(f"no tenant {tenant_id!r} in {config}")
    if key_id is not None:
        keyed = registry.as_key(key_id)
        if keyed is None or keyed.id != tenant_id:
            raise click.ClickException(f"tenant {tenant_id} has no API key with id {key_id!r}")
        tenant = keyed
    natives = tuple(tool.mcp_tool() for tool in NATIVE_TOOLS)
    views = ToolViews(catalog, natives, META_TOOLS, TOOLS_LIST_CACHE)
    view = views.for_tenant(tenant)
    rows = []
    for name in [t.name for t in natives] + [t.name for t in view.dynamic]:
        facts = views.facts(name)
        if name not in view.callable or facts is None:
            continue
        access = "read" if facts.read_only else "delete" if facts.destructive else "write"
        rows.append({"name": name, "connector": facts.connector or "native", "access": access})
    known_tags = {tag for entry in catalog.tools.values() for tag in entry.tags}
    used_tags = {tag for f in tenant.toolset.filters for tag in f.tags or ()}
    # As served: connector tools without outputSchema (serve's default).
    size, tokens = list_size(ToolLists(catalog, TOOLS_LIST_CACHE).result(view))
    listed = len(view.listed.tools)
    return ToolsReport(
        tenant=tenant.id,
        key=key_id,
        mode=tenant.toolset.mode,
        tools=rows,
        listed=listed,
        list_bytes=size,
        list_tokens=tokens,
        warnings=_warnings(listed, sorted(used_tags - known_tags)),
    )


def print_report(report: ToolsReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=1))
        return
    who = f"tenant {report.tenant}" + (f", key {report.key}" if report.key else "")
    click.echo(f"{who}: {len(report.tools)} tools (mode {report.mode})")
    width = max([len(row["name"]) for row in report.tools] + [4])
    click.echo(f"{'NAME':<{width}}  {'CONNECTOR':<12}  ACCESS")
    for row in report.tools:
        click.echo(f"{row['name']:<{width}}  {row['connector']:<12}  {row['access']}")
    shown = "" if report.mode == "all" else " (the native tools and the search meta-tools)"
    click.echo(
        f"tools/list: {report.listed} tools{shown}, {report.list_bytes} bytes, "
        f"~{report.list_tokens} tokens (estimated at {CHARS_PER_TOKEN} characters per "
        "token of the serialised JSON)"
    )
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
