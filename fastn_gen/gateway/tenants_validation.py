"""Checking a tenants file and reducing it to what a registry keeps.

The file is validated as a whole: every mistake is collected with its location (a
JSON pointer, plus the YAML line) and reported together in one
:class:`TenantConfigError`. Nothing in a message repeats a credential value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from fastn_gen.gateway import tenants_yaml
from fastn_gen.gateway.apikeys import (
    KEY_ID_PATTERN,
    KeyEntry,
    KeyHashError,
    parse_key_hash,
)
from fastn_gen.gateway.forked import run_forked
from fastn_gen.gateway.limits import Limits
from fastn_gen.gateway.secrets import SecretStore, resolve_data_dir
from fastn_gen.gateway.shared_parts import SharedParts
from fastn_gen.gateway.tenant_types import (
    ConfigIssue,
    Connection,
    ConnectorCatalog,
    ConnectorRequirements,
    CredentialRef,
    Tenant,
    TenantConfigError,
)
from fastn_gen.gateway.tenants_model import (
    ApiKeyModel,
    ConnectionModel,
    LimitsModel,
    PlanModel,
    TenantModel,
    TenantsFileModel,
)
from fastn_gen.gateway.toolset_config import key_toolsets, tenant_toolset, toolset_problems
from fastn_gen.gateway.toolsets import Toolset

_URL_SAFE_VARIABLE = re.compile(r"^[A-Za-z0-9._~-]+$")


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
class RegistryParts:
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


def build_registry_parts(
    text: str,
    source: str,
    base_dir: Path | None,
    catalog: ConnectorCatalog | None,
    environ: Mapping[str, str] | None,
    tools: Collection[str] | None,
) -> RegistryParts:
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
    return RegistryParts(
        tenants, drafted.keys, drafted.tenants_from, data_dir, store, drafted.plans
    )


def _connection(c: ConnectionModel, credential: Callable[[str], CredentialRef]) -> Connection:
    return Connection(
        connector=c.connector,
        name=c.name or c.connector,
        credentials={f: credential(v) for f, v in c.credentials.items()},
        variables=dict(c.variables),
    )
