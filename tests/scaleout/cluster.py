"""Two gateway processes on one PostgreSQL schema, tenants managed through the CLI.

The schema is unique per test run and dropped afterwards. Both gateways read their
tenants from the store (the tenants file says ``tenants_from: store``) and are
reached on their own loopback ports, as a load balancer would spread clients.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.gateway.fixtures.gateway_process import GatewayProcess, gateway_env, generated_dir
from tests.store.postgres_server import POSTGRES_URL
from tests.upstreams import ShopifyUpstream, SlackUpstream

MODERN = "2026-07-28"
KEY_LINE = re.compile(r"^\s+(fgk_\S+)$", re.MULTILINE)

TENANTS_FILE = """version: 1
tenants_from: store
plans:
  small: {tool_calls_per_month: 1000}
  large: {tool_calls_per_month: 5000}
  free: {}
tenants: []
"""


@dataclass
class Cluster:
    root: Path
    schema: str
    slack: SlackUpstream
    shopify: ShopifyUpstream
    config: Path
    generated: Path
    env: dict[str, str] = field(default_factory=dict)
    gateways: list[GatewayProcess] = field(default_factory=list)

    @property
    def store_url(self) -> str:
        return f"{POSTGRES_URL}?schema={self.schema}"

    def start(self, replicas: int = 2, extra: Sequence[str] = ()) -> None:
        for n in range(replicas):
            gateway = GatewayProcess(
                self.config,
                self.generated,
                self.root / f"gateway-{n}.log",
                env=self.env,
                extra=["--store", self.store_url, *extra],
            )
            self.gateways.append(gateway.start())

    def stop(self) -> None:
        for gateway in self.gateways:
            gateway.stop()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``fastn-gen tenants ARGS`` against this cluster's store, as an operator runs it."""
        command = [
            sys.executable,
            "-c",
            "from fastn_gen.cli import main; main()",
            "tenants",
            *args,
        ]
        if args[0] != "import":
            command += ["--config", str(self.config)]
        command += ["--store", self.store_url]
        if args[0] in ("connect", "import"):
            command += ["--generated", str(self.generated)]
        done = subprocess.run(
            command, capture_output=True, text=True, env=gateway_env(), timeout=60, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed: {done.stderr}{done.stdout}")
        return done

    def add_tenant(self, tenant: str, plan: str = "free") -> str:
        """A new tenant; returns its API key."""
        found = KEY_LINE.search(self.cli("add", tenant, "--plan", plan).stdout)
        assert found is not None
        return found.group(1)

    def slack_token(self, tenant: str) -> str:
        """The Slack token of ``tenant``, in the gateways' environment from their start."""
        name = f"{tenant.upper()}_SLACK_TOKEN"
        if name not in self.env:
            assert not self.gateways, "give tenants their tokens before starting the gateways"
            self.env[name] = f"xoxb-{tenant}-{secrets.token_hex(8)}"
            self.slack.allow_token(self.env[name])
        return self.env[name]

    def connect_slack(self, tenant: str) -> None:
        self.slack_token(tenant)
        reference = "${" + f"{tenant.upper()}_SLACK_TOKEN" + "}"
        self.cli("connect", tenant, "slack", "--credential", f"token={reference}")


def make_cluster(root: Path, slack: SlackUpstream, shopify: ShopifyUpstream) -> Cluster:
    generated = generated_dir(
        root / "generated", slack_base=slack.url, shopify_base=shopify.shop_url_template
    )
    config = root / "tenants.yaml"
    config.write_text(TENANTS_FILE, encoding="utf-8")
    schema = f"scaleout_{os.getpid()}_{secrets.token_hex(3)}"
    return Cluster(root, schema, slack, shopify, config, generated)


def modern_headers(key: str, method: str, name: str | None = None) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": method,
    }
    if name is not None:
        headers["Mcp-Name"] = name
    return headers


def modern_body(method: str, params: dict[str, Any], request_id: int = 1) -> dict[str, Any]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": method,
        "params": {**params, "_meta": meta},
    }


async def call_tool(
    http: httpx.AsyncClient, url: str, key: str, name: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    """One sessionless tools/call; the JSON-RPC ``result`` (or the error, raised)."""
    response = await http.post(
        url,
        json=modern_body("tools/call", {"name": name, "arguments": arguments}),
        headers=modern_headers(key, "tools/call", name),
    )
    response.raise_for_status()
    payload = response.json()
    if "error" in payload:
        raise AssertionError(f"tools/call {name}: {payload['error']}")
    result: dict[str, Any] = payload["result"]
    return result


async def list_tool_names(http: httpx.AsyncClient, url: str, key: str) -> list[str]:
    response = await http.post(
        url, json=modern_body("tools/list", {}), headers=modern_headers(key, "tools/list")
    )
    response.raise_for_status()
    return [tool["name"] for tool in response.json()["result"]["tools"]]


def result_text(result: dict[str, Any]) -> str:
    return json.dumps(result.get("content"))
