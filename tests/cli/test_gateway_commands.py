"""The gateway commands of the ``fastn-gen`` CLI, run as real subprocesses.

``keys new`` prints a key that the served gateway then accepts; ``serve`` (HTTP and
``--stdio``) answers the official client; ``secrets set`` stores a value encrypted and
never prints it; ``claude-config`` prints entries that name the right command.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.gateway.fixtures.gateway_process import REPO_ROOT, GatewayProcess, gateway_env

pytestmark = pytest.mark.anyio

FASTN = str(Path(sys.executable).with_name("fastn-gen"))
SHIPPED = REPO_ROOT / "generated"
KEY = re.compile(r"^\s+(fgk_\S+)$", re.M)
LINE = re.compile(r"^\s+(- \{id: .*)$", re.M)


def fastn(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FASTN, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=gateway_env(),
    )


def new_key(tenant: str) -> tuple[str, str]:
    out = fastn("keys", "new", "--tenant", tenant)
    assert out.returncode == 0, out.stderr
    key, line = KEY.search(out.stdout), LINE.search(out.stdout)
    assert key and line, out.stdout
    assert key.group(1) not in line.group(1)  # the pasted line holds only a hash
    return key.group(1), line.group(1)


def write_tenants(path: Path, acme_line: str, globex_line: str) -> Path:
    path.write_text(
        "version: 1\n"
        "tenants:\n"
        "  - id: acme\n"
        "    api_keys:\n"
        f"      {acme_line}\n"
        "    connections:\n"
        "      - connector: slack\n"
        "        credentials: {token: 'secret:token'}\n"
        "      - connector: shopify\n"
        "        variables: {shop: acme-demo}\n"
        "        credentials: {api_key: '${ACME_SHOPIFY_TOKEN}'}\n"
        "  - id: globex\n"
        "    api_keys:\n"
        f"      {globex_line}\n"
        "    connections:\n"
        "      - connector: slack\n"
        "        credentials: {token: '${GLOBEX_SLACK_TOKEN}'}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def tenants(tmp_path: Path) -> tuple[Path, str, str]:
    acme_key, acme_line = new_key("acme")
    globex_key, globex_line = new_key("globex")
    return write_tenants(tmp_path / "tenants.yaml", acme_line, globex_line), acme_key, globex_key


async def tool_names(url: str, key: str) -> list[str]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"})
    async with Client(streamable_http_client(url, http_client=http)) as client:
        return [t.name for t in (await client.list_tools()).tools]


async def test_serve_accepts_keys_made_by_keys_new(
    tenants: tuple[Path, str, str], tmp_path: Path
) -> None:
    config, acme_key, globex_key = tenants
    gateway = GatewayProcess(config, SHIPPED, tmp_path / "gateway.log")
    # The real console script, not the module entry the fixture uses by default.
    gateway.args = [
        FASTN,
        "serve",
        "--config",
        str(config),
        "--generated",
        str(SHIPPED),
        "--port",
        "0",
    ]
    gateway.start()
    try:
        acme = await tool_names(gateway.url, acme_key)
        globex = await tool_names(gateway.url, globex_key)
        refused = httpx.post(
            gateway.url,
            headers={"Authorization": f"Bearer {acme_key}x", "Accept": "application/json"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )
    finally:
        gateway.stop()
    assert any(n.startswith("shopify_") for n in acme) and any(n.startswith("slack_") for n in acme)
    assert any(n.startswith("slack_") for n in globex)
    assert not any(n.startswith(("shopify_", "github_", "stripe_")) for n in globex)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")


async def test_serve_stdio_serves_one_tenant(tenants: tuple[Path, str, str]) -> None:
    config, _, _ = tenants
    params = StdioServerParameters(
        command=FASTN,
        args=[
            "serve",
            "--stdio",
            "--tenant",
            "globex",
            "--config",
            str(config),
            "--generated",
            str(SHIPPED),
        ],
        env=gateway_env(),
    )
    async with Client(params, read_timeout_seconds=30) as client:
        names = [t.name for t in (await client.list_tools()).tools]
    assert any(n.startswith("slack_") for n in names)
    assert not any(n.startswith("shopify_") for n in names)


async def test_serve_lists_output_schemas_only_when_asked(tenants: tuple[Path, str, str]) -> None:
    config, _, _ = tenants
    listed: list[dict[str, object]] = []
    for extra in ([], ["--list-output-schemas"]):
        args = ["serve", "--stdio", "--tenant", "globex", "--config", str(config)]
        params = StdioServerParameters(
            command=FASTN, args=[*args, "--generated", str(SHIPPED), *extra], env=gateway_env()
        )
        async with Client(params, read_timeout_seconds=30) as client:
            tools = (await client.list_tools()).tools
        listed.append({t.name: t.output_schema for t in tools})
    default, asked = listed
    assert default.keys() == asked.keys()
    assert default["slack_auth_test"] is None
    assert asked["slack_auth_test"] is not None
    # Native tools list theirs either way.
    assert default["fastn_list_integrations"] == asked["fastn_list_integrations"] is not None


def test_serve_refuses_inconsistent_options(tmp_path: Path) -> None:
    no_tenant = fastn("serve", "--stdio")
    tenant_without_stdio = fastn("serve", "--tenant", "acme")
    assert no_tenant.returncode == 2 and "--stdio needs --tenant" in no_tenant.stderr
    assert tenant_without_stdio.returncode == 2 and "--tenant applies to --stdio" in (
        tenant_without_stdio.stderr
    )


def test_secrets_set_stores_encrypted_and_never_prints(
    tenants: tuple[Path, str, str], tmp_path: Path
) -> None:
    config, _, _ = tenants
    value = "xoxb-very-secret-" + os.urandom(6).hex()
    stored = fastn(
        "secrets",
        "set",
        "--config",
        str(config),
        "acme",
        "slack",
        "token",
        stdin=value + "\n",
        cwd=tmp_path,
    )
    listed = fastn("secrets", "list", "--config", str(config), "acme", cwd=tmp_path)
    wrong = fastn(
        "secrets",
        "set",
        "--config",
        str(config),
        "acme",
        "github",
        "token",
        stdin="x",
        cwd=tmp_path,
    )
    assert stored.returncode == 0, stored.stderr
    assert listed.stdout.strip() == "slack: token"
    assert wrong.returncode == 1 and "no connection 'github'" in wrong.stderr
    for out in (stored, listed, wrong):
        assert value not in out.stdout + out.stderr
    files = [p for p in config.parent.rglob("*") if p.is_file() and p != config]
    assert files, "nothing was written"
    assert all(value.encode() not in p.read_bytes() for p in files)


def test_claude_config_prints_stdio_and_remote_entries(tenants: tuple[Path, str, str]) -> None:
    config, _, _ = tenants
    local = fastn("claude-config", "--tenant", "acme", "--config", str(config))
    remote = fastn("claude-config", "--tenant", "acme", "--url", "https://mcp.example.com/mcp")
    unknown = fastn("claude-config", "--tenant", "nobody", "--config", str(config))
    assert local.returncode == 0 and remote.returncode == 0, local.stderr + remote.stderr
    server = json.loads(local.stdout)["mcpServers"]["fastn-acme"]
    assert Path(server["command"]).name == "fastn-gen" and shutil.which(server["command"])
    assert server["args"][:4] == ["serve", "--stdio", "--tenant", "acme"]
    assert server["args"][server["args"].index("--config") + 1] == str(config.resolve())
    bridge = json.loads(remote.stdout)["mcpServers"]["fastn-acme"]
    assert bridge["command"] == "npx"
    assert bridge["args"][:3] == ["-y", "mcp-remote", "https://mcp.example.com/mcp"]
    assert bridge["env"]["FASTN_AUTH_HEADER"].startswith("Bearer ")
    assert unknown.returncode == 2 and "no tenant 'nobody'" in unknown.stderr


def test_cli_defaults_match_the_gateway() -> None:
    from fastn_gen import cli_gateway
    from fastn_gen.gateway import serve

    assert (cli_gateway.DEFAULT_HOST, cli_gateway.DEFAULT_PORT) == (
        serve.DEFAULT_HOST,
        serve.DEFAULT_PORT,
    )
