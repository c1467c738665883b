"""The connector base URL: ``options.base_url``, else the document's first server.

OpenAPI 3 server variables are replaced by their defaults. A variable without a
default (Asana's app components serve from ``{siteUrl}``, the app developer's own
host) stays a placeholder and becomes a per-connection variable in
``Connector.extra["variables"]``. Swagger 2.0 builds the URL from ``schemes`` (https
preferred), ``host`` and ``basePath``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from fastn_gen.spec.errors import SpecIssue
from fastn_gen.spec.oas_load import Document
from fastn_gen.spec.options import OpenAPIOptions

_VARIABLE = re.compile(r"{([^{}]+)}")
_URL_VARIABLE = "https?://\\S+"  # a variable that is the whole scheme and host
_SEGMENT_VARIABLE = "[^/?#\\s]+"


@dataclass
class BaseURL:
    url: str
    document_url: str | None  # what the document itself says, to compare operation servers
    variables: dict[str, dict[str, str]] = field(default_factory=dict)
    issues: list[SpecIssue] = field(default_factory=list)


def _substitute(url: str, declared: Any, variables: dict[str, dict[str, str]]) -> str:
    declared = declared if isinstance(declared, dict) else {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        spec = declared.get(name)
        default = spec.get("default") if isinstance(spec, dict) else None
        if default is not None:
            return str(default)
        enum = spec.get("enum") if isinstance(spec, dict) else None
        if isinstance(enum, list) and enum:
            pattern = "|".join(re.escape(str(v)) for v in enum)
        elif match.start() == 0:
            pattern = _URL_VARIABLE
        else:
            pattern = _SEGMENT_VARIABLE
        variables[name] = {"pattern": pattern}
        return match.group(0)

    return _VARIABLE.sub(replace, url)


def server_url(server: Any) -> tuple[str | None, dict[str, dict[str, str]]]:
    """A 3.x server object's URL with defaults substituted, and its open variables."""
    if not isinstance(server, dict) or not isinstance(server.get("url"), str):
        return None, {}
    variables: dict[str, dict[str, str]] = {}
    url = _substitute(server["url"].strip(), server.get("variables"), variables)
    return url.rstrip("/"), variables


def _is_absolute(url: str) -> bool:
    return url.startswith("{") or urlsplit(url).scheme in ("http", "https")


def base_url(doc: Document, options: OpenAPIOptions) -> BaseURL:
    found, where, variables = _document_url(doc)
    if options.base_url:
        return BaseURL(options.base_url.rstrip("/"), found)
    issues: list[SpecIssue] = []
    if found is None:
        msg = "no server URL in the document: set base_url in the connector wrapper"
        issues.append(SpecIssue(doc.source, where, msg))
    elif not _is_absolute(found):
        msg = f"server URL {found!r} is relative: set base_url in the connector wrapper"
        issues.append(SpecIssue(doc.source, where, msg))
    return BaseURL(found or "", found, variables, issues)


def _document_url(doc: Document) -> tuple[str | None, str, dict[str, dict[str, str]]]:
    data = doc.data
    if doc.version == "2.0":
        host = data.get("host")
        if not isinstance(host, str) or not host:
            return None, "/host", {}
        schemes = [s for s in data.get("schemes") or () if isinstance(s, str)]
        scheme = "https" if "https" in schemes or not schemes else schemes[0]
        base_path = data.get("basePath")
        base_path = base_path if isinstance(base_path, str) else ""
        return f"{scheme}://{host}{base_path}".rstrip("/"), "/host", {}
    servers = data.get("servers")
    if not isinstance(servers, list) or not servers:
        return None, "/servers", {}
    url, variables = server_url(servers[0])
    return url, "/servers/0/url", variables


def operation_server(servers: list[Any], document_url: str | None) -> str | None:
    """The operation's own server when it differs from the document's, else None."""
    url, _ = server_url(servers[0]) if servers else (None, {})
    if url is None:
        return None
    if document_url and not _is_absolute(url):
        url = urljoin(document_url + "/", url.lstrip("/")).rstrip("/")
    return None if url == document_url else url
