"""A Slack Web API look-alike: ``/api/<method>``, bearer tokens, ``{"ok": false}`` errors.

Like Slack, every answer is HTTP 200 with ``ok`` telling success from failure, except
rate limiting (HTTP 429 with ``Retry-After``). Arguments are read from the query
string, a form body or a JSON body, as Slack accepts all three.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from tests.upstreams.server import LoopbackServer, RecordedRequest, Reply

TEAM = {"id": "T0ACME", "name": "Acme", "domain": "acme"}


class SlackUpstream(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self._tokens: set[str] = set()
        self._state = threading.Lock()
        self._ts = itertools.count(1)
        self.rate_limit_remaining = 0  # answer this many calls with HTTP 429
        self.channels: dict[str, dict[str, Any]] = {
            "C001": {"id": "C001", "name": "general", "is_channel": True, "is_private": False},
            "C002": {"id": "C002", "name": "random", "is_channel": True, "is_private": False},
        }
        self.users: dict[str, dict[str, Any]] = {
            "U001": {"id": "U001", "name": "alice", "real_name": "Alice Doe", "is_bot": False},
            "U002": {"id": "U002", "name": "bob", "real_name": "Bob Roe", "is_bot": False},
        }
        self.messages: dict[str, list[dict[str, Any]]] = {cid: [] for cid in self.channels}

    @property
    def url(self) -> str:
        """The base URL a Slack connector uses (Slack's is ``https://slack.com/api``)."""
        return f"{self.origin}/api"

    def allow_token(self, *tokens: str) -> None:
        self._tokens.update(tokens)

    def revoke_token(self, token: str) -> None:
        self._tokens.discard(token)

    def handle(self, request: RecordedRequest) -> Reply | None:
        if not request.path.startswith("/api/"):
            return Reply.json({"ok": False, "error": "unknown_method"}, status=404)
        if self.rate_limit_remaining > 0:
            self.rate_limit_remaining -= 1
            return Reply.json(
                {"ok": False, "error": "ratelimited"}, status=429, headers=[("Retry-After", "30")]
            )
        auth = request.header("authorization") or ""
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        if not token:
            return Reply.json({"ok": False, "error": "not_authed"})
        if token not in self._tokens:
            return Reply.json({"ok": False, "error": "invalid_auth"})
        method = request.path[len("/api/") :]
        args = request.params()
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return Reply.json({"ok": False, "error": "unknown_method"})
        with self._state:
            result: dict[str, Any] = handler(args)
        return Reply.json(result)

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://acme.slack.com/",
            "team": TEAM["name"],
            "user": "fastn-bot",
            "team_id": TEAM["id"],
            "user_id": "U0BOT",
            "bot_id": "B0BOT",
        }

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = f"1700000000.{next(self._ts):06d}"
        message = {"type": "message", "user": "U0BOT", "text": args.get("text", ""), "ts": ts}
        self.messages[channel].append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        limit = int(args.get("limit") or 100)
        channels = list(self.channels.values())[:limit]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        limit = int(args.get("limit") or 100)
        newest_first = list(reversed(self.messages[channel]))[:limit]
        return {"ok": True, "messages": newest_first, "has_more": False}

    def _users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "members": list(self.users.values())}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def _reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        for message in self.messages[channel]:
            if message["ts"] == args.get("timestamp"):
                reactions = message.setdefault("reactions", [])
                if any(r["name"] == args.get("name") for r in reactions):
                    return {"ok": False, "error": "already_reacted"}
                reactions.append({"name": args.get("name"), "count": 1, "users": ["U0BOT"]})
                return {"ok": True}
        return {"ok": False, "error": "message_not_found"}
