"""The ``entities:`` block of a connector spec: check it against the tools, build the IR.

A connector maps common-data-model types (``fastn_gen/cdm``) onto its own tools: which
tool lists or searches each type, which arguments take the query, the page size and
the cursor, and JMESPath expressions for the records, the next cursor and each field.
Checked here, at build time, with a JSON pointer for every problem:

- the type is one of the model's, and every mapped field is one of that type's;
- the tool exists and only reads; the arguments it is given exist, take values of
  their schema, and cover every argument the tool requires;
- every expression compiles and calls only known functions with the right arity;
- where the tool has an output schema, the top-level fields the expressions read exist
  (``records`` and ``next_cursor`` in the result, the fields in one record).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import Field

from fastn_gen.cdm.functions import expression_problems, field_path, top_level_fields
from fastn_gen.cdm.models import ENTITY_TYPES, mappable_fields
from fastn_gen.spec import ir
from fastn_gen.spec.model import ArgName, Issues, Loc, NonEmptyStr, _Spec, show, validate

MAX_LISTED = 12


class EntityMappingSpec(_Spec):
    tool: NonEmptyStr
    records: NonEmptyStr
    id: NonEmptyStr
    url: NonEmptyStr | None = None
    fields: dict[str, NonEmptyStr] = Field(default_factory=dict)
    query: ArgName | None = None
    limit: ArgName | None = None
    cursor: ArgName | None = None
    next_cursor: NonEmptyStr | None = None
    short_page_ends: bool = False
    arguments: dict[str, Any] = Field(default_factory=dict)


def _hint(word: str, choices: Iterable[str]) -> str:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {found[0]!r}?" if found else ""


def _listing(names: Iterable[str]) -> str:
    ordered = sorted(names)
    shown = ", ".join(ordered[:MAX_LISTED])
    return shown + (f", ... ({len(ordered)} in all)" if len(ordered) > MAX_LISTED else "")


def _find_tool(connector: str, wanted: str, tools: Sequence[ir.Tool]) -> ir.Tool | None:
    by_name = {t.name: t for t in tools}
    found = by_name.get(wanted) or by_name.get(f"{connector}_{wanted}")
    if found is None:
        found = next((t for t in tools if t.operation_id == wanted), None)
    return found


# -- output schemas -------------------------------------------------------------------------


def _deref(schema: Any, root: Mapping[str, Any], depth: int = 0) -> Any:
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if not isinstance(ref, str) or depth > 32:
        return schema
    prefix = "#/$defs/"
    defs = root.get("$defs")
    if ref.startswith(prefix) and isinstance(defs, dict):
        return _deref(defs.get(ref[len(prefix) :]), root, depth + 1)
    return None


def _properties(schema: Any, root: Mapping[str, Any]) -> set[str] | None:
    """The properties an object schema declares; None when it does not say."""
    schema = _deref(schema, root)
    if not isinstance(schema, dict):
        return None
    branches = [
        b for key in ("anyOf", "oneOf") for b in schema.get(key) or [] if not _is_null(b, root)
    ]
    if branches:
        found = [_properties(b, root) for b in branches]
        return None if any(f is None for f in found) else set().union(*found)  # type: ignore[arg-type]
    props = schema.get("properties")
    return set(props) if isinstance(props, dict) and props else None


def _is_null(schema: Any, root: Mapping[str, Any]) -> bool:
    schema = _deref(schema, root)
    return isinstance(schema, dict) and schema.get("type") == "null"


def _child(schema: Any, name: str, root: Mapping[str, Any]) -> Any:
    schema = _deref(schema, root)
    if not isinstance(schema, dict):
        return None
    props = schema.get("properties")
    if isinstance(props, dict) and name in props:
        return props[name]
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key) or []:
            found = _child(branch, name, root)
            if found is not None:
                return found
    return None


def _record_schema(records_ast: Any, output: Mapping[str, Any]) -> Any:
    """The schema of one record, when ``records`` is a plain path to an array."""
    path = field_path(records_ast)
    if not path:
        return None
    schema: Any = output
    for name in path:
        schema = _child(schema, name, output)
        if schema is None:
            return None
    schema = _deref(schema, output)
    if not isinstance(schema, dict):
        return None
    items = schema.get("items")
    if isinstance(items, dict):
        return items
    for branch in schema.get("anyOf") or schema.get("oneOf") or []:
        branch = _deref(branch, output)
        if isinstance(branch, dict) and isinstance(branch.get("items"), dict):
            return branch["items"]
    return None


# -- the checks ----------------------------------------------------------------------------


class _Check:
    def __init__(self, tool: ir.Tool, loc: Loc, issues: Issues) -> None:
        self.tool = tool
        self.loc = loc
        self.issues = issues
        schema = tool.input_schema
        props = schema.get("properties")
        self.args: dict[str, Any] = dict(props) if isinstance(props, dict) else {}
        self.required = set(schema.get("required") or [])
        self.output = tool.output_schema

    def add(self, where: Sequence[str | int], message: str) -> None:
        self.issues.add((*self.loc, *where), message)

    def argument(self, role: str, name: str | None) -> dict[str, Any] | None:
        if name is None:
            return None
        if name not in self.args:
            self.add(
                (role,),
                f"{self.tool.name} has no argument {name!r}{_hint(name, self.args)} "
                f"(its arguments: {_listing(self.args) or 'none'})",
            )
            return None
        found = self.args[name]
        return found if isinstance(found, dict) else {}

    def expression(self, where: Sequence[str | int], text: str, against: Any, what: str) -> Any:
        """Compile; check top-level fields against ``against`` (a schema) when known."""
        parsed, problems = expression_problems(text)
        for problem in problems:
            self.add(where, problem)
        if parsed is None or against is None or self.output is None:
            return parsed.parsed if parsed is not None else None
        known = _properties(against, self.output)
        if known is not None:
            for name in sorted(top_level_fields(parsed.parsed) - known):
                self.add(
                    where,
                    f"reads {name!r}, which {what} of {self.tool.name} does not have"
                    f"{_hint(name, known)} (it has: {_listing(known)})",
                )
        return parsed.parsed


def _fixed_argument_problem(
    name: str, value: Any, schema: Mapping[str, Any], input_schema: Mapping[str, Any]
) -> str | None:
    full = dict(schema)
    if "$defs" in input_schema:
        full["$defs"] = input_schema["$defs"]
    validator = Draft202012Validator(full)
    error = next(iter(validator.iter_errors(value)), None)
    if error is None:
        return None
    return f"{show(value)} is not a valid value for {name}: {error.message[:200]}"


def _check_arguments(spec: EntityMappingSpec, check: _Check) -> None:
    roles = {"query": spec.query, "limit": spec.limit, "cursor": spec.cursor}
    seen: dict[str, str] = {}
    for role, name in roles.items():
        if name is None:
            continue
        if name in seen:
            check.add((role,), f"argument {name!r} is already the {seen[name]} argument")
        seen[name] = role
        check.argument(role, name)
    limit_schema = check.args.get(spec.limit) if spec.limit else None
    if isinstance(limit_schema, dict) and limit_schema.get("type") not in ("integer", "number"):
        check.add(("limit",), f"argument {spec.limit!r} is not a number")
    for name, value in spec.arguments.items():
        # The cursor argument may be given: its value for the first page.
        if name in seen and name != spec.cursor:
            check.add(("arguments", name), f"{name!r} is already the {seen[name]} argument")
        elif name not in check.args:
            check.add(
                ("arguments", name),
                f"{check.tool.name} has no argument {name!r}{_hint(name, check.args)}",
            )
        else:
            problem = _fixed_argument_problem(
                name, value, check.args[name], check.tool.input_schema
            )
            if problem:
                check.add(("arguments", name), problem)
    given = set(spec.arguments) | {n for n in (spec.query, spec.limit) if n}
    missing = sorted(check.required - given)
    if missing:
        check.add(
            ("tool",),
            f"{check.tool.name} requires {', '.join(missing)}, which the mapping does not "
            "give (set them under arguments, or map the query to them)",
        )
    if spec.cursor is not None and spec.next_cursor is None:
        check.add(("next_cursor",), "cursor needs next_cursor: where the next page's cursor is")
    if spec.next_cursor is not None and spec.cursor is None:
        check.add(("cursor",), "next_cursor needs cursor: the argument that takes it")
    if spec.short_page_ends and spec.limit is None:
        check.add(("short_page_ends",), "needs limit: a short page is one under the limit")


def _max_limit(spec: EntityMappingSpec, check: _Check) -> int | None:
    schema = check.args.get(spec.limit) if spec.limit else None
    maximum = schema.get("maximum") if isinstance(schema, dict) else None
    if isinstance(maximum, int | float) and not isinstance(maximum, bool):
        return int(maximum)
    return None


def _build_one(
    connector: str,
    entity_type: str,
    spec: EntityMappingSpec,
    tools: Sequence[ir.Tool],
    loc: Loc,
    issues: Issues,
) -> ir.EntityMapping | None:
    tool = _find_tool(connector, spec.tool, tools)
    if tool is None:
        names = [t.name for t in tools]
        issues.add(
            (*loc, "tool"),
            f"no tool named {spec.tool!r}{_hint(spec.tool, names)} in connector {connector}",
        )
        return None
    check = _Check(tool, loc, issues)
    if not tool.annotations.read_only:
        check.add(("tool",), f"{tool.name} changes data; entity search only runs read-only tools")
    _check_arguments(spec, check)
    records_ast = check.expression(("records",), spec.records, tool.output_schema, "the result")
    if spec.next_cursor is not None:
        check.expression(("next_cursor",), spec.next_cursor, tool.output_schema, "the result")
    record = _record_schema(records_ast, tool.output_schema) if tool.output_schema else None
    check.expression(("id",), spec.id, record, "a record")
    if spec.url is not None:
        check.expression(("url",), spec.url, record, "a record")
    allowed = mappable_fields(entity_type)
    for name, text in spec.fields.items():
        if name not in allowed:
            message = f"{entity_type} has no field {name!r}{_hint(name, allowed)}"
            if name in ("source", "remote_id", "remote_url"):
                message = f"the source block is filled from id and url, not fields.{name}"
            check.add(("fields", name), message)
            continue
        check.expression(("fields", name), text, record, "a record")
    return ir.EntityMapping(
        entity_type=entity_type,
        tool=tool.name,
        records=spec.records,
        id=spec.id,
        fields=tuple(spec.fields.items()),
        url=spec.url,
        query_arg=spec.query,
        limit_arg=spec.limit,
        max_limit=_max_limit(spec, check),
        cursor_arg=spec.cursor,
        next_cursor=spec.next_cursor,
        short_page_ends=spec.short_page_ends,
        arguments=tuple(spec.arguments.items()),
    )


def build_entities(
    raw: Mapping[str, Any], connector: str, tools: Sequence[ir.Tool], issues: Issues
) -> tuple[ir.EntityMapping, ...]:
    """Every mapping of the ``entities:`` block; each problem is added to ``issues``."""
    built: list[ir.EntityMapping] = []
    for entity_type, raw_spec in raw.items():
        loc: Loc = ("entities", entity_type)
        if entity_type not in ENTITY_TYPES:
            issues.add(
                loc,
                f"unknown entity type {entity_type!r}{_hint(str(entity_type), ENTITY_TYPES)} "
                f"(types: {', '.join(ENTITY_TYPES)})",
            )
            continue
        spec = validate(EntityMappingSpec, raw_spec, loc, issues)
        if spec is None:
            continue
        mapping = _build_one(connector, entity_type, spec, tools, loc, issues)
        if mapping is not None:
            built.append(mapping)
    return tuple(sorted(built, key=lambda m: m.entity_type))
