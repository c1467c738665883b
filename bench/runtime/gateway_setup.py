"""Contender (d): a connectors dir wrapping the vendor specs, its build, tenants files.

The Stripe wrapper points ``base_url`` at the loopback upstream (``self_hosted``: it
resolves to loopback); GitHub and Slack keep their real base URLs and are never called.
Tenant API keys are random and stored as salted SHA-256 hashes (``sha256$salt$hash``,
which the tenants file accepts for keys that are not ``fgk_``-generated), so writing
100,000 tenants takes a second rather than the hours scrypt would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The vendor specs sit in ``shared/specs`` next to the checkout (or a worktree's parent).
SPECS = next(
    (p / "shared" / "specs" for p in Path(__file__).resolve().parents if (p / "shared").is_dir()),
    Path(__file__).resolve().parents[3] / "shared" / "specs",
)
STRIPE_SPEC = SPECS / "stripe" / "spec3.yaml"
GITHUB_SPEC = SPECS / "github" / "api.github.com.json"
SLACK_SPEC = SPECS / "slack" / "slack_web_openapi_v2.json"
CALL_TOOL = "stripe_retrieve_customer"
# Credentials are references to environment variables set for the gateway process.
TOKEN_ENV = {
    "BENCH_STRIPE_TOKEN": "sk_test_bench",
    "BENCH_GITHUB_TOKEN": "ghp_bench",
    "BENCH_SLACK_TOKEN": "xoxb-bench",
}

WRAPPERS = {
    "stripe": """name: stripe
openapi: openapi/stripe-spec3.yaml
base_url: {upstream}
self_hosted: true
security:
  scheme: bearerAuth
names:
  GetCustomersCustomer: stripe_retrieve_customer
""",
    "github": """name: github
openapi: openapi/github.json
base_url: https://api.github.com
default_auth: bearer
""",
    "slack": """name: slack
openapi: openapi/slack.json
base_url: https://slack.com/api
""",
}
DOCUMENTS = {"stripe": STRIPE_SPEC, "github": GITHUB_SPEC, "slack": SLACK_SPEC}
CONNECTIONS = {
    "stripe": "{connector: stripe, credentials: {token: '${BENCH_STRIPE_TOKEN}'}}",
    "github": "{connector: github, credentials: {token: '${BENCH_GITHUB_TOKEN}'}}",
    "slack": "{connector: slack, credentials: {access_token: '${BENCH_SLACK_TOKEN}'}}",
}


def write_connectors(where: Path, upstream: str) -> Path:
    connectors = where / "connectors.d"
    (connectors / "openapi").mkdir(parents=True)
    for name, doc in DOCUMENTS.items():
        target = (
            connectors / "openapi" / f"{name}{'-spec3' if name == 'stripe' else ''}{doc.suffix}"
        )
        target.symlink_to(doc)
        (connectors / f"{name}.yaml").write_text(WRAPPERS[name].format(upstream=upstream))
    return connectors


def build(fastn_gen: str, connectors: Path, out: Path) -> dict[str, Any]:
    """``fastn-gen build``, timed; the tool count per connector from the manifest."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [fastn_gen, "build", "--connectors", str(connectors), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"fastn-gen build failed:\n{proc.stdout}\n{proc.stderr}")
    manifest = json.loads((out / "manifest.json").read_bytes())
    per: dict[str, int] = {}
    for tool in manifest["tools"]:
        per[tool["connector"]] = per.get(tool["connector"], 0) + 1
    return {"wall_s": wall, "tools": per, "skipped": len(manifest.get("skipped", []))}


def tool_entry(generated: Path, name: str = CALL_TOOL) -> dict[str, Any]:
    """The tool's manifest entry, with its output schema (kept in output_schemas.json)."""
    manifest = json.loads((generated / "manifest.json").read_bytes())
    entry = next(t for t in manifest["tools"] if t["name"] == name)
    schemas = json.loads((generated / manifest["output_schemas"]["file"]).read_bytes())
    if name in schemas:
        entry["output_schema"] = schemas[name]
    return entry


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def sha256_hash(key: str) -> str:
    salt = os.urandom(16)
    return f"sha256${_b64(salt)}${_b64(hashlib.sha256(salt + key.encode()).digest())}"


@dataclass(frozen=True)
class Keys:
    all_connectors: str  # tenant "bench-all": GitHub, Stripe, Slack
    stripe_only: str  # tenant "bench-stripe": Stripe


def write_tenants(path: Path, extra_tenants: int = 0) -> Keys:
    """The two benchmark tenants, plus ``extra_tenants`` others each with a Stripe connection."""
    keys = Keys(f"bench-all-{secrets.token_hex(16)}", f"bench-stripe-{secrets.token_hex(16)}")
    lines = ["version: 1", "tenants:"]

    def tenant(tid: str, key: str, connectors: list[str]) -> None:
        conns = ", ".join(CONNECTIONS[c] for c in connectors)
        lines.append(
            f"  - {{id: {tid}, api_keys: [{{id: k-{tid}, hash: '{sha256_hash(key)}'}}], "
            f"connections: [{conns}]}}"
        )

    tenant("bench-all", keys.all_connectors, ["github", "stripe", "slack"])
    tenant("bench-stripe", keys.stripe_only, ["stripe"])
    for i in range(extra_tenants):
        tenant(f"t{i:06d}", secrets.token_hex(16), ["stripe"])
    path.write_text("\n".join(lines) + "\n")
    return keys


def gateway_env() -> dict[str, str]:
    env = {**os.environ, **TOKEN_ENV, "PYTHONUNBUFFERED": "1"}
    # An installed gateway has bytecode for its own modules; without it every start
    # compiles fastn_gen's sources again (about 0.2-0.5 s of CPU), so the first cold
    # start (reported apart) writes it, as the cold-start step expects.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env
