"""``fastn-gen init`` scaffolds a project that builds and whose key authenticates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from fastn_gen.cli import main
from fastn_gen.gateway.tenancy import TenantRegistry

KEY = re.compile(r"^  (fgk_[a-f0-9]{12}_\S+)$", re.M)


def test_init_writes_a_project_that_builds_and_authenticates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "gw"
    result = CliRunner().invoke(main, ["init", str(target), "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    (key,) = KEY.findall(result.output)
    made = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert made == [".gitignore", "Makefile", "connectors.d/github.yaml", "tenants.yaml"]
    tenants_text = (target / "tenants.yaml").read_text(encoding="utf-8")
    assert key not in tenants_text and "scrypt$" in tenants_text
    assert "build:" in (target / "Makefile").read_text(encoding="utf-8")

    monkeypatch.chdir(target)
    built = CliRunner().invoke(main, ["build", "--quiet"])
    assert built.exit_code == 0, built.output
    assert (target / "generated" / "manifest.json").is_file()
    registry = TenantRegistry.load(target / "tenants.yaml", environ={})
    tenant = registry.authenticate(key)
    assert tenant is not None and tenant.id == "acme"
    assert tenant.connected_connectors() == ["github"]


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "tenants.yaml").write_text("mine\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 1
    assert "not overwriting existing files" in result.output
    assert (tmp_path / "tenants.yaml").read_text(encoding="utf-8") == "mine\n"
    assert not (tmp_path / "connectors.d").exists()


def test_init_refuses_a_bad_tenant_id(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path), "--tenant", "Bad Id"])
    assert result.exit_code == 2
    assert not (tmp_path / "tenants.yaml").exists()


def test_admin_new_key_prints_a_key_whose_entry_verifies() -> None:
    import yaml

    from fastn_gen.admin.config import AdminModel
    from fastn_gen.admin.keys import AdminKeys

    result = CliRunner().invoke(main, ["admin", "new-key"])
    assert result.exit_code == 0
    key = result.output.splitlines()[1].strip()
    block = yaml.safe_load(result.output.split("Add to the tenants file:\n", 1)[1])
    model = AdminModel.model_validate(block["admin"])
    keys = AdminKeys.from_hashes((k.id, k.hash) for k in model.api_keys)
    assert keys.verify(key) and not keys.verify(key + "x")


def test_shell_completion_script_and_answers() -> None:
    import os
    import subprocess
    import sys

    entry = "from fastn_gen.cli import main; main(prog_name='fastn-gen')"
    env = dict(os.environ, _FASTN_GEN_COMPLETE="bash_source")
    script = subprocess.run(
        [sys.executable, "-c", entry], env=env, capture_output=True, text=True, timeout=60
    )
    assert script.returncode == 0 and "_fastn_gen_completion" in script.stdout
    env = dict(
        os.environ, _FASTN_GEN_COMPLETE="bash_complete", COMP_WORDS="fastn-gen do", COMP_CWORD="1"
    )
    answer = subprocess.run(
        [sys.executable, "-c", entry], env=env, capture_output=True, text=True, timeout=60
    )
    assert answer.stdout.split() == ["plain,doctor"]
