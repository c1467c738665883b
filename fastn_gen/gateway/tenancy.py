"""Tenants, their API keys and connections, loaded from ``tenants.yaml``.

The file is validated as a whole: every mistake is collected with its location (a
JSON pointer, plus the YAML line) and reported together in one
:class:`TenantConfigError`. Nothing in a message repeats a credential value.

Credential references (values under a connection's ``credentials``):

- ``${ENV_VAR}``: read from the environment when a tool is called;
- ``secret:<name>``: the value stored for (tenant, connection, ``<name>``) in the
  encrypted secrets file (:mod:`fastn_gen.gateway.secrets`);
- anything else is a plaintext literal, refused unless the connection or its tenant
  sets ``allow_plaintext: true``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio.to_thread
import yaml
from pydantic import BaseModel, ValidationError

from fastn_gen.gateway import tenants_yaml
from fastn_gen.gateway.apikeys import (
    DEFAULT_CACHE_SIZE,
    KEY_ID_PATTERN,
    ApiKeyIndex,
    KeyEntry,
    KeyHashError,
    KeyIndexStats,
    generate_api_key,
    hash_api_key,
    key_id,
    parse_key_hash,
)
from fastn_gen.gateway.auth_inject import AUTH_FIELDS, REQUIRED_FIELDS
from fastn_gen.gateway.forked import run_forked
from fastn_gen.gateway.limits import UNLIMITED, Limits
from fastn_gen.gateway.secrets import SecretStore, resolve_data_dir
from fastn_gen.gateway.shared_parts import SharedParts, collector_paused
from fastn_gen.gateway.tenants_model import (
    ENV_REF,
    SECRET_PREFIX,
    ApiKeyModel,
    ConnectionModel,
    LimitsModel,
    PlanModel,
    TenantModel,
    TenantsFileModel,
)
from fastn_gen.gateway.toolset_config import key_toolsets, tenant_toolset, toolset_problems
from fastn_gen.gateway.toolsets import FULL, Toolset
from fastn_gen.runtime.operation import ConnectorSpec

__all__ = [
    "ConfigIssue",
    "Connection",
    "ConnectorCatalog",
    "ConnectorRequirements",
    "CredentialRef",
    "Tenant",
    "TenantConfigError",
    "TenantRegistry",
    "generate_api_key",
    "hash_api_key",
    "validate_tenants",
]

logger = logging.getLogger(__name__)

_URL_SAFE_VARIABLE = re.compile(r"^[A-Za-z0-9._~-]+$")


# -- configuration errors -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    pointer: str  # JSON pointer into the document, "" for the root
    message: str
    line: int | None = None  # 1-based line in the YAML file, when known

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.pointer or '/'}: {self.message}"


class TenantConfigError(Exception):
    """Every problem found in a tenants file."""

    def __init__(self, source: str, issues: Iterable[ConfigIssue]) -> None:
        self.source = source
        self.issues = list(issues)
        lines = "\n".join(f"  {source}: {issue}" for issue in self.issues)
        super().__init__(f"{len(self.issues)} problem(s) in {source}:\n{lines}")


# -- runtime types ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CredentialRef:
    """Where a credential's value comes from. ``target`` of a literal is the value."""

    kind: Literal["env", "secret", "literal"]
    target: str = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> CredentialRef:
        env = ENV_REF.match(text)
        if env is not None:
            return cls("env", env.group(1))
        if text.startswith(SECRET_PREFIX):
            return cls("secret", text[len(SECRET_PREFIX) :])
        return cls("literal", text)

    def describe(self) -> str:
        """A safe description: the reference itself, never a literal's value."""
        if self.kind == "env":
            return "${" + self.target + "}"
        if self.kind == "secret":
            return SECRET_PREFIX + self.target
        return "a plaintext value"

    def __repr__(self) -> str:
        return f"CredentialRef({self.kind}, {self.describe()})"


@dataclass(frozen=True, slots=True)
class Connection:
    connector: str
    name: str
    credentials: dict[str, CredentialRef]
    variables: dict[str, str]


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    display_name: str
    plan: str
    # Keyed by connection name, which is the connector name unless set explicitly.
    connections: dict[str, Connection]
    # The registry's secrets file; None for tenants built outside a registry.
    secret_store: SecretStore | None = field(default=None, compare=False, repr=False)
    # The plan's usage limits with this tenant's overrides applied.
    limits: Limits = UNLIMITED
    # The tools this request may see: the tenant's toolset, narrowed by its API key's.
    toolset: Toolset = FULL
    # The id of the API key the request authenticated with (None for other credentials).
    api_key_id: str | None = None

    def connected_connectors(self) -> list[str]:
        return sorted({c.connector for c in self.connections.values()})

    def connection_for(self, connector: str) -> Connection | None:
        """The connection named like ``connector``, else its first connection to it."""
        named = self.connections.get(connector)
        if named is not None and named.connector == connector:
            return named
        return next((c for c in self.connections.values() if c.connector == connector), None)


@dataclass(frozen=True, slots=True)
class ConnectorRequirements:
    """What a connection to one connector must provide, for validating the file."""

    credential_fields: tuple[str, ...]
    required_fields: tuple[str, ...]
    variables: tuple[tuple[str, str], ...] = ()  # (name, regular expression)

    @classmethod
    def from_spec(cls, spec: ConnectorSpec) -> ConnectorRequirements:
        return cls(
            credential_fields=AUTH_FIELDS.get(spec.auth.kind, ()),
            required_fields=REQUIRED_FIELDS.get(spec.auth.kind, ()),
            variables=spec.variables,
        )


ConnectorCatalog = Mapping[str, ConnectorRequirements | ConnectorSpec]


# -- YAML with line numbers -------------------------------------------------------------


def _escape(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _walk(node: yaml.Node, pointer: str, lines: dict[str, int], issues: list[ConfigIssue]) -> None:
    lines.setdefault(pointer, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{pointer}/{_escape(key)}"
            if key in seen:
                issues.append(
                    ConfigIssue(
                        child, "key appears twice in this mapping", key_node.start_mark.line + 1
                    )
                )
            seen.add(key)
            _walk(value_node, child, lines, issues)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, f"{pointer}/{i}", lines, issues)


def _parse_yaml(text: str) -> tuple[Any, Mapping[str, int], list[ConfigIssue]]:
    """The document, its pointer → line map (composed only when a problem needs a
    line) and the problems of the YAML itself."""
    try:
        data, duplicates = tenants_yaml.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        return None, {}, [ConfigIssue("", f"not valid YAML: {problem}", line)]
    lines = tenants_yaml.LazyLines(text, _walk)
    # Duplicate keys are found by the walk over the node tree, which also gives lines.
    issues: list[ConfigIssue] = lines.walk_issues() if duplicates else []
    return data, lines, issues


# -- validation -------------------------------------------------------------------------


class _Collector:
    def __init__(self, lines: Mapping[str, int]) -> None:
        self.lines = lines
        self.issues: list[ConfigIssue] = []

    def add(self, pointer: str, message: str) -> None:
        self.issues.append(ConfigIssue(pointer, message, self._line(pointer)))

    def _line(self, pointer: str) -> int | None:
        # A missing field has no line of its own: use the closest enclosing node.
        while True:
            if pointer in self.lines:
                return self.lines[pointer]
            if not pointer:
                return None
            pointer = pointer.rsplit("/", 1)[0]

    def pydantic(self, prefix: str, exc: ValidationError) -> None:
        # include_input=False: a rejected value may be a credential.
        for err in exc.errors(include_url=False, include_input=False, include_context=False):
            loc = [str(part) for part in err["loc"]]
            if loc and loc[-1] == "[key]":
                loc = loc[:-1]
                message = f"invalid name: {err['msg']}"
            elif err["type"] == "extra_forbidden":
                message = "unknown field"
            elif err["type"] == "missing":
                message = "required field is missing"
            else:
                message = str(err["msg"]).removeprefix("Value error, ")
            self.add(prefix + "".join(f"/{_escape(p)}" for p in loc), message)


def _requirements(catalog: ConnectorCatalog | None) -> dict[str, ConnectorRequirements] | None:
    if catalog is None:
        return None
    return {
        name: req
        if isinstance(req, ConnectorRequirements)
        else ConnectorRequirements.from_spec(req)
        for name, req in catalog.items()
    }


def _check_connection(
    out: _Collector,
    at: str,
    conn: Any,
    tenant_plaintext: bool,
    known: dict[str, ConnectorRequirements] | None,
) -> None:
    for fld, text in conn.credentials.items():
        ref = CredentialRef.parse(text)
        if ref.kind == "literal" and not (conn.allow_plaintext or tenant_plaintext):
            out.add(
                f"{at}/credentials/{_escape(fld)}",
                "plaintext credential refused: use ${ENV_VAR} or secret:<name>, or set "
                "allow_plaintext: true on the connection or tenant (not for production)",
            )
    for var, value in conn.variables.items():
        if not _URL_SAFE_VARIABLE.match(value):
            out.add(
                f"{at}/variables/{_escape(var)}",
                "variable values may contain only letters, digits and . _ ~ -",
            )
    if known is None:
        return
    req = known.get(conn.connector)
    if req is None:
        names = ", ".join(sorted(known)) or "none"
        out.add(f"{at}/connector", f"unknown connector {conn.connector!r} (known: {names})")
        return
    for fld in conn.credentials:
        if fld not in req.credential_fields:
            allowed = ", ".join(req.credential_fields) or "none"
            out.add(
                f"{at}/credentials/{_escape(fld)}",
                f"connector {conn.connector} takes no credential {fld!r} (fields: {allowed})",
            )
    for fld in req.required_fields:
        if fld not in conn.credentials:
            out.add(f"{at}/credentials", f"connector {conn.connector} needs credential {fld!r}")
    patterns = dict(req.variables)
    for var, value in conn.variables.items():
        if var not in patterns:
            out.add(
                f"{at}/variables/{_escape(var)}",
                f"connector {conn.connector} has no variable {var!r}",
            )
        elif re.fullmatch(patterns[var], value) is None:
            out.add(
                f"{at}/variables/{_escape(var)}",
                f"value {value!r} does not match {patterns[var]}",
            )
    for var in patterns:
        if var not in conn.variables:
            out.add(f"{at}/variables", f"connector {conn.connector} needs variable {var!r}")


@dataclass(frozen=True, slots=True)
class _ParsedTenant:
    model: TenantModel
    api_keys: list[ApiKeyModel]
    connections: list[ConnectionModel]


@dataclass(frozen=True, slots=True)
class _Parsed:
    root: TenantsFileModel
    tenants: list[_ParsedTenant]


M = TypeVar("M", bound=BaseModel)


def _each(model: type[M], items: list[Any], at: str, out: _Collector) -> list[M | None]:
    """Validate list items one by one; None marks a failed item, keeping indices aligned."""
    parsed: list[M | None] = []
    for i, item in enumerate(items):
        try:
            parsed.append(model.model_validate(item))
        except ValidationError as exc:
            out.pydantic(f"{at}/{i}", exc)
            parsed.append(None)
    return parsed


def _check_keys(
    out: _Collector, at: str, tenant_id: str, keys: list[ApiKeyModel | None], seen: dict[str, str]
) -> None:
    for j, key in enumerate(keys):
        if key is None:
            continue
        kat = f"{at}/api_keys/{j}"
        try:
            parsed = parse_key_hash(key.hash)
        except KeyHashError as exc:
            out.add(f"{kat}/hash", str(exc))
            parsed = None
        if parsed is not None and parsed.scheme == "scrypt":
            if re.fullmatch(KEY_ID_PATTERN, key.id) is None:
                out.add(
                    f"{kat}/id",
                    "a generated key's id is the 12 hex characters after fgk_ in the key",
                )
        if key.id in seen:
            out.add(f"{kat}/id", f"API key id {key.id!r} is also used by tenant {seen[key.id]}")
        seen.setdefault(key.id, tenant_id)


def _salvage(raw: dict[str, Any], index: int) -> TenantModel:
    """The usable parts of a tenant entry that failed validation (never served)."""

    def pick(key: str, kind: type, default: Any) -> Any:
        value = raw.get(key)
        return value if isinstance(value, kind) else default

    return TenantModel.model_construct(
        id=pick("id", str, f"#{index}"),
        plan=pick("plan", str, "default"),
        allow_plaintext=raw.get("allow_plaintext") is True,
        api_keys=pick("api_keys", list, []),
        connections=pick("connections", list, []),
    )


def _check_limit_targets(
    out: _Collector,
    at: str,
    limits: LimitsModel | None,
    connectors: Collection[str] | None,
    tools: Collection[str] | None,
) -> None:
    """Per-connector and per-tool limits must name something that exists."""
    if limits is None:
        return
    for kind, names, known in (
        ("connector", limits.per_connector, connectors),
        ("tool", limits.per_tool, tools),
    ):
        if known is None:
            continue
        for name in names:
            if name not in known:
                out.add(f"{at}/per_{kind}/{_escape(name)}", f"unknown {kind} {name!r}")


def _plan_models(data: dict[str, Any]) -> dict[str, PlanModel]:
    """The plans that validate on their own (their mistakes are reported elsewhere)."""
    raw = data.get("plans")
    plans: dict[str, PlanModel] = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            try:
                plans[str(name)] = PlanModel.model_validate(value or {})
            except ValidationError:
                continue
    return plans


def _validate(
    data: Any,
    catalog: ConnectorCatalog | None,
    out: _Collector,
    tools: Collection[str] | None = None,
    consume: Callable[[_ParsedTenant], None] | None = None,
) -> _Parsed | None:
    """Check the document. Valid tenants are listed in the result, or with ``consume``
    handed over one by one and dropped from ``data`` (which then belongs to the caller
    no more), so a large file never holds its tenants twice."""
    if not isinstance(data, dict):
        out.add("", "the tenants file must be a mapping with version, plans and tenants")
        return None
    root: TenantsFileModel | None
    try:
        listed = isinstance(data.get("tenants"), list)
        # The tenants are validated one by one below; the top level is checked without
        # them (the model would only copy the list).
        root = TenantsFileModel.model_validate({**data, "tenants": []} if listed else data)
    except ValidationError as exc:
        out.pydantic("", exc)
        root = None
    # Keep checking tenants even when the top level has a mistake of its own.
    tenants_raw = data.get("tenants")
    if not isinstance(tenants_raw, list):
        return None
    raw_plans = data.get("plans")
    plans = set(raw_plans) if isinstance(raw_plans, dict) else set()
    plan_models = _plan_models(data)

    known = _requirements(catalog)
    for plan_name, plan_model in plan_models.items():
        _check_limit_targets(out, f"/plans/{_escape(plan_name)}", plan_model, known, tools)
    tenant_ids: dict[str, int] = {}
    key_ids: dict[str, str] = {}
    parsed: list[_ParsedTenant] = []
    for i, raw_tenant in enumerate(tenants_raw):
        at = f"/tenants/{i}"
        valid = True
        try:
            tenant = TenantModel.model_validate(raw_tenant)
        except ValidationError as exc:
            out.pydantic(at, exc)
            if not isinstance(raw_tenant, dict):
                continue
            # Still check its keys and connections, so their mistakes show up now too.
            tenant = _salvage(raw_tenant, i)
            valid = False
        keys = _each(ApiKeyModel, tenant.api_keys, f"{at}/api_keys", out)
        conns = _each(ConnectionModel, tenant.connections, f"{at}/connections", out)
        if tenant.id in tenant_ids:
            out.add(
                f"{at}/id",
                f"tenant id {tenant.id!r} is also used by /tenants/{tenant_ids[tenant.id]}",
            )
        tenant_ids.setdefault(tenant.id, i)
        if plans and tenant.plan not in plans:
            out.add(
                f"{at}/plan",
                f"plan {tenant.plan!r} is not defined (plans: {', '.join(sorted(plans))})",
            )
        _check_limit_targets(out, f"{at}/limits", tenant.limits, known, tools)
        tenant_plan = plan_models.get(tenant.plan)
        allowed = tenant_plan.max_connections if tenant_plan is not None else None
        if allowed is not None and len(tenant.connections) > allowed:
            out.add(
                f"{at}/connections",
                f"plan {tenant.plan!r} allows {allowed} connection(s); "
                f"tenant {tenant.id} has {len(tenant.connections)}",
            )
        _check_keys(out, at, tenant.id, keys, key_ids)
        connected = {c.connector for c in conns if c is not None}
        by_index = {j: k for j, k in enumerate(keys) if k is not None}
        for pointer, message in toolset_problems(
            at, tenant.id, tenant.toolset, by_index, connected
        ):
            out.add(pointer, message)
        names: set[str] = set()
        for j, conn in enumerate(conns):
            if conn is None:
                continue
            cat = f"{at}/connections/{j}"
            name = conn.name or conn.connector
            if name in names:
                out.add(
                    f"{cat}/name" if conn.name else f"{cat}/connector",
                    f"tenant {tenant.id} already has a connection named {name!r}; "
                    "give one of them a distinct name",
                )
            names.add(name)
            _check_connection(out, cat, conn, tenant.allow_plaintext, known)
        if consume is not None:
            tenants_raw[i] = None
        if not valid:
            continue
        entry = _ParsedTenant(
            tenant, [k for k in keys if k is not None], [c for c in conns if c is not None]
        )
        if consume is not None:
            consume(entry)
        else:
            parsed.append(entry)
    if root is None:
        return None
    return _Parsed(root, parsed)


def validate_tenants(
    data: Any,
    catalog: ConnectorCatalog | None = None,
    lines: Mapping[str, int] | None = None,
    tools: Collection[str] | None = None,
) -> list[ConfigIssue]:
    """Every problem in a parsed tenants document (empty when it is valid)."""
    out = _Collector(lines or {})
    _validate(data, catalog, out, tools)
    return sorted(out.issues, key=lambda issue: issue.line or 0)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """What a registry is made of; the document and its models are dropped by then."""

    tenants: list[Tenant]
    keys: list[KeyEntry]
    tenants_from: Literal["file", "store"]
    data_dir: Path
    store: SecretStore
    plans: dict[str, PlanModel]


# Files at least this large are checked in a forked child process (about 40,000 tenants
# of one key and one connection each): see fastn_gen.gateway.forked.
FORK_ABOVE_BYTES = 8_000_000


@dataclass(frozen=True, slots=True)
class _Drafts:
    """A checked file, reduced to what the registry keeps (picklable, compact)."""

    # (id, display name, plan, connections, limits, toolset) per tenant.
    tenants: list[tuple[str, str, str, dict[str, Connection], Limits, Toolset]]
    keys: list[KeyEntry]
    tenants_from: Literal["file", "store"]
    data_dir: str | None
    plans: dict[str, PlanModel]


def _draft(
    text: str, catalog: ConnectorCatalog | None, tools: Collection[str] | None
) -> _Drafts | list[ConfigIssue]:
    """The file's tenants, or every problem in it."""
    data, lines, issues = _parse_yaml(text)
    out = _Collector(lines)
    out.issues.extend(issues)
    plan_models = _plan_models(data) if isinstance(data, dict) else {}
    shared = SharedParts(CredentialRef.parse)
    drafts: list[tuple[str, str, str, dict[str, Connection], Limits, Toolset]] = []
    keys: list[KeyEntry] = []

    def consume(entry: _ParsedTenant) -> None:
        # Turned into what is kept right away: the models are dropped tenant by tenant.
        # Once a problem is found nothing will be kept (and a key's hash may be broken).
        if out.issues:
            return
        t = entry.model
        limits = shared.limits(t.plan, t.limits, plan_models.get(t.plan))
        connections = shared.connections(entry.connections, _connection)
        toolset = tenant_toolset(t.toolset)
        drafts.append((t.id, t.display_name or t.id, t.plan, connections, limits, toolset))
        narrowed = key_toolsets(toolset, entry.api_keys)
        keys.extend(
            KeyEntry(t.id, k.id, parse_key_hash(k.hash), narrowed.get(k.id)) for k in entry.api_keys
        )

    parsed = None
    if data is not None or not issues:
        parsed = _validate(data, catalog, out, tools, consume)
    del data
    if out.issues or parsed is None:
        # In file order; the sort is stable, so issues on one line keep theirs.
        issues = sorted(out.issues, key=lambda issue: issue.line or 0)
        return issues or [ConfigIssue("", "empty file")]
    plans = {name: plan or PlanModel() for name, plan in parsed.root.plans.items()}
    return _Drafts(drafts, keys, parsed.root.tenants_from, parsed.root.data_dir, plans)


def _build(
    text: str,
    source: str,
    base_dir: Path | None,
    catalog: ConnectorCatalog | None,
    environ: Mapping[str, str] | None,
    tools: Collection[str] | None,
) -> _Loaded:
    if len(text) >= FORK_ABOVE_BYTES:
        drafted = run_forked(_draft, text, catalog, tools)
    else:
        drafted = _draft(text, catalog, tools)
    if isinstance(drafted, list):
        raise TenantConfigError(source, drafted)
    data_dir = resolve_data_dir(base_dir or Path.cwd(), drafted.data_dir, environ)
    store = SecretStore.for_data_dir(data_dir, environ)
    tenants = [
        Tenant(
            id=tid,
            display_name=display_name,
            plan=plan,
            connections=connections,
            secret_store=store,
            limits=limits,
            toolset=toolset,
        )
        for tid, display_name, plan, connections, limits, toolset in drafted.tenants
    ]
    return _Loaded(tenants, drafted.keys, drafted.tenants_from, data_dir, store, drafted.plans)


def _connection(c: ConnectionModel, credential: Callable[[str], CredentialRef]) -> Connection:
    return Connection(
        connector=c.connector,
        name=c.name or c.connector,
        credentials={f: credential(v) for f, v in c.credentials.items()},
        variables=dict(c.variables),
    )


# -- the registry -----------------------------------------------------------------------


class TenantRegistry:
    """Tenants by id and by API key. Immutable once built; reload by building another."""

    def __init__(
        self,
        tenants: Iterable[Tenant],
        keys: Iterable[KeyEntry] = (),
        *,
        plans: Mapping[str, PlanModel] | None = None,
        data_dir: Path | None = None,
        secret_store: SecretStore | None = None,
        source: str = "<memory>",
        key_cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._tenants: dict[str, Tenant] = {}
        for tenant in tenants:
            if tenant.id in self._tenants:
                raise ValueError(f"tenant {tenant.id!r} given twice")
            self._tenants[tenant.id] = tenant
        keys = list(keys)
        self._keys = ApiKeyIndex(keys, key_cache_size)
        self.plans: dict[str, PlanModel] = dict(plans or {})
        # Generated keys name their entry by id: which tenant an id belongs to lets a
        # failed attempt with a known id be recorded for that tenant.
        self._key_owner = {k.key_id: k.tenant_id for k in keys if k.hash.scheme == "scrypt"}
        # The tenant as served for each key: carrying the key's id and toolset.
        self._as_key: dict[str, Tenant] = {}
        for k in keys:
            owner = self._tenants.get(k.tenant_id)
            if owner is not None:
                self._as_key[k.key_id] = dataclasses.replace(
                    owner, api_key_id=k.key_id, toolset=k.toolset or owner.toolset
                )
        self.data_dir = data_dir
        self.secret_store = secret_store
        self.source = source
        # What the file says serves the tenants: "file" (these), or "store".
        self.tenants_from = "file"

    @classmethod
    def load(
        cls,
        path: Path | str,
        catalog: ConnectorCatalog | None = None,
        environ: Mapping[str, str] | None = None,
        tools: Collection[str] | None = None,
    ) -> TenantRegistry:
        """Read and validate ``path``; raises :class:`TenantConfigError` listing every issue.

        ``catalog`` (connector name → requirements or spec) enables the checks that need
        to know the connectors: names, credential fields, variables; ``tools`` (every
        tool name) the check of per-tool limits.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TenantConfigError(
                str(path), [ConfigIssue("", f"cannot read: {exc.strerror}")]
            ) from None
        return cls.from_text(
            text,
            source=str(path),
            base_dir=path.absolute().parent,
            catalog=catalog,
            environ=environ,
            tools=tools,
        )

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        source: str = "<memory>",
        base_dir: Path | None = None,
        catalog: ConnectorCatalog | None = None,
        environ: Mapping[str, str] | None = None,
        tools: Collection[str] | None = None,
    ) -> TenantRegistry:
        # Loading allocates a few objects per tenant and no reference cycles: the cyclic
        # collector would rescan them all again and again (most of the CPU time of a
        # 100,000-tenant file).
        with collector_paused():
            loaded = _build(text, source, base_dir, catalog, environ, tools)
            registry = cls(
                loaded.tenants,
                loaded.keys,
                plans=loaded.plans,
                data_dir=loaded.data_dir,
                secret_store=loaded.store,
                source=source,
            )
        registry.tenants_from = loaded.tenants_from
        for description in registry.unset_environment(environ):
            logger.warning("%s: %s is not set; calls needing it will fail", source, description)
        return registry

    @property
    def key_stats(self) -> KeyIndexStats:
        return self._keys.stats

    def authenticate(self, presented_key: str) -> Tenant | None:
        entry = self._keys.lookup_entry(presented_key)
        return self._as_key.get(entry.key_id) if entry is not None else None

    def get(self, tenant_id: str) -> Tenant | None:
        return self._tenants.get(tenant_id)

    def as_key(self, key_id: str) -> Tenant | None:
        """The tenant as served for requests made with the key ``key_id``."""
        return self._as_key.get(key_id)

    def claimed_tenant(self, presented_key: str) -> Tenant | None:
        """The tenant a generated key names by its id, whether or not the key is valid.

        For attributing a refused key to the tenant it targets; never for granting access.
        """
        claimed = key_id(presented_key)
        owner = self._key_owner.get(claimed) if claimed is not None else None
        return self._tenants.get(owner) if owner is not None else None

    # -- what the gateway calls (``StoreTenantRegistry`` answers from the store) -------
    async def start(self) -> None:
        """Nothing to open for a file's tenants."""

    async def aclose(self) -> None:
        """Nothing to close for a file's tenants."""

    async def resolve_key(self, presented_key: str) -> Tenant | None:
        known, entry = self._keys.cached(presented_key)
        if known:  # checked before: no thread hop for a dictionary look-up
            # As served for that key: its toolset narrows the tenant's (as authenticate).
            return self._as_key.get(entry.key_id) if entry is not None else None
        # In a worker thread: the first check of a generated key runs scrypt (~50 ms),
        # which must not stall every other request on the loop.
        return await anyio.to_thread.run_sync(self.authenticate, presented_key)

    async def find(self, tenant_id: str) -> Tenant | None:
        return self.get(tenant_id)

    async def resolve_claimed(self, presented_key: str) -> Tenant | None:
        return self.claimed_tenant(presented_key)

    @property
    def tenants(self) -> tuple[Tenant, ...]:
        return tuple(self._tenants.values())

    def __len__(self) -> int:
        return len(self._tenants)

    def __iter__(self) -> Iterator[Tenant]:
        return iter(self._tenants.values())

    def unset_environment(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """Descriptions of ``${VAR}`` references whose variable is unset (names only)."""
        env = os.environ if environ is None else environ
        found = []
        for tenant in self._tenants.values():
            for conn in tenant.connections.values():
                for fld, ref in conn.credentials.items():
                    if ref.kind == "env" and not env.get(ref.target):
                        found.append(
                            f"tenant {tenant.id} connection {conn.name} credential {fld!r}: "
                            f"{ref.describe()}"
                        )
        return found
