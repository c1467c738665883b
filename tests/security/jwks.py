"""A local authorization server's key set on loopback HTTP, and tokens signed with it.

Keys are generated per run (an RSA and an EC key, each with its ``kid``); ``GET
/jwks.json`` publishes their public halves. :meth:`JwksServer.token` mints access
tokens with whatever claims a test needs, also with a key the JWKS does not publish.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.upstreams.server import LoopbackServer, RecordedRequest, Reply


class SigningKey:
    def __init__(self, kid: str, alg: str) -> None:
        self.kid = kid
        self.alg = alg
        if alg.startswith("ES"):
            self.private: Any = ec.generate_private_key(ec.SECP256R1())
            algorithm: Any = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256)
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            algorithm = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256)
        self.jwk = json.loads(algorithm.to_jwk(self.private.public_key()))
        self.jwk.update({"kid": kid, "alg": alg, "use": "sig"})


class JwksServer(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.keys = [SigningKey("rsa-1", "RS256"), SigningKey("ec-1", "ES256")]
        self.unpublished = SigningKey("rogue", "RS256")
        self.fetches = 0

    @property
    def issuer(self) -> str:
        return f"{self.origin}/issuer"

    @property
    def jwks_uri(self) -> str:
        return f"{self.origin}/jwks.json"

    def handle(self, request: RecordedRequest) -> Reply | None:
        if request.path == "/jwks.json":
            self.fetches += 1
            return Reply.json({"keys": [k.jwk for k in self.keys]})
        return Reply.json({"error": "not_found"}, status=404)

    def token(
        self,
        *,
        tenant: str | None,
        scope: str = "mcp:read",
        audience: str | None = None,
        issuer: str | None = None,
        expires_in: float = 300,
        key: SigningKey | None = None,
        tenant_claim: str = "org",
        **claims: Any,
    ) -> str:
        from tests.security.deployment import AUDIENCE

        signer = key or self.keys[0]
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": issuer or self.issuer,
            "aud": audience or AUDIENCE,
            "sub": "user-1",
            "client_id": "client-1",
            "iat": now,
            "exp": now + int(expires_in),
            "scope": scope,
            **claims,
        }
        if tenant is not None:
            payload[tenant_claim] = tenant
        return jwt.encode(
            payload, signer.private, algorithm=signer.alg, headers={"kid": signer.kid}
        )
