"""One gateway subprocess for the security suites, with misbehaving loopback upstreams.

Connectors (built from native specs at session start):

- ``faults``: bearer auth, self-hosted, every fault of :class:`FaultUpstream` as a tool;
- ``stable``: bearer auth, self-hosted, the fault server's well-behaved ``/ok``;
- ``blackhole``: a listener whose backlog is full (connect timeouts);
- ``private``: the fault server again, NOT self-hosted: the gateway must refuse it;
- ``hostvar``: host taken from a connection variable, NOT self-hosted;
- ``oauthsvc``: OAuth 2.0 with refresh, self-hosted (an :class:`OAuthUpstream`).

Tenants: ``alpha`` (everything), ``beta`` and ``gamma`` (for the circuit breaker: beta
breaks it, gamma must not notice), ``canary`` (credentials are planted canaries),
``iso0``..``iso4`` (random connection subsets, for isolation properties), ``soak0``..
``soak3`` and ``fuzz``. Every credential value is unique and random, so the suites can
check where each one travels. The tenants file also has an ``oauth:`` block, so the
same gateway accepts JWT access tokens from :class:`JwksServer`.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from fastn_gen.codegen.build import build
from fastn_gen.gateway.apikeys import hash_api_key
from tests.gateway.fixtures.gateway_process import GatewayProcess
from tests.security.jwks import JwksServer
from tests.security.upstreams import CanaryOAuth
from tests.upstreams.faults import BlackholeListener, FaultUpstream

UPSTREAM_TIMEOUT_S = 1.0
CONNECT_TIMEOUT_S = 0.5
BREAKER_FAILURES = 3
BREAKER_COOLDOWN_S = 2.0
MAX_BODY_BYTES = 256 * 1024
AUDIENCE = "https://mcp.gateway.test/mcp"
TENANT_CLAIM = "org"
SCOPES = {"read": "mcp:read", "write": "mcp:write", "destructive": "mcp:admin"}

ISOLATION_TENANTS = tuple(f"iso{i}" for i in range(5))
SOAK_TENANTS = tuple(f"soak{i}" for i in range(4))
ALL_CONNECTORS = ("faults", "stable", "blackhole", "private", "hostvar", "oauthsvc", "querykey")


def _path_tool(name: str, method: str, path: str, **extra: Any) -> dict[str, Any]:
    params = [
        {"name": p, "in": "path", "type": "string" if p in ("key", "segment") else "integer"}
        for p in _placeholders(path)
    ]  # fmt: skip
    params += extra.pop("parameters", [])
    return {"name": name, "description": f"{method} {path}", "method": method, "path": path,
            "parameters": params, **extra}  # fmt: skip


def _placeholders(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


FAULT_TOOLS = [
    _path_tool("ok", "GET", "/ok/{key}"),
    _path_tool("status", "GET", "/status/{code}",
               parameters=[{"name": "retry_after", "in": "query", "type": "integer"}]),
    _path_tool("status_post", "POST", "/status/{code}"),
    _path_tool("flaky", "GET", "/flaky/{key}/{failures}/{code}"),
    _path_tool("flaky_post", "POST", "/flaky/{key}/{failures}/{code}"),
    _path_tool("reset", "GET", "/reset/{key}"),
    _path_tool("close_post", "POST", "/close/{key}"),
    _path_tool("slow", "GET", "/slow/{ms}"),
    _path_tool("slow_post", "POST", "/slow/{ms}"),
    _path_tool("drip", "POST", "/drip/{ms}/{count}"),
    _path_tool("huge", "GET", "/huge/{size}"),
    _path_tool("stream", "GET", "/stream/{size}"),
    _path_tool("html", "GET", "/html/{code}"),
    _path_tool("echo", "GET", "/echo/{segment}", parameters=[
        {"name": "q", "in": "query", "type": "string"},
        {"name": "X-Note", "in": "header", "type": "string"},
    ]),
    _path_tool("leak", "POST", "/leak/{code}"),
    _path_tool("redirect", "GET", "/redirect/{code}"),
    _path_tool("update", "PATCH", "/items/{key}"),
    _path_tool("remove", "DELETE", "/items/{key}"),
]  # fmt: skip


def connector_specs(
    faults: FaultUpstream, blackhole: BlackholeListener, oauth: CanaryOAuth
) -> dict[str, dict[str, Any]]:
    bearer = {"type": "bearer"}
    return {
        "faults": {"name": "faults", "title": "Faults", "description": "Fault injection.",
                   "base_url": faults.url, "self_hosted": True, "auth": bearer,
                   "tools": FAULT_TOOLS},
        "stable": {"name": "stable", "title": "Stable", "description": "Always answers.",
                   "base_url": faults.url, "self_hosted": True, "auth": bearer,
                   "tools": [_path_tool("ok", "GET", "/ok/{key}")]},
        "blackhole": {"name": "blackhole", "title": "Blackhole", "description": "No answer.",
                      "base_url": blackhole.url, "self_hosted": True, "auth": {"type": "none"},
                      "tools": [_path_tool("get", "GET", "/x/{key}"),
                                _path_tool("get_post", "POST", "/x/{key}")]},
        "private": {"name": "private", "title": "Private", "description": "Not self-hosted.",
                    "base_url": faults.url, "auth": {"type": "none"},
                    "tools": [_path_tool("ok", "GET", "/ok/{key}")]},
        "hostvar": {"name": "hostvar", "title": "Host variable", "description": "Host varies.",
                    "base_url": f"http://{{host}}:{faults.port}", "auth": {"type": "none"},
                    "variables": {"host": {"pattern": "^[a-z0-9.-]+$"}},
                    "tools": [_path_tool("ok", "GET", "/ok/{key}")]},
        "querykey": {"name": "querykey", "title": "Query key", "description": "Key in query.",
                     "base_url": faults.url, "self_hosted": True,
                     "auth": {"type": "api_key", "in": "query", "name": "api_key"},
                     "tools": [_path_tool("ok", "GET", "/ok/{key}"),
                               _path_tool("leak", "POST", "/leak/{code}")]},
        "oauthsvc": {"name": "oauthsvc", "title": "OAuth service", "description": "OAuth 2.0.",
                     "base_url": oauth.api_url, "self_hosted": True,
                     "auth": {"type": "oauth2", "token_url": oauth.token_url},
                     "tools": [_path_tool("me", "GET", "/me")]},
    }  # fmt: skip


@dataclass
class Credentials:
    """Every upstream credential value and gateway key, by (tenant, connector/field)."""

    env: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)  # bearer per connector

    def all_values(self) -> list[str]:
        return [*self.env.values(), *self.keys.values()]


def _secret(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(16)}"


def plan_connections(rng: random.Random) -> dict[str, tuple[str, ...]]:
    plan: dict[str, tuple[str, ...]] = {
        "alpha": ALL_CONNECTORS,
        "beta": ("faults",),
        "gamma": ("faults", "stable"),
        "canary": ("faults", "stable", "oauthsvc", "querykey"),
        "fuzz": ("faults", "stable"),
    }
    for tenant in ISOLATION_TENANTS:
        chosen = tuple(c for c in ("faults", "stable", "oauthsvc") if rng.random() < 0.5)
        plan[tenant] = chosen
    for tenant in SOAK_TENANTS:
        plan[tenant] = ("faults", "stable")
    return plan


def _env_name(tenant: str, connector: str, fld: str) -> str:
    return f"{tenant}_{connector}_{fld}".upper()


def write_tenants(
    path: Path,
    plan: Mapping[str, tuple[str, ...]],
    creds: Credentials,
    jwks: JwksServer,
    oauth: CanaryOAuth,
) -> None:
    blocks = []
    for tenant, connectors in plan.items():
        key = creds.keys[tenant] = f"{tenant}-key-" + secrets.token_urlsafe(24)
        conns = []
        for connector in connectors:
            if connector in ("faults", "stable"):
                token = _secret(f"{tenant}-{connector}-token")
                creds.tokens[(tenant, connector)] = token
                creds.env[_env_name(tenant, connector, "token")] = token
                cred = f'{{token: "${{{_env_name(tenant, connector, "token")}}}"}}'
                conns.append(f"      - connector: {connector}\n        credentials: {cred}")
            elif connector == "oauthsvc":
                refresh = oauth.seed_refresh_token(tenant)
                names = {"refresh_token": refresh, "client_id": oauth.client_id,
                         "client_secret": oauth.client_secret}  # fmt: skip
                refs = []
                for fld, value in names.items():
                    creds.env[_env_name(tenant, connector, fld)] = value
                    refs.append(f'{fld}: "${{{_env_name(tenant, connector, fld)}}}"')
                conns.append(
                    f"      - connector: oauthsvc\n        credentials: {{{', '.join(refs)}}}"
                )
            elif connector == "querykey":
                value = _secret(f"{tenant}-querykey")
                creds.env[_env_name(tenant, connector, "api_key")] = value
                ref = f'{{api_key: "${{{_env_name(tenant, connector, "api_key")}}}"}}'
                conns.append(f"      - connector: querykey\n        credentials: {ref}")
            elif connector == "hostvar":
                conns.append("      - connector: hostvar\n        variables: {host: 127.0.0.1}")
            else:
                conns.append(f"      - connector: {connector}")
        body = "\n".join(conns) if conns else ""
        blocks.append(
            f"  - id: {tenant}\n"
            f"    api_keys:\n"
            f'      - {{id: {tenant}-key, hash: "{hash_api_key(key)}"}}\n'
            + (f"    connections:\n{body}\n" if conns else "")
        )
    oauth_block = (
        "oauth:\n"
        f"  issuer: {jwks.issuer}\n"
        f"  jwks_uri: {jwks.jwks_uri}\n"
        f"  audience: {AUDIENCE}\n"
        f"  tenant_claim: {TENANT_CLAIM}\n"
        f"  scopes: {json.dumps(SCOPES)}\n"
    )
    path.write_text("version: 1\n" + oauth_block + "tenants:\n" + "".join(blocks), "utf-8")


@dataclass
class SecurityDeployment:
    root: Path
    gateway: GatewayProcess
    faults: FaultUpstream
    blackhole: BlackholeListener
    oauth: CanaryOAuth
    jwks: JwksServer
    creds: Credentials
    plan: dict[str, tuple[str, ...]]
    data_dir: Path

    @classmethod
    def start(cls, root: Path, seed: int = 20261129) -> SecurityDeployment:
        faults = FaultUpstream().start()
        blackhole = BlackholeListener().start()
        oauth = CanaryOAuth().start()
        jwks = JwksServer().start()
        try:
            specs = root / "connectors.d"
            specs.mkdir()
            for name, spec in connector_specs(faults, blackhole, oauth).items():
                (specs / f"{name}.yaml").write_text(json.dumps(spec, indent=1), "utf-8")
            report = build(specs, root / "generated")
            assert not report.issues, report.issues
            plan = plan_connections(random.Random(seed))
            creds = Credentials()
            write_tenants(root / "tenants.yaml", plan, creds, jwks, oauth)
            data_dir = root / "data"
            env = dict(creds.env)
            env["FASTN_DATA_DIR"] = str(data_dir)
            gateway = GatewayProcess(
                root / "tenants.yaml",
                root / "generated",
                root / "gateway.log",
                env=env,
                extra=[
                    "--upstream-timeout", str(UPSTREAM_TIMEOUT_S),
                    "--upstream-connect-timeout", str(CONNECT_TIMEOUT_S),
                    "--breaker-failures", str(BREAKER_FAILURES),
                    "--breaker-cooldown", str(BREAKER_COOLDOWN_S),
                    "--max-body-bytes", str(MAX_BODY_BYTES),
                ],
            )  # fmt: skip
            gateway.start()
        except BaseException:
            for server in (faults, blackhole, oauth, jwks):
                server.stop()
            raise
        return cls(root, gateway, faults, blackhole, oauth, jwks, creds, plan, data_dir)

    def stop(self) -> None:
        self.gateway.stop()
        for server in (self.faults, self.blackhole, self.oauth, self.jwks):
            server.stop()

    def tools_of(self, tenant: str) -> set[str]:
        return set(self.tools_by_connector(self.plan[tenant]))

    def tools_by_connector(self, connectors: tuple[str, ...]) -> dict[str, str]:
        manifest = json.loads((self.root / "generated" / "manifest.json").read_text("utf-8"))
        return {
            t["name"]: t["connector"] for t in manifest["tools"] if t["connector"] in connectors
        }

    def leaked(self, text: str, extra: list[str] | None = None) -> list[str]:
        """The planted credentials (start only) that occur in ``text``, in any form."""
        planted = [*self.creds.all_values(), *self.oauth.secrets(), *(extra or [])]
        return [v[:24] for v in planted if any(f in text for f in forms(v))]

    def store_bytes(self) -> bytes:
        """Everything the gateway keeps on disk (database, WAL, secrets file)."""
        return b"".join(p.read_bytes() for p in sorted(self.data_dir.rglob("*")) if p.is_file())


@asynccontextmanager
async def connect(url: str, key: str, mode: str = "auto") -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:  # type: ignore[arg-type]
            yield client


def forms(value: str) -> set[str]:
    """A value as it may appear in text: raw, percent-encoded, JSON-escaped."""
    return {value, quote(value, safe=""), json.dumps(value)[1:-1]}


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text
