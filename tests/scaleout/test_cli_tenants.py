"""``fastn-gen tenants ...`` on a SQLite store: import, add, connect, list, revoke."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fastn_gen.cli import main
from fastn_gen.gateway.store_registry import StoreTenantRegistry
from fastn_gen.gateway.tenancy import TenantRegistry
from fastn_gen.gateway.tenants_admin import import_file
from fastn_gen.gateway.toolsets import ToolFacts
from fastn_gen.store.records import EventQuery
from fastn_gen.store.sqlite import SQLiteStore
from tests.gateway.fixtures.gateway_process import GENERATED_MIN
from tests.gateway.fixtures.tenants_setup import write_tenants

PLANS = """version: 1
tenants_from: store
plans:
  pro: {}
  free: {max_connections: 1}
tenants: []
"""


@pytest.fixture
def where(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "plans.yaml"
    config.write_text(PLANS, encoding="utf-8")
    return config, tmp_path / "store.db"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["tenants", *args], catch_exceptions=False)
    return result.exit_code, result.output


def common(where: tuple[Path, Path]) -> list[str]:
    return ["--config", str(where[0]), "--store", str(where[1])]


def test_import_copies_hashes_and_connections_and_keys_still_authenticate(
    tmp_path: Path, where: tuple[Path, Path]
) -> None:
    source = tmp_path / "tenants.yaml"
    keys = write_tenants(source)
    code, out = run(
        "import", str(source), "--store", str(where[1]), "--generated", str(GENERATED_MIN)
    )
    assert code == 0, out
    assert "3 tenant(s): 3 new" in out and "3 key(s) added" in out
    code, again = run(
        "import", str(source), "--store", str(where[1]), "--generated", str(GENERATED_MIN)
    )
    assert "0 new, 3 updated; 0 key(s) added" in again
    code, listed = run("list", "--json", *common(where))
    doc = json.loads(listed)
    assert doc["total"] == 3
    acme = next(t for t in doc["tenants"] if t["id"] == "acme")
    assert acme["connections"] == {"shopify": "shopify", "slack": "slack"}
    assert "scrypt" not in listed and keys.acme not in listed

    async def resolve() -> tuple[str | None, str | None]:
        base = TenantRegistry.from_text(PLANS.replace("free: {max_connections: 1}", "free: {}"))
        registry = StoreTenantRegistry(SQLiteStore(where[1]), base)
        await registry.start()
        try:
            a = await registry.resolve_key(keys.acme)
            b = await registry.resolve_key(keys.beta)  # a legacy key: found by scan
            return (a.id if a else None), (b.id if b else None)
        finally:
            await registry.aclose()

    assert asyncio.run(resolve()) == ("acme", "beta")


def test_add_connect_disconnect_with_checks_and_events(where: tuple[Path, Path]) -> None:
    code, out = run("add", "newco", "--plan", "free", *common(where))
    assert code == 0 and "fgk_" in out
    assert run("add", "newco", *common(where))[0] != 0  # exists already
    code, out = run("add", "other", "--plan", "gold", *common(where))
    assert code != 0 and "plan 'gold' is not defined" in out
    gen = ["--generated", str(GENERATED_MIN)]
    code, out = run(
        "connect", "newco", "slack", "--credential", "token=xoxb-literal", *common(where), *gen
    )
    assert code != 0 and "plaintext credential refused" in out and "xoxb-literal" not in out
    code, out = run("connect", "newco", "slak", *common(where), *gen)
    assert code != 0 and "unknown connector 'slak'" in out
    code, out = run(
        "connect", "newco", "slack", "--credential", "token=${NEWCO_SLACK}", *common(where), *gen
    )
    assert code == 0, out
    code, out = run(
        "connect", "newco", "shopify", "--credential", "api_key=${K}", "--variable", "shop=s",
        *common(where), *gen,
    )  # fmt: skip
    assert code != 0 and "allows 1 connection(s)" in out
    code, out = run("disconnect", "newco", "slack", *common(where))
    assert code == 0, out

    async def events() -> list[str]:
        async with SQLiteStore(where[1]) as store:
            page = await store.list_events("newco", EventQuery(type="connection_change"))
            return [e.detail["change"] for e in reversed(page.events)]

    assert asyncio.run(events()) == ["added", "removed"]


def test_revoke_key(where: tuple[Path, Path]) -> None:
    code, out = run("add", "acme", "--plan", "pro", *common(where))
    key_id = out.split("fgk_")[1].split("_")[0]
    assert run("revoke-key", "acme", key_id, *common(where))[0] == 0
    code, out = run("revoke-key", "acme", key_id, *common(where))
    assert code != 0 and "no unrevoked key" in out


def test_stdio_serves_a_tenant_of_the_store(where: tuple[Path, Path], tmp_path: Path) -> None:
    from mcp import Client, StdioServerParameters

    from tests.gateway.fixtures.gateway_process import gateway_env, stdio_command

    assert run("add", "acme", "--plan", "pro", *common(where))[0] == 0
    gen = ["--generated", str(GENERATED_MIN)]
    code, out = run("connect", "acme", "slack", "--credential", "token=${T}", *common(where), *gen)
    assert code == 0, out
    command, args = stdio_command(where[0], GENERATED_MIN, "acme")
    params = StdioServerParameters(
        command=command,
        args=[*args, "--store", str(where[1])],
        env=gateway_env({"FASTN_DATA_DIR": str(tmp_path / "data")}),
    )

    async def tools() -> list[str]:
        async with Client(params, read_timeout_seconds=30) as client:
            return [tool.name for tool in (await client.list_tools()).tools]

    assert {"slack_list_channels", "slack_send_message"} <= set(asyncio.run(tools()))


def _with_toolsets(source: Path, acme_key_id: str) -> None:
    text = source.read_text(encoding="utf-8")
    edits = {
        "    plan: pro\n": "    plan: pro\n    toolset: {connectors: [slack]}\n",
        f'{{id: "{acme_key_id}", ': f'{{id: "{acme_key_id}", toolset: {{access: read}}, ',
        "{id: beta-main, ": "{id: beta-main, toolset: {mode: search}, ",
    }
    for old, new in edits.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    source.write_text(text, encoding="utf-8")


def test_import_keeps_toolsets_and_the_store_serves_keys_narrowed(
    tmp_path: Path, where: tuple[Path, Path]
) -> None:
    source = tmp_path / "tenants.yaml"
    keys = write_tenants(source)
    acme_id = keys.acme.split("_")[1]
    _with_toolsets(source, acme_id)
    loaded = TenantRegistry.load(source)
    acme_file = loaded.authenticate(keys.acme)
    assert acme_file is not None and acme_file.toolset.mode == "all"
    code, out = run(
        "import", str(source), "--store", str(where[1]), "--generated", str(GENERATED_MIN)
    )
    assert code == 0, out

    now = [0.0]

    async def resolve() -> list[Any]:
        base = TenantRegistry.from_text(PLANS.replace("free: {max_connections: 1}", "free: {}"))
        registry = StoreTenantRegistry(SQLiteStore(where[1]), base, clock=lambda: now[0])
        await registry.start()
        try:
            found = [
                await registry.resolve_key(keys.acme),  # generated: found by id
                await registry.resolve_key(keys.beta),  # legacy: found by scan
                await registry.find("acme"),
            ]
            # Re-imported with another toolset for the same key: seen once the cached
            # verdict is checked again, without a new hash check.
            text = source.read_text(encoding="utf-8")
            source.write_text(text.replace("{access: read}", "{access: write}"), "utf-8")
            other = SQLiteStore(where[1])
            await other.open()
            try:
                await import_file(other, source, TenantRegistry.load(source))
            finally:
                await other.close()
            checks = registry.verifications
            now[0] += registry.ttl_s + 1
            found.append(await registry.resolve_key(keys.acme))
            found.append(registry.verifications - checks)
            return found
        finally:
            await registry.aclose()

    acme, beta, acme_tenant, edited, rechecked = asyncio.run(resolve())
    assert edited is not None and rechecked == 0
    assert edited.toolset.admits(ToolFacts("slack_send_message", "slack", (), False, False))
    assert acme is not None and beta is not None and acme_tenant is not None
    assert acme.toolset == acme_file.toolset  # the file's and the store's agree
    assert (acme.api_key_id, beta.api_key_id) == (acme_id, "beta-main")
    slack_read = ToolFacts("slack_list_channels", "slack", (), True, False)
    slack_write = ToolFacts("slack_send_message", "slack", (), False, False)
    shopify_read = ToolFacts("shopify_list_orders", "shopify", (), True, False)
    assert acme.toolset.admits(slack_read)
    assert not acme.toolset.admits(slack_write)  # the key's access: read
    assert not acme.toolset.admits(shopify_read)  # the tenant's connectors: [slack]
    assert acme_tenant.toolset.admits(slack_write) and acme_tenant.api_key_id is None
    assert beta.toolset.mode == "search" and beta.toolset.admits(slack_write)
