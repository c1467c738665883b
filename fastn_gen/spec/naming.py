"""Tool names: ``{connector}_{operation}``, snake_case, ``[a-z0-9_]``, at most 64 characters.

Names must be readable (a model picks tools by name), deterministic across builds and
unique in the gateway. Long names are shortened word by word rather than cut blindly;
collisions are resolved from what differs between the operations (method, path), and
only as a last resort with a short hash of the operation's identity.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_TOOL_NAME = 64

# Common long words and their conventional abbreviations, applied only when a name is
# too long. Kept small and obvious so shortened names stay guessable.
ABBREVIATIONS = {
    "administrator": "admin",
    "administrators": "admins",
    "application": "app",
    "applications": "apps",
    "attachment": "attach",
    "attachments": "attachs",
    "authenticated": "authed",
    "authentication": "auth",
    "authorization": "authz",
    "authorizations": "authzs",
    "configuration": "config",
    "configurations": "configs",
    "deployment": "deploy",
    "deployments": "deploys",
    "environment": "env",
    "environments": "envs",
    "information": "info",
    "installation": "install",
    "installations": "installs",
    "notification": "notif",
    "notifications": "notifs",
    "organization": "org",
    "organizations": "orgs",
    "permission": "perm",
    "permissions": "perms",
    "protection": "protect",
    "repositories": "repos",
    "repository": "repo",
    "requested": "reqd",
    "reviewers": "revwrs",
    "specific": "spec",
    "subscription": "sub",
    "subscriptions": "subs",
    "temporary": "temp",
    "verification": "verif",
}

_CAMEL_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def snake_case(text: str) -> str:
    """``repos/get-by-username`` → ``repos_get_by_username``; ``listOrders`` → ``list_orders``."""
    text = _CAMEL_1.sub(r"\1_\2", text)
    text = _CAMEL_2.sub(r"\1_\2", text)
    return _NON_WORD.sub("_", text.lower()).strip("_")


def operation_slug(operation_id: str | None, method: str, path: str) -> str:
    """The operation part of a tool name: from the operationId, else from method and path."""
    if operation_id and snake_case(operation_id):
        return snake_case(operation_id)
    segments = [s for s in path.split("/") if s]
    words = [("by_" + s[1:-1]) if s.startswith("{") and s.endswith("}") else s for s in segments]
    return snake_case("_".join([method.lower(), *words])) or method.lower()


def _short_hash(text: str, n: int = 6) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _dedupe_words(words: list[str]) -> list[str]:
    """Drop a word that repeats the one right before it (``repos_repos_get``)."""
    out: list[str] = []
    for w in words:
        if not out or out[-1] != w:
            out.append(w)
    return out


def shorten(name: str, limit: int = MAX_TOOL_NAME) -> str:
    """Shorten a snake_case name readably: dedupe, abbreviate, drop inner vowels, then hash."""
    if len(name) <= limit:
        return name
    words = _dedupe_words(name.split("_"))
    if len("_".join(words)) <= limit:
        return "_".join(words)
    # Abbreviate from the end: the verb and resource at the front matter most.
    for i in range(len(words) - 1, 0, -1):
        words[i] = ABBREVIATIONS.get(words[i], words[i])
        if len("_".join(words)) <= limit:
            return "_".join(words)
    # Drop inner vowels of long words, longest first (``protection`` → ``prtctn``).
    for i in sorted(range(1, len(words)), key=lambda j: (-len(words[j]), -j)):
        w = words[i]
        if len(w) > 4:
            words[i] = w[0] + re.sub(r"[aeiou]", "", w[1:])
        if len("_".join(words)) <= limit:
            return "_".join(words)
    # Last resort: keep a readable prefix and make it unique with a hash of the full name.
    digest = _short_hash(name)
    return "_".join(words)[: limit - len(digest) - 1].rstrip("_") + "_" + digest


def tool_name(connector: str, slug: str) -> str:
    slug = snake_case(slug)
    prefix = snake_case(connector)
    if slug == prefix or slug.startswith(prefix + "_"):
        slug = slug[len(prefix) + 1 :] or slug
    return shorten(f"{prefix}_{slug}")


@dataclass(frozen=True, slots=True)
class NameRequest:
    """One operation asking for a tool name."""

    key: str  # stable identity of the operation, e.g. "GET /repos/{owner}"
    connector: str
    slug: str
    method: str
    path: str
    override: str | None = None


def assign_names(requests: Sequence[NameRequest], taken: Iterable[str] = ()) -> dict[str, str]:
    """Map each request's key to a unique tool name, deterministically.

    Overrides win and are taken as given (validated by the caller). For the rest,
    requests are processed in sorted key order; on a collision the later operation
    gets a suffix from what tells it apart: its HTTP method, then its last literal path
    segment, then a short hash of its key.
    """
    used = set(taken)
    result: dict[str, str] = {}
    for r in sorted(requests, key=lambda r: r.key):
        if r.override:
            result[r.key] = r.override
            used.add(r.override)
    for r in sorted(requests, key=lambda r: r.key):
        if r.override:
            continue
        base = tool_name(r.connector, r.slug)
        literal = [s for s in r.path.split("/") if s and not s.startswith("{")]
        candidates = [base, shorten(f"{base}_{r.method.lower()}")]
        if literal:
            candidates.append(shorten(f"{base}_{snake_case(literal[-1])}"))
        candidates.append(shorten(f"{base[: MAX_TOOL_NAME - 7]}_{_short_hash(r.key)}"))
        name = next((c for c in candidates if c not in used), None)
        n = 2
        while name is None:  # only reachable through hash collisions
            name = shorten(f"{base}_{_short_hash(r.key + str(n))}")
            name = None if name in used else name
            n += 1
        used.add(name)
        result[r.key] = name
    return result


VALID_TOOL_NAME = re.compile(r"^[a-z0-9_]{1,64}$")
