"""The ``oauth:`` block of the tenants file: OAuth 2.1 resource-server mode settings.

Kept apart from :mod:`.oauth_resource` so loading a tenants file does not import the
JWT and HTTP machinery. See docs/tenants.md ("OAuth access tokens").
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from fastn_gen.gateway import tenants_yaml

# Asymmetric only: a symmetric (HS*) key would have to be shared with the gateway, and
# "none" is no signature at all.
DEFAULT_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
ALLOWED_ALGORITHMS = frozenset(DEFAULT_ALGORITHMS) | {"EdDSA", "ES512"}
WELL_KNOWN = "/.well-known/oauth-protected-resource"
CLAIM_NAME = r"^[A-Za-z_][A-Za-z0-9_.:-]*$"
# RFC 6749 scope-token characters.
SCOPE_TOKEN = r"^[\x21\x23-\x5b\x5d-\x7e]+$"


class ScopesModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    read: str = Field(default="mcp:read", min_length=1, pattern=SCOPE_TOKEN)
    write: str = Field(default="mcp:write", min_length=1, pattern=SCOPE_TOKEN)
    # Destructive tools; defaults to the write scope.
    destructive: str | None = Field(default=None, pattern=SCOPE_TOKEN)

    @property
    def destructive_scope(self) -> str:
        return self.destructive or self.write

    @property
    def supported(self) -> list[str]:
        return list(dict.fromkeys([self.read, self.write, self.destructive_scope]))


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    return value


def _algorithms(value: tuple[str, ...]) -> tuple[str, ...]:
    refused = [a for a in value if a not in ALLOWED_ALGORITHMS]
    if refused:
        raise ValueError(
            f"{', '.join(refused)} not accepted: only asymmetric signature algorithms "
            f"({', '.join(sorted(ALLOWED_ALGORITHMS))})"
        )
    return value


HttpURL = Annotated[str, AfterValidator(_http_url)]


class OAuthResourceModel(BaseModel):
    """The ``oauth:`` block of the tenants file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Compared with a token's ``iss`` exactly as written here.
    issuer: HttpURL
    jwks_uri: HttpURL
    # The gateway's canonical MCP URL (e.g. https://mcp.example.com/mcp): a token's
    # ``aud`` must name it; a trailing "/" does not matter.
    audience: HttpURL
    tenant_claim: str = Field(default="tenant", pattern=CLAIM_NAME)
    scopes: ScopesModel = ScopesModel()
    algorithms: Annotated[tuple[str, ...], AfterValidator(_algorithms)] = Field(
        default=DEFAULT_ALGORITHMS, min_length=1
    )
    leeway_s: float = Field(default=30.0, ge=0, le=300)
    resource_name: str | None = None

    @property
    def audiences(self) -> list[str]:
        bare = self.audience.removesuffix("/")
        return [bare, bare + "/"]

    @property
    def metadata_url(self) -> str:
        """RFC 9728 §3.1: the well-known path inserted between host and resource path."""
        parts = urlsplit(self.audience)
        path = parts.path.rstrip("/")
        return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN}{path}"


def load_resource_config(tenants_file: Path) -> OAuthResourceModel | None:
    """The ``oauth:`` block of a tenants file that was already validated as a whole."""
    block = tenants_yaml.settings_block(Path(tenants_file), "oauth")
    return OAuthResourceModel.model_validate(block) if block is not None else None
