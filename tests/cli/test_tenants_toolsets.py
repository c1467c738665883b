"""``fastn-gen tenants set-toolset`` and ``--toolset`` of ``add`` / ``new-key``, on
SQLite and PostgreSQL: set, shown by ``list``, cleared, and refused as the tenants file
refuses (the field named, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fastn_gen.cli import main
from tests.gateway.fixtures.gateway_process import GENERATED_MIN
from tests.store.conftest import Backend, backend, pg_schema_prefix

__all__ = ["backend", "pg_schema_prefix"]

PLANS = "version: 1\ntenants_from: store\nplans:\n  pro: {}\ntenants: []\n"


@pytest.fixture
def cli(backend: Backend, tmp_path: Path) -> Any:
    config = tmp_path / "plans.yaml"
    config.write_text(PLANS, encoding="utf-8")

    def run(*args: str) -> tuple[int, str]:
        extra = ["--config", str(config), "--store", backend.url]
        if args[0] == "connect":
            extra += ["--generated", str(GENERATED_MIN)]
        result = CliRunner().invoke(main, ["tenants", *args, *extra], catch_exceptions=False)
        return result.exit_code, result.output

    return run


def listed(cli: Any) -> dict[str, Any]:
    code, out = cli("list", "--json")
    assert code == 0, out
    found: dict[str, Any] = {t["id"]: t for t in json.loads(out)["tenants"]}
    return found


def made_key(cli: Any, *args: str) -> str:
    code, out = cli("new-key", "acme", *args)
    assert code == 0, out
    return str(out.split("API key ")[1].split(" ")[0])


def acme(cli: Any) -> None:
    code, out = cli("add", "acme", "--plan", "pro", "--no-key")
    assert code == 0, out
    code, out = cli("connect", "acme", "slack", "--credential", "token=${T}")
    assert code == 0, out


def test_set_show_and_clear_a_tenants_and_a_keys_toolset(cli: Any, tmp_path: Path) -> None:
    acme(cli)
    kid = made_key(cli)
    code, out = cli("set-toolset", "acme", "--toolset", "{connectors: [slack], access: write}")
    assert code == 0 and "acme: toolset set" in out, out
    file = tmp_path / "key-toolset.yaml"
    file.write_text("access: read\nmode: search\n", encoding="utf-8")
    code, out = cli("set-toolset", "acme", "--key", kid, "--toolset-file", str(file))
    assert code == 0 and f"key {kid} of acme: toolset set" in out, out
    shown = listed(cli)["acme"]
    assert shown["toolset"] == {"connectors": ["slack"], "access": "write"}
    assert shown["key_toolsets"] == {kid: {"access": "read", "mode": "search"}}
    code, out = cli("list")
    assert 'toolset: {"access":"write","connectors":["slack"]}' in out
    assert f'key {kid} toolset: {{"access":"read","mode":"search"}}' in out

    assert cli("set-toolset", "acme", "--key", kid, "--clear")[0] == 0
    assert cli("set-toolset", "acme", "--clear")[0] == 0
    shown = listed(cli)["acme"]
    assert shown["toolset"] is None and shown["key_toolsets"] == {}
    code, out = cli("list")
    assert "toolset" not in out


def test_add_and_new_key_take_a_toolset(cli: Any) -> None:
    code, out = cli("add", "acme", "--plan", "pro", "--toolset", '{"access": "read"}')
    assert code == 0 and "fgk_" in out, out
    kid = made_key(cli, "--toolset", "{mode: search, tags: [messaging]}")
    shown = listed(cli)["acme"]
    assert shown["toolset"] == {"access": "read"}
    assert shown["key_toolsets"] == {kid: {"mode": "search", "tags": ["messaging"]}}


@pytest.mark.parametrize(
    ("toolset", "field", "message"),
    [
        ("{access: rw}", "toolset/access", "Input should be 'read', 'write' or 'all'"),
        ("{acess: read}", "toolset/acess", "unknown field"),
        ("{connectors: [github]}", "toolset/connectors/0", "is not connected by tenant acme"),
        ("[slack]", "--toolset", "a toolset is a mapping"),
    ],
)
def test_an_invalid_toolset_is_refused_with_its_field_and_nothing_changes(
    cli: Any, toolset: str, field: str, message: str
) -> None:
    acme(cli)
    kid = made_key(cli)
    assert cli("set-toolset", "acme", "--toolset", "{access: write}")[0] == 0
    before = listed(cli)
    for args in (["acme"], ["acme", "--key", kid]):
        code, out = cli("set-toolset", *args, "--toolset", toolset)
        assert code != 0 and field in out and message in out, out
    code, out = cli("new-key", "acme", "--toolset", toolset)
    assert code != 0 and field in out and message in out, out
    code, out = cli("add", "other", "--toolset", toolset)
    assert code != 0 and field in out, out
    assert listed(cli) == before


def test_a_key_toolset_may_only_narrow_its_tenants(cli: Any) -> None:
    acme(cli)
    kid = made_key(cli, "--toolset", "{access: write}")
    assert cli("set-toolset", "acme", "--toolset", "{access: write, tags: [messaging]}")[0] == 0
    before = listed(cli)
    code, out = cli("set-toolset", "acme", "--key", kid, "--toolset", "{access: all}")
    assert code != 0, out
    assert f"key {kid}: toolset/access: access 'all' is wider than the tenant's ('write')" in out
    code, out = cli("set-toolset", "acme", "--key", kid, "--toolset", "{tags: [files]}")
    assert code != 0 and f"key {kid}: toolset/tags/0: 'files' is outside" in out, out
    code, out = cli("new-key", "acme", "--toolset", "{access: all}")
    assert code != 0 and "is wider than the tenant's" in out, out
    # Narrowing the tenant below its key's toolset is refused too, naming the key.
    code, out = cli("set-toolset", "acme", "--toolset", "{access: read}")
    assert code != 0 and f"key {kid}: toolset/access" in out, out
    assert listed(cli) == before
    # Within the tenant's toolset it is accepted.
    code, out = cli("set-toolset", "acme", "--key", kid, "--toolset", "{access: read}")
    assert code == 0, out


def test_set_toolset_needs_exactly_one_source_and_a_known_tenant_and_key(cli: Any) -> None:
    acme(cli)
    code, out = cli("set-toolset", "acme")
    assert code != 0 and "exactly one of" in out
    code, out = cli("set-toolset", "acme", "--clear", "--toolset", "{access: read}")
    assert code != 0 and "exactly one of" in out
    code, out = cli("set-toolset", "ghost", "--clear")
    assert code != 0 and "no tenant 'ghost'" in out
    code, out = cli("set-toolset", "acme", "--key", "nokey", "--clear")
    assert code != 0 and "no unrevoked key 'nokey'" in out
