"""The connector's credential scheme, from the document's security schemes.

Mapping (3.x ``components.securitySchemes``, 2.0 ``securityDefinitions``):

- ``http`` bearer → bearer (``Authorization: Bearer``, or the options' prefix);
  ``http`` basic (2.0 ``basic``) → basic;
- ``apiKey`` in a header or the query → api_key with that location and name; a key in
  the ``Authorization`` header takes its value prefix from the options (default "");
  an ``apiKey`` in a cookie is not usable;
- ``oauth2`` with a flow that has a ``tokenUrl`` → oauth2 (the authorization code flow
  preferred, then client credentials, then password); an implicit-only scheme yields a
  token with no way to refresh it, so it is a bearer token;
- ``openIdConnect`` → bearer: the tenant supplies the ID provider's access token;
- anything else (``mutualTLS``, ``http`` digest) is not usable.

Without ``options.security`` the first usable scheme in declaration order is used.
A document that declares no scheme gets ``options.default_auth``.

Tool arguments that would carry the credential are dropped (``credential_param``): the
gateway injects the tenant's credential, and a model must never be asked for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastn_gen.spec.errors import SpecIssue, pointer
from fastn_gen.spec.ir import AuthScheme
from fastn_gen.spec.oas_load import Document
from fastn_gen.spec.options import OpenAPIOptions
from fastn_gen.spec.refs import RefProblem, Resolver

_OAUTH_FLOWS_3 = ("authorizationCode", "clientCredentials", "password")
# Header parameters that are never tool arguments: the credential is injected by the
# gateway, and the body encoding and response negotiation are the executor's job.
RESERVED_HEADERS = frozenset({"authorization", "content-type", "accept"})


@dataclass(frozen=True, slots=True)
class AuthChoice:
    scheme: AuthScheme
    name: str | None  # the document's scheme name, None for the default


def _scopes(flow: dict[str, Any]) -> tuple[str, ...]:
    scopes = flow.get("scopes")
    return tuple(sorted(str(s) for s in scopes)) if isinstance(scopes, dict) else ()


def _url(flow: dict[str, Any], key: str) -> str | None:
    value = flow.get(key)
    return value if isinstance(value, str) and value else None


def _bearer(prefix: str | None = None) -> AuthScheme:
    return AuthScheme(
        "bearer", location="header", param_name="Authorization", prefix=prefix or "Bearer "
    )


def to_auth(raw: dict[str, Any], version: str, prefix: str | None) -> AuthScheme | str:
    """The AuthScheme for one security scheme object, or why it cannot be used."""
    kind = raw.get("type")
    if kind == "apiKey":
        location, name = raw.get("in"), raw.get("name")
        if not isinstance(name, str) or not name:
            return "apiKey scheme without a `name`"
        if location not in ("header", "query"):
            return f"apiKey in {location!r} is not supported (header or query only)"
        return AuthScheme("api_key", location=location, param_name=name, prefix=prefix or "")
    if kind == "basic" and version == "2.0":
        return AuthScheme("basic")
    if kind == "http":
        scheme = str(raw.get("scheme", "")).lower()
        if scheme == "bearer":
            return _bearer(prefix)
        if scheme == "basic":
            return AuthScheme("basic")
        return f"HTTP {scheme or '(no scheme)'} authentication is not supported"
    if kind == "oauth2":
        return _oauth2(raw, version, prefix)
    if kind == "openIdConnect":
        return _bearer(prefix)
    return f"security scheme type {kind!r} is not supported"


def _oauth2(raw: dict[str, Any], version: str, prefix: str | None) -> AuthScheme | str:
    if version == "2.0":
        flows = {str(raw.get("flow")): raw}
        order: tuple[str, ...] = ("accessCode", "application", "password")
    else:
        found = raw.get("flows")
        flows = found if isinstance(found, dict) else {}
        order = _OAUTH_FLOWS_3
    for name in order:
        flow = flows.get(name)
        if isinstance(flow, dict) and _url(flow, "tokenUrl"):
            return AuthScheme(
                "oauth2",
                location="header",
                param_name="Authorization",
                prefix=prefix or "Bearer ",
                token_url=_url(flow, "tokenUrl"),
                refresh_url=_url(flow, "refreshUrl"),
                scopes=_scopes(flow),
            )
    if "implicit" in flows:
        return _bearer(prefix)
    return "oauth2 scheme has no flow with a tokenUrl"


def _schemes(doc: Document, resolver: Resolver) -> tuple[dict[str, Any], str]:
    if doc.version == "2.0":
        found = doc.data.get("securityDefinitions")
        return (found if isinstance(found, dict) else {}), "/securityDefinitions"
    components = doc.data.get("components")
    found = components.get("securitySchemes") if isinstance(components, dict) else None
    return (found if isinstance(found, dict) else {}), "/components/securitySchemes"


def select_auth(
    doc: Document, resolver: Resolver, options: OpenAPIOptions, options_source: str | None = None
) -> tuple[AuthChoice, list[SpecIssue]]:
    """The scheme to use; an unknown ``options.security`` is reported against the
    wrapper (``options_source``), an unusable declared one against the document."""
    schemes, base = _schemes(doc, resolver)
    mapping = options.security
    resolved: dict[str, tuple[Any, str]] = {}
    for name, node in schemes.items():
        try:
            resolved[name] = resolver.deref(node, base + pointer(name))
        except RefProblem as exc:
            resolved[name] = (exc.message, exc.pointer)
    if mapping is not None:
        if mapping.scheme not in resolved:
            declared = ", ".join(sorted(resolved)) or "none"
            msg = f"security scheme {mapping.scheme!r} is not declared (declared: {declared})"
            issue = (
                SpecIssue(options_source, pointer("security", "scheme"), msg)
                if options_source
                else SpecIssue(doc.source, base, msg)
            )
            return AuthChoice(AuthScheme("none"), None), [issue]
        raw, ptr = resolved[mapping.scheme]
        result = to_auth(raw, doc.version, mapping.prefix) if isinstance(raw, dict) else str(raw)
        if isinstance(result, str):
            return AuthChoice(AuthScheme("none"), None), [SpecIssue(doc.source, ptr, result)]
        return AuthChoice(result, mapping.scheme), []
    for name, (raw, _) in resolved.items():
        if isinstance(raw, dict):
            result = to_auth(raw, doc.version, None)
            if isinstance(result, AuthScheme):
                return AuthChoice(result, name), []
    default = _bearer() if options.default_auth == "bearer" else AuthScheme("none")
    return AuthChoice(default, None), []


def requires_auth(security: list[Any] | None) -> bool:
    """False when the operation may be called anonymously (``security: []`` or an
    empty requirement among the alternatives)."""
    if security is None:
        return True
    return bool(security) and all(requirement for requirement in security)


def credential_param(
    name: str, location: str, description: str | None, auth: AuthScheme, secured: bool
) -> bool:
    """Whether a declared parameter is the credential or content negotiation.

    Besides the reserved headers and the api_key's own parameter, a parameter named
    ``token`` described as an authentication token (Slack declares one in the query,
    a header or the form of every method) is the credential when the operation is
    secured and the connector injects one.
    """
    lowered = name.lower()
    if location == "header" and lowered in RESERVED_HEADERS:
        return True
    if auth.kind == "api_key" and auth.param_name and location == auth.location:
        wanted = auth.param_name
        if (lowered == wanted.lower()) if location == "header" else (name == wanted):
            return True
    return (
        secured
        and auth.kind != "none"
        and lowered == "token"
        and "auth" in (description or "").lower()
    )
