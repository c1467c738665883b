"""An OAuth 2.0 provider whose every secret is a unique canary, one grant per tenant.

``POST /oauth/token`` (refresh grant, client credentials in the form) rotates the
tenant's refresh token and issues a fresh access token; ``GET /api/me`` needs a current
access token. :meth:`expire` makes a tenant's access token invalid, so the gateway's
next call is answered 401 and it must refresh.
"""

from __future__ import annotations

import secrets
import threading

from tests.upstreams.server import LoopbackServer, RecordedRequest, Reply

TOKEN_PATH = "/oauth/token"


def canary(kind: str) -> str:
    return f"canary-{kind}-{secrets.token_hex(12)}"


class CanaryOAuth(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.client_id = canary("client-id")
        self.client_secret = canary("client-secret")
        self._state = threading.Lock()
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> tenant
        self.access_tokens: dict[str, str] = {}  # access token -> tenant
        self.issued: list[str] = []  # every token ever issued, for leak checks
        self.refreshes = 0

    @property
    def token_url(self) -> str:
        return f"{self.origin}{TOKEN_PATH}"

    @property
    def api_url(self) -> str:
        return f"{self.origin}/api"

    def seed_refresh_token(self, tenant: str) -> str:
        token = canary(f"{tenant}-refresh")
        with self._state:
            self.refresh_tokens[token] = tenant
            self.issued.append(token)
        return token

    def expire(self, tenant: str) -> None:
        with self._state:
            for token in [t for t, owner in self.access_tokens.items() if owner == tenant]:
                del self.access_tokens[token]

    def forget(self, tenant: str) -> None:
        """Revoke the tenant's grant: its refresh token stops working."""
        with self._state:
            for token in [t for t, owner in self.refresh_tokens.items() if owner == tenant]:
                del self.refresh_tokens[token]

    def secrets(self) -> list[str]:
        with self._state:
            return [self.client_id, self.client_secret, *self.issued]

    def handle(self, request: RecordedRequest) -> Reply | None:
        if request.path == TOKEN_PATH and request.method == "POST":
            return self._token(dict(request.form()))
        auth = request.header("authorization") or ""
        with self._state:
            tenant = self.access_tokens.get(auth.removeprefix("Bearer "))
        if not auth.startswith("Bearer ") or tenant is None:
            # Like careless providers, the error echoes what it was sent.
            return Reply.json(
                {"error": "invalid_token", "error_description": f"token {auth} is invalid"},
                status=401,
            )
        if request.path == "/api/me":
            return Reply.json({"tenant": tenant})
        return Reply.json({"error": "not_found"}, status=404)

    def _token(self, form: dict[str, str]) -> Reply:
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return Reply.json({"error": "invalid_client"}, status=401)
        with self._state:
            tenant = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if tenant is None:
                return Reply.json(
                    {"error": "invalid_grant", "error_description": "refresh token "
                     f"{form.get('refresh_token')} is unknown or was rotated"},
                    status=400,
                )  # fmt: skip
            access, refresh = canary(f"{tenant}-access"), canary(f"{tenant}-refresh")
            self.access_tokens[access] = tenant
            self.refresh_tokens[refresh] = tenant
            self.issued += [access, refresh]
            self.refreshes += 1
        return Reply.json(
            {"access_token": access, "refresh_token": refresh, "expires_in": 3600,
             "token_type": "Bearer"}
        )  # fmt: skip
