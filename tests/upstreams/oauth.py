"""An OAuth 2.0 provider: a token endpoint (refresh grant) and a protected API.

``POST /oauth/token`` takes ``grant_type=refresh_token`` with the client's id and
secret in the form body, issues ``at-<n>`` access tokens and rotates the refresh token
(``rt-<n>``), as providers that rotate do: the old refresh token stops working.
``GET /api/me`` answers 401 unless the bearer token is currently valid.
"""

from __future__ import annotations

import itertools
import threading

from tests.upstreams.server import LoopbackServer, RecordedRequest, Reply

TOKEN_PATH = "/oauth/token"


class OAuthUpstream(LoopbackServer):
    def __init__(self, client_id: str = "client-1", client_secret: str = "client-secret-1") -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self._state = threading.Lock()
        self._serial = itertools.count(1)
        self.valid_access_tokens: set[str] = set()
        self.refresh_token: str | None = None
        self.expires_in: int | None = 3600
        self.token_delay_s = 0.0  # widens the window in which concurrent refreshes race

    @property
    def token_url(self) -> str:
        return f"{self.origin}{TOKEN_PATH}"

    @property
    def api_url(self) -> str:
        return f"{self.origin}/api"

    @property
    def token_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == TOKEN_PATH]

    def allow_token(self, access_token: str) -> None:
        self.valid_access_tokens.add(access_token)

    def revoke_token(self, access_token: str) -> None:
        self.valid_access_tokens.discard(access_token)

    def handle(self, request: RecordedRequest) -> Reply | None:
        if request.path == TOKEN_PATH and request.method == "POST":
            reply = self._token(request)
            reply.delay_s = self.token_delay_s
            return reply
        auth = request.header("authorization") or ""
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or token not in self.valid_access_tokens:
            return Reply.json(
                {"error": "invalid_token", "error_description": "The access token is invalid"},
                status=401,
                headers=[("WWW-Authenticate", 'Bearer error="invalid_token"')],
            )
        if request.path == "/api/me":
            return Reply.json({"id": "user-1", "name": "Ada"})
        return Reply.json({"error": "not_found"}, status=404)

    def _token(self, request: RecordedRequest) -> Reply:
        form = dict(request.form())
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return Reply.json({"error": "invalid_client"}, status=401)
        if form.get("grant_type") != "refresh_token":
            return Reply.json({"error": "unsupported_grant_type"}, status=400)
        with self._state:
            if self.refresh_token is None or form.get("refresh_token") != self.refresh_token:
                return Reply.json(
                    {
                        "error": "invalid_grant",
                        "error_description": "The refresh token is invalid or was rotated",
                    },
                    status=400,
                )
            n = next(self._serial)
            access, refresh = f"at-{n}", f"rt-{n}"
            self.valid_access_tokens.add(access)
            self.refresh_token = refresh
        answer: dict[str, object] = {
            "access_token": access,
            "token_type": "Bearer",
            "refresh_token": refresh,
        }
        if self.expires_in is not None:
            answer["expires_in"] = self.expires_in
        return Reply.json(answer)
