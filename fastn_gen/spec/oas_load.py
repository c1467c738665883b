"""Read an OpenAPI or Swagger document and check the parts every operation depends on.

openapi-pydantic validates the document-level objects the front end relies on (``info``,
``servers``, security schemes and requirements) and turns its errors into pointered
issues. It is deliberately not run over ``paths`` and ``components``: a full parse of
GitHub's 13 MB document costs about 0.6 s, rejects Asana's integer response codes, and
one malformed operation would fail the whole document, while a problem confined to one
operation must only skip that operation. Operations are checked by hand on the raw
dict instead (``oas_operation.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from openapi_pydantic.v3 import v3_0, v3_1

from fastn_gen.spec import yaml_nodes
from fastn_gen.spec.errors import SpecError, SpecIssue, pointer

Version = Literal["2.0", "3.0", "3.1"]

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe YAML loading that keeps keys as written and timestamps as strings.

    Unquoted response codes (``200:``) would otherwise become integers and ``on:`` a
    boolean; dates (``2024-01-01``) would become ``datetime.date`` values that are not
    JSON. Keys take their source text, timestamps stay strings.
    """


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
    loader.flatten_mapping(node)
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            key = str(key_node.value)
        else:
            key = json.dumps(loader.construct_object(key_node, deep=True), default=str)
        out[key] = loader.construct_object(value_node, deep=True)
    return out


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


@dataclass(frozen=True, slots=True)
class Document:
    data: dict[str, Any]
    version: Version
    source: str


def parse_text(text: str, source: str, json_first: bool) -> Any:
    """JSON or YAML text to Python values; raises SpecError on a syntax error."""
    if json_first or text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            if json_first:
                where = f"line {exc.lineno}, column {exc.colno}"
                msg = f"invalid JSON ({where}): {exc.msg}"
                raise SpecError([SpecIssue(source, "", msg)]) from exc
    try:
        root = yaml.compose(text, Loader=_Loader)  # noqa: S506 - a safe loader subclass
        try:
            return yaml_nodes.values(root)
        except yaml_nodes.Unsupported:
            return yaml.load(text, Loader=_Loader)  # noqa: S506 - as above
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([SpecIssue(source, "", f"invalid YAML{where}: {problem}")]) from exc


def read_document(path: Path, source: str) -> Document:
    """Load the file and check it is an OpenAPI 3.0/3.1 or Swagger 2.0 document."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise SpecError([SpecIssue(source, "", f"cannot read: {exc.strerror or exc}")]) from exc
    except UnicodeDecodeError as exc:
        raise SpecError([SpecIssue(source, "", f"not UTF-8 text: {exc}")]) from exc
    data = parse_text(text, source, json_first=path.suffix.lower() == ".json")
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise SpecError([SpecIssue(source, "", f"expected an object at the top level, got {kind}")])
    issues: list[SpecIssue] = []
    version = _version(data, source, issues)
    paths = data.get("paths")
    if paths is None and version in ("2.0", "3.0"):
        issues.append(SpecIssue(source, "/paths", "required: the document has no paths"))
    elif paths is not None and not isinstance(paths, dict):
        issues.append(SpecIssue(source, "/paths", "must be an object mapping paths to items"))
    if issues or version is None:
        raise SpecError(issues)
    return Document(data, version, source)


def _version(data: dict[str, Any], source: str, issues: list[SpecIssue]) -> Version | None:
    if "swagger" in data:
        value = data["swagger"]
        if str(value) in ("2.0", "2"):
            return "2.0"
        issues.append(SpecIssue(source, "/swagger", f"unsupported Swagger version {value!r}"))
        return None
    if "openapi" in data:
        value = data["openapi"]
        text = str(value) if isinstance(value, str | int | float) else ""
        if text.startswith("3.0"):
            return "3.0"
        if text.startswith("3.1"):
            return "3.1"
        msg = f"unsupported OpenAPI version {value!r} (supported: 3.0.x, 3.1.x, Swagger 2.0)"
        issues.append(SpecIssue(source, "/openapi", msg))
        return None
    issues.append(
        SpecIssue(source, "", "not an OpenAPI document: no `openapi` or `swagger` version field")
    )
    return None


def _existing_pointer(root: Any, loc: tuple[int | str, ...]) -> str:
    """Pointer from a pydantic error location, skipping union-branch labels."""
    tokens: list[str | int] = []
    node = root
    for token in loc:
        if isinstance(node, dict) and isinstance(token, str) and token in node:
            node = node[token]
            tokens.append(token)
        elif isinstance(node, list) and isinstance(token, int) and 0 <= token < len(node):
            node = node[token]
            tokens.append(token)
    return pointer(*tokens)


def check_document_objects(doc: Document, with_servers: bool) -> list[SpecIssue]:
    """Validate the document-level objects used by every operation."""
    data = doc.data
    if doc.version == "2.0":
        return _check_swagger2(doc, with_servers)
    info = data.get("info")
    skeleton: dict[str, Any] = {
        "openapi": str(data["openapi"]),
        "info": {"title": "", "version": ""} | (info if isinstance(info, dict) else {}),
        "paths": {},
    }
    issues: list[SpecIssue] = []
    if info is not None and not isinstance(info, dict):
        issues.append(SpecIssue(doc.source, "/info", "must be an object"))
    if with_servers and "servers" in data:
        skeleton["servers"] = _servers_for_check(data["servers"])
    components = data.get("components")
    if components is not None and not isinstance(components, dict):
        issues.append(SpecIssue(doc.source, "/components", "must be an object"))
    elif components and "securitySchemes" in components:
        skeleton["components"] = {"securitySchemes": components["securitySchemes"]}
    if "security" in data:
        skeleton["security"] = data["security"]
    model = v3_0.OpenAPI if doc.version == "3.0" else v3_1.OpenAPI
    try:
        model.model_validate(skeleton)
    except pydantic.ValidationError as exc:
        for err in exc.errors():
            where = _existing_pointer(skeleton, err["loc"])
            issues.append(SpecIssue(doc.source, where, _message(err)))
    return issues


def _message(err: Any) -> str:
    """pydantic's message, naming the field when it is missing (the pointer cannot)."""
    field = err["loc"][-1] if err["loc"] else None
    if err["type"] == "missing" and isinstance(field, str):
        return f"missing required field {field!r}"
    return str(err["msg"])


def _servers_for_check(servers: Any) -> Any:
    """Servers as validated: a variable without a default is accepted on purpose (it
    becomes a per-connection variable, see ``oas_servers``)."""
    if not isinstance(servers, list):
        return servers
    out = []
    for server in servers:
        variables = server.get("variables") if isinstance(server, dict) else None
        if isinstance(variables, dict):
            filled = {
                k: {"default": ""} | v if isinstance(v, dict) else v for k, v in variables.items()
            }
            server = server | {"variables": filled}
        out.append(server)
    return out


def _check_swagger2(doc: Document, with_servers: bool) -> list[SpecIssue]:
    data = doc.data
    issues: list[SpecIssue] = []

    def expect(key: str, kind: type, what: str) -> None:
        if key in data and not isinstance(data[key], kind):
            issues.append(SpecIssue(doc.source, pointer(key), f"must be {what}"))

    expect("info", dict, "an object")
    expect("securityDefinitions", dict, "an object")
    expect("consumes", list, "a list of media types")
    expect("produces", list, "a list of media types")
    expect("security", list, "a list of security requirements")
    if with_servers:
        expect("host", str, "a string")
        expect("basePath", str, "a string")
        expect("schemes", list, "a list of strings")
    for name, scheme in (data.get("securityDefinitions") or {}).items():
        if not isinstance(scheme, dict):
            issues.append(
                SpecIssue(doc.source, pointer("securityDefinitions", name), "must be an object")
            )
    return issues
