"""Source text of a model builder function, from the classes ``pymodels`` collected."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastn_gen.codegen.pynames import field_identifiers
from fastn_gen.codegen.pytypes import Members, TypeEmitter

INDENT = "    "
MAX_STRING = 72  # characters of text per string literal part


@dataclass(slots=True)
class ModelField:
    name: str  # the argument's wire name
    members: Members
    required: bool
    description: str | None


@dataclass(slots=True)
class ModelClass:
    name: str
    base: str
    fields: list[ModelField] = field(default_factory=list)
    extra: str | None = None  # value type of typed additional properties
    check: str | None = None  # run-time check for what the fields do not express


@dataclass(slots=True)
class BuilderParts:
    function_name: str
    top: str  # the class the builder returns
    classes: list[ModelClass]  # in definition order
    checks: dict[str, str]  # schema_check argument source → variable name
    defs: str | None  # source of the ``_defs`` the checks share
    forward: bool  # some annotation names a class defined after it


def string_literal(text: str, indent: str = "") -> str:
    """``repr`` of ``text``, split into implicitly concatenated lines when long."""
    if len(text) <= MAX_STRING:
        return repr(text)
    parts: list[str] = []
    rest = text
    while len(rest) > MAX_STRING:
        cut = max(rest.rfind(" ", 0, MAX_STRING), rest.rfind("\n", 0, MAX_STRING))
        cut = cut + 1 if cut > MAX_STRING // 2 else MAX_STRING
        parts.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        parts.append(rest)
    inner = "".join(f"\n{indent}{INDENT}{p!r}" for p in parts)
    return f"({inner}\n{indent})"


def _field_line(emit: TypeEmitter, f: ModelField, ident: str) -> tuple[str, bool]:
    """The field's line, and whether it uses ``_absent``."""
    annotation = emit.render_members(f.members)
    args: list[str] = []
    if not f.required:
        # Typed Any so mypy accepts it as the default of any annotation; pydantic does
        # not validate defaults, so an explicit null is still checked against the type.
        args.append("_absent")
    if ident != f.name:
        args.append(f"alias={f.name!r}")
    if f.description:
        args.append(f"description={string_literal(f.description, INDENT * 2)}")
    line = f"{INDENT * 2}{ident}: {annotation}"
    if args == ["_absent"]:
        return f"{line} = _absent", True
    if args:
        return f"{line} = {emit.use('Field')}({', '.join(args)})", not f.required
    return line, False


def _class_lines(emit: TypeEmitter, cls: ModelClass, taken: set[str]) -> tuple[list[str], bool]:
    i1, i2, i3 = INDENT, INDENT * 2, INDENT * 3
    lines = ["", f"{i1}class {cls.name}({cls.base}):"]
    body: list[str] = []
    absent = False
    idents = field_identifiers((f.name for f in cls.fields), taken)
    if any(idents[f.name] != f.name for f in cls.fields):
        # Arguments are keyed by wire name only; Python names are not accepted as keys.
        body.append(f"{i2}model_config = {emit.use('ConfigDict')}(validate_by_name=False)")
    if cls.extra is not None:
        body.append(
            f"{i2}__pydantic_extra__: dict[str, {cls.extra}] = {emit.use('Field')}(init=False)"
        )
    for f in cls.fields:
        line, uses_absent = _field_line(emit, f, idents[f.name])
        body.append(line)
        absent = absent or uses_absent
    if cls.check is not None:
        any_ = emit.use("Any")
        body += [
            "",
            f'{i2}@{emit.use("model_validator")}(mode="before")',
            f"{i2}@classmethod",
            f"{i2}def _schema_check(cls, data: {any_}) -> {any_}:",
            f"{i3}return {cls.check}(data)",
        ]
    return lines + (body or [f"{i2}pass"]), absent


def render_builder(emit: TypeEmitter, parts: BuilderParts) -> str:
    """The builder function: checks first (annotations refer to them), then classes."""
    i1 = INDENT
    taken = {c.name for c in parts.classes}
    classes: list[str] = []
    absent = False
    for cls in parts.classes:
        lines, uses_absent = _class_lines(emit, cls, taken)
        classes += lines
        absent = absent or uses_absent
    head = [f"def {parts.function_name}() -> type[{emit.use('ToolInput')}]:"]
    if absent:
        head.append(f"{i1}_absent: {emit.use('Any')} = None")
    if parts.defs is not None:
        head.append(f"{i1}_defs: {emit.use('Any')} = {parts.defs}")
    for argument, var in parts.checks.items():
        head.append(f"{i1}{var} = {emit.use('schema_check')}({argument})")
    tail = [""]
    if parts.forward:
        namespace = ", ".join(f"{c.name!r}: {c.name}" for c in parts.classes)
        tail.append(f"{i1}{parts.top}.model_rebuild(_types_namespace={{{namespace}}})")
    tail.append(f"{i1}return {parts.top}")
    return "\n".join(head + classes + tail)
