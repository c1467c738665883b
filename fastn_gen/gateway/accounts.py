"""Several accounts of one connector per tenant (two Slack workspaces, a shop per region).

A tenant may hold more than one connection to a connector. Its tools are then not
duplicated (tool count stays constant, which matters to clients that cap tool lists):
each of that connector's tools gains an *account* argument in its input schema, for
that tenant only, whose ``enum`` is the tenant's connection names. The argument is
optional when one connection is named like the connector (that one is the default),
and required otherwise. A tool whose operation already has a parameter ``account``
takes ``fastn_account`` instead (then ``fastn_account_2``, ...).

Tenants with one connection per connector see the catalog's schemas untouched: the
lists built here are used only for tenants that have several accounts somewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mcp_types as types

from fastn_gen.gateway.catalog import Catalog, ToolEntry
from fastn_gen.gateway.tenancy import Connection, Tenant

if TYPE_CHECKING:
    # Only a type here: importing mcp.server loads the whole SDK, which the CLI
    # (tenants_admin -> services -> calls -> accounts) does not otherwise need.
    from mcp.server.caching import CacheHint

ACCOUNT_ARGUMENT = "account"
FALLBACK_ARGUMENT = "fastn_account"
ERR_ACCOUNT = "invalid_arguments"  # the same kind as any other refused argument
# Shapes are few (tenants tend to name accounts alike); the cap bounds a deployment
# whose every tenant names its accounts differently.
MAX_CACHED = 1024


@dataclass(frozen=True, slots=True)
class Accounts:
    """A tenant's connections to one connector, when it has more than one."""

    names: tuple[str, ...]  # sorted
    default: str | None  # the connection named like the connector, if any


# connector -> its accounts, as a sorted tuple so equal shapes compare and hash equal
AccountShape = tuple[tuple[str, Accounts], ...]


def account_shape(tenant: Tenant) -> AccountShape:
    """The tenant's connectors with several connections (empty for most tenants)."""
    # On every tools/list: the common case (one connection each) is answered first.
    if len({c.connector for c in tenant.connections.values()}) == len(tenant.connections):
        return ()
    by_connector: dict[str, list[str]] = {}
    for connection in tenant.connections.values():
        by_connector.setdefault(connection.connector, []).append(connection.name)
    return tuple(
        (connector, Accounts(tuple(sorted(names)), connector if connector in names else None))
        for connector, names in sorted(by_connector.items())
        if len(names) > 1
    )


def account_argument(input_schema: Mapping[str, Any]) -> str:
    """The argument that names the account, never one of the operation's own."""
    properties = input_schema.get("properties") or {}
    if ACCOUNT_ARGUMENT not in properties:
        return ACCOUNT_ARGUMENT
    name, n = FALLBACK_ARGUMENT, 1
    while name in properties:
        n += 1
        name = f"{FALLBACK_ARGUMENT}_{n}"
    return name


def with_account(input_schema: Mapping[str, Any], accounts: Accounts) -> dict[str, Any]:
    """A copy of ``input_schema`` with the account argument added."""
    argument = account_argument(input_schema)
    listed = ", ".join(accounts.names)
    if accounts.default is not None:
        description = f"Which of your connections to use: {listed}. Defaults to {accounts.default}."
    else:
        description = f"Which of your connections to use (required): {listed}."
    prop: dict[str, Any] = {"type": "string", "enum": list(accounts.names)}
    if accounts.default is not None:
        prop["default"] = accounts.default
    prop["description"] = description
    schema = dict(input_schema)
    schema["properties"] = {**(input_schema.get("properties") or {}), argument: prop}
    if accounts.default is None:
        schema["required"] = [*(input_schema.get("required") or []), argument]
    return schema


@dataclass(frozen=True, slots=True)
class AccountRefusal:
    """The account argument was missing or named no connection of this tenant."""

    tool: str
    argument: str
    accounts: Accounts

    @property
    def message(self) -> str:
        valid = ", ".join(self.accounts.names)
        if self.accounts.default is None:
            problem = f"required, one of: {valid}"
        else:
            problem = f"must be one of: {valid} (default {self.accounts.default})"
        return f"Invalid arguments for {self.tool}: {self.argument}: {problem}"

    def structured(self) -> dict[str, Any]:
        return {
            "error": ERR_ACCOUNT,
            "field": self.argument,
            "accounts": list(self.accounts.names),
        }


@dataclass(frozen=True, slots=True)
class AccountChoice:
    connection: Connection
    arguments: Mapping[str, Any] | None  # without the account argument


def choose_account(
    tenant: Tenant, entry: ToolEntry, arguments: Mapping[str, Any] | None
) -> AccountChoice | AccountRefusal | None:
    """The connection a call runs with, and its arguments without the account.

    None when the tenant has no connection to the tool's connector. With a single
    connection the arguments are passed on untouched, so an ``account`` argument is
    refused by the input model like any other unknown argument.
    """
    connector = entry.connector.name
    names = sorted(c.name for c in tenant.connections.values() if c.connector == connector)
    if len(names) < 2:
        connection = tenant.connection_for(connector)
        return AccountChoice(connection, arguments) if connection is not None else None
    accounts = Accounts(tuple(names), connector if connector in names else None)
    argument = account_argument(entry.input_schema)
    rest = dict(arguments or {})
    wanted = rest.pop(argument, None)
    if wanted is None:
        wanted = accounts.default
    if not isinstance(wanted, str) or wanted not in accounts.names:
        return AccountRefusal(entry.name, argument, accounts)
    return AccountChoice(tenant.connections[wanted], rest)


class AccountTools:
    """Tool lists and input schemas for tenants with several accounts, cached per shape.

    Tenants with the same connectors and the same account names share one list.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._lists: dict[tuple[frozenset[str], AccountShape], tuple[types.Tool, ...]] = {}
        self._results: dict[tuple[frozenset[str], AccountShape], types.ListToolsResult] = {}
        self._schemas: dict[tuple[str, Accounts], dict[str, Any]] = {}

    def listing(
        self,
        tenant: Tenant,
        shape: AccountShape,
        native_tools: tuple[types.Tool, ...],
        hint: CacheHint,
    ) -> types.ListToolsResult:
        """``tools/list`` for a tenant with accounts: native tools, then its tools."""
        key = (frozenset(tenant.connected_connectors()), shape)
        result = self._results.get(key)
        if result is None:
            result = types.ListToolsResult(
                tools=[*native_tools, *self.tools(*key)],
                ttl_ms=hint.ttl_ms,
                cache_scope=hint.scope,
            )
            if len(self._results) >= MAX_CACHED:
                self._results.clear()
            self._results[key] = result
        return result

    def tools(self, connectors: frozenset[str], shape: AccountShape) -> tuple[types.Tool, ...]:
        """The catalog's tools for ``connectors``, with the account argument where due."""
        key = (connectors, shape)
        listed = self._lists.get(key)
        if listed is None:
            listed = tuple(self._augment(self.catalog.tools_for(connectors), dict(shape)))
            if len(self._lists) >= MAX_CACHED:
                self._lists.clear()
            self._lists[key] = listed
        return listed

    def _augment(
        self, tools: Iterable[types.Tool], shape: Mapping[str, Accounts]
    ) -> Iterable[types.Tool]:
        for tool in tools:
            entry = self.catalog.tools.get(tool.name)
            accounts = shape.get(entry.connector.name) if entry is not None else None
            if entry is None or accounts is None:
                yield tool
            else:
                yield tool.model_copy(update={"input_schema": self.schema(entry, accounts)})

    def schema(self, entry: ToolEntry, accounts: Accounts) -> dict[str, Any]:
        key = (entry.name, accounts)
        schema = self._schemas.get(key)
        if schema is None:
            schema = with_account(entry.input_schema, accounts)
            if len(self._schemas) >= MAX_CACHED:
                self._schemas.clear()
            self._schemas[key] = schema
        return schema

    def input_schema(self, tenant: Tenant, entry: ToolEntry) -> Mapping[str, Any]:
        """The schema ``tenant`` was advertised for ``entry``."""
        accounts = dict(account_shape(tenant)).get(entry.connector.name)
        return entry.input_schema if accounts is None else self.schema(entry, accounts)
