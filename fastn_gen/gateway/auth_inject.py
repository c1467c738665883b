"""Put a tenant connection's credentials on one upstream request, per the AuthSpec.

Credentials are added to the request being sent and nowhere else: never to an HTTP
client's default headers (clients are shared between tenants), never to a global.
A same-named header or query parameter coming from tool arguments is replaced, so
an argument cannot override or duplicate the credential.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass

from fastn_gen.gateway.request_builder import PreparedRequest
from fastn_gen.runtime.operation import AuthSpec

# Credential fields a connection provides for each auth kind (the same names the
# generator documents for connector authors).
AUTH_FIELDS: dict[str, tuple[str, ...]] = {
    "none": (),
    "bearer": ("token",),
    "api_key": ("api_key",),
    "basic": ("username", "password"),
    "oauth2": ("access_token", "refresh_token", "client_id", "client_secret"),
}
# Fields without which no request can be authenticated. OAuth tokens may instead come
# from the secrets store (tokens persisted by an earlier refresh), so none is required.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "none": (),
    "bearer": ("token",),
    "api_key": ("api_key",),
    "basic": ("username", "password"),
    "oauth2": (),
}


class AuthError(Exception):
    """Credentials are missing or unusable. Names fields, never values."""


@dataclass(frozen=True, slots=True)
class AuthMaterial:
    """What one request carries for authentication, and what must be redacted."""

    headers: tuple[tuple[str, str], ...] = ()
    query: tuple[tuple[str, str], ...] = ()
    secrets: tuple[str, ...] = ()

    def apply(self, request: PreparedRequest) -> PreparedRequest:
        if self.headers:
            request = request.with_headers(self.headers, drop=[name for name, _ in self.headers])
        for name, value in self.query:
            request = request.with_query([(name, value)], drop=name)
        return request


def _checked(field: str, value: str) -> str:
    if any(c in value for c in ("\r", "\n", "\0")):
        raise AuthError(f"credential {field!r} contains a line break or NUL character")
    return value


def _need(credentials: Mapping[str, str], field: str) -> str:
    value = credentials.get(field)
    if not value:
        raise AuthError(f"the connection has no credential {field!r}")
    return _checked(field, value)


def _token_material(auth: AuthSpec, field: str, token: str) -> AuthMaterial:
    """A token in a header (``Authorization: Bearer`` by default) or a query parameter."""
    if auth.location == "query":
        name = auth.param_name or "access_token"
        return AuthMaterial(query=((name, auth.prefix + token),), secrets=(token,))
    name = auth.param_name or "Authorization"
    prefix = auth.prefix or ("Bearer " if name.lower() == "authorization" else "")
    value = prefix + token
    return AuthMaterial(headers=((name, value),), secrets=(token, value))


def auth_material(
    auth: AuthSpec, credentials: Mapping[str, str], access_token: str | None = None
) -> AuthMaterial:
    """The headers or query parameters carrying ``credentials`` for ``auth``.

    ``access_token`` is the current OAuth access token (oauth2 only), which may come
    from a refresh rather than from the connection's configured credentials.
    """
    if auth.kind == "none":
        return AuthMaterial()
    if auth.kind == "bearer":
        return _token_material(auth, "token", _need(credentials, "token"))
    if auth.kind == "oauth2":
        if not access_token:
            raise AuthError("the connection has no OAuth access token")
        return _token_material(auth, "access_token", _checked("access_token", access_token))
    if auth.kind == "api_key":
        key = _need(credentials, "api_key")
        if not auth.param_name:
            raise AuthError("the connector's api_key auth names no header or query parameter")
        value = auth.prefix + key
        if auth.location == "query":
            return AuthMaterial(query=((auth.param_name, value),), secrets=(key, value))
        return AuthMaterial(headers=((auth.param_name, value),), secrets=(key, value))
    if auth.kind == "basic":
        user = _need(credentials, "username")
        password = _need(credentials, "password")
        if ":" in user:
            raise AuthError("credential 'username' must not contain ':' for HTTP basic auth")
        encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        header = "Basic " + encoded
        return AuthMaterial(
            headers=(("Authorization", header),), secrets=(password, encoded, header)
        )
    raise AuthError(f"unsupported auth kind {auth.kind!r}")
