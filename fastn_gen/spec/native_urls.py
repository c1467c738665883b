"""URLs in connector specs (base URLs, OAuth2 token URLs): absolute http(s), with no
credentials, query string or fragment."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fastn_gen.spec.model import IDENTIFIER

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def http_url_problem(url: str, *, placeholders_allowed: bool) -> tuple[str | None, list[str]]:
    """What is wrong with an absolute http(s) URL (``None`` if fine), and its placeholders."""
    names = PLACEHOLDER.findall(url)
    rest = PLACEHOLDER.sub("", url)
    if "{" in rest or "}" in rest:
        return "unbalanced '{' or '}'", names
    if names and not placeholders_allowed:
        return "placeholders such as {name} are not supported here", names
    for name in names:
        if not IDENTIFIER.fullmatch(name):
            return f"placeholder {{{name}}} is not an identifier", names
    try:
        parts = urlsplit(PLACEHOLDER.sub("x", url))
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        return f"not a valid URL: {exc}", names
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http:// or https:// URL", names
    if "@" in parts.netloc:
        return "must not carry credentials; they come from each tenant's connection", names
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return "must not have a query string or fragment", names
    return None, names
