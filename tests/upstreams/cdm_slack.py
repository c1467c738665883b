"""Slack with a workspace per token and the calls entity search makes.

Each token belongs to one workspace (``acme`` or ``globex``) with its own members,
channels and messages. ``users.list`` and ``conversations.list`` page with Slack's
opaque cursors and, like Slack, may return fewer items than ``limit``: at most
``page_cap`` per page. ``search.messages`` matches every word of the query against the
message text and pages with ``page``/``count``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from tests.upstreams.server import RecordedRequest, Reply
from tests.upstreams.slack import SlackUpstream


def _user(uid: str, name: str, real: str, email: str, **extra: Any) -> dict[str, Any]:
    first, _, last = real.partition(" ")
    profile = {"real_name": real, "first_name": first, "last_name": last, "email": email}
    profile.update(extra.pop("profile", {}))
    return {
        "id": uid,
        "name": name,
        "real_name": real,
        "deleted": False,
        "is_bot": False,
        "updated": 1727877600,
        "profile": profile,
        **extra,
    }


def _channel(cid: str, name: str, topic: str, members: int) -> dict[str, Any]:
    return {
        "id": cid,
        "name": name,
        "is_channel": True,
        "is_private": False,
        "is_archived": False,
        "created": 1700000000,
        "num_members": members,
        "topic": {"value": topic},
        "purpose": {"value": f"About {topic.lower()}"},
    }


@dataclass
class Workspace:
    team: str
    users: list[dict[str, Any]]
    channels: list[dict[str, Any]]
    messages: list[dict[str, Any]] = field(default_factory=list)


def acme_workspace() -> Workspace:
    users = [
        _user("UA1", "alice", "Alice Doe", "alice@acme.example", profile={"title": "CEO"}),
        _user("UA2", "bob", "Bob Roe", "bob@acme.example", profile={"phone": "+15550100"}),
        _user("UA3", "carl", "Carl Acme", "carl@partner.example"),
        _user("UA4", "dee", "Dee Vance", "dee@elsewhere.example"),
        _user("UA5", "acmebot", "Acme Bot", "bot@acme.example", is_bot=True),
        _user("UA6", "gone", "Acme Former", "former@acme.example", deleted=True),
        _user("UA7", "eve", "Eve Acme-Smith", "eve@acme.example"),
    ]
    channels = [
        _channel("CA1", "general", "Company-wide news", 7),
        _channel("CA2", "acme-sales", "Acme sales pipeline", 3),
        _channel("CA3", "random", "Anything", 5),
    ]
    messages = [
        {"ts": "1727877600.000100", "user": "UA1", "username": "alice",
         "text": "Acme renewal signed", "channel": {"id": "CA2", "name": "acme-sales"},
         "permalink": "https://acme.slack.com/archives/CA2/p1727877600000100"},
        {"ts": "1727881200.000200", "user": "UA2", "username": "bob",
         "text": "lunch?", "channel": {"id": "CA3", "name": "random"},
         "permalink": "https://acme.slack.com/archives/CA3/p1727881200000200"},
        {"ts": "1727884800.000300", "user": "UA2", "username": "bob",
         "text": "The acme invoice is overdue", "channel": {"id": "CA1", "name": "general"},
         "permalink": "https://acme.slack.com/archives/CA1/p1727884800000300"},
    ]  # fmt: skip
    return Workspace("T0ACME", users, channels, messages)


def globex_workspace() -> Workspace:
    users = [
        _user("UG1", "gina", "Gina Globex", "gina@globex.example"),
        _user("UG2", "liaison", "Acme Liaison", "liaison@globex.example"),
    ]
    channels = [_channel("CG1", "general", "Globex news", 2)]
    return Workspace("T0GLOBEX", users, channels)


def _encode(index: int) -> str:
    return base64.b64encode(f"index:{index}".encode()).decode()


def _decode(cursor: Any) -> int:
    if not cursor:
        return 0
    return int(base64.b64decode(str(cursor)).decode().removeprefix("index:"))


class WorkspaceSlack(SlackUpstream):
    def __init__(self, page_cap: int = 2) -> None:
        super().__init__()
        self.page_cap = page_cap
        self.workspaces: dict[str, Workspace] = {}
        self._current: Workspace | None = None

    def add_token(self, token: str, workspace: Workspace) -> None:
        self.workspaces[token] = workspace
        self.allow_token(token)

    def handle(self, request: RecordedRequest) -> Reply | None:
        auth = request.header("authorization") or ""
        # Handlers run one at a time (under the base class's lock), so this is safe.
        self._current = self.workspaces.get(auth.removeprefix("Bearer "))
        return super().handle(request)

    @property
    def workspace(self) -> Workspace:
        assert self._current is not None, "a token without a workspace"
        return self._current

    def _page(self, items: list[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
        start = _decode(args.get("cursor"))
        size = min(int(args.get("limit") or 100), self.page_cap)
        end = start + size
        following = _encode(end) if end < len(items) else ""
        return {"items": items[start:end], "next_cursor": following}

    def _users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        page = self._page(self.workspace.users, args)
        meta = {"next_cursor": page["next_cursor"]}
        return {"ok": True, "members": page["items"], "response_metadata": meta}

    def _conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        page = self._page(self.workspace.channels, args)
        meta = {"next_cursor": page["next_cursor"]}
        return {"ok": True, "channels": page["items"], "response_metadata": meta}

    def _search_messages(self, args: dict[str, Any]) -> dict[str, Any]:
        words = str(args.get("query") or "").lower().split()
        if not words:
            return {"ok": False, "error": "no_query"}
        found = [m for m in self.workspace.messages if all(w in m["text"].lower() for w in words)]
        count = int(args.get("count") or 20)
        page = int(args.get("page") or 1)
        pages = max(1, -(-len(found) // count))
        matches = found[(page - 1) * count : page * count]
        paging = {"count": count, "total": len(found), "page": page, "pages": pages}
        return {
            "ok": True,
            "query": args.get("query"),
            "messages": {"total": len(found), "matches": matches, "paging": paging},
        }
