"""``fastn-gen doctor`` on a real project: built connectors, a tenants file, the
secrets file, DNS and the store (SQLite, and PostgreSQL on 127.0.0.1:5432)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fastn_gen.cli import main

LOCAL = """name: local
title: Local
base_url: http://127.0.0.1:9/api
auth: {type: bearer}
tools:
  - name: ping
    description: Ping.
    method: GET
    path: /ping
"""
# .invalid never resolves (RFC 6761).
NOWHERE = """name: nowhere
title: Nowhere
base_url: https://api.fastn-doctor.invalid/v1
auth: {type: none}
tools:
  - name: ping
    description: Ping.
    method: GET
    path: /ping
"""
TENANTS = """version: 1
data_dir: state
tenants:
  - id: one
    connections:
      - connector: local
        credentials: {token: "${DOCTOR_TOKEN}"}
%(nowhere)s  - id: two
    api_keys: [{id: two-key, hash: "sha256$c2FsdHNhbHRzYWx0$%(digest)s"}]
    connections:
      - connector: local
        credentials: {token: "secret:token"}
"""
NOWHERE_CONNECTION = "      - connector: nowhere\n"
TOKEN = "doctor-token-value-0123456789"


def tenants(nowhere: bool) -> str:
    return TENANTS % {
        "nowhere": NOWHERE_CONNECTION if nowhere else "",
        "digest": "A" * 43,
    }


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "connectors.d").mkdir()
    (tmp_path / "connectors.d" / "local.yaml").write_text(LOCAL, encoding="utf-8")
    (tmp_path / "connectors.d" / "nowhere.yaml").write_text(NOWHERE, encoding="utf-8")
    (tmp_path / "tenants.yaml").write_text(tenants(nowhere=True), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DOCTOR_TOKEN", raising=False)
    monkeypatch.delenv("FASTN_STORE_URL", raising=False)
    built = CliRunner().invoke(main, ["build", "--quiet"])
    assert built.exit_code == 0, built.output
    return tmp_path


def doctor(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["doctor", "--dns-timeout", "10", *args], env=env)


def report(result: Result) -> dict[str, dict[str, object]]:
    doc = json.loads(result.output)
    return {check["check"]: check for check in doc["checks"]}


def test_missing_credentials_and_unresolvable_hosts_fail(project: Path) -> None:
    result = doctor("--json")
    assert result.exit_code == 1, result.output
    checks = report(result)
    assert checks["generated code"]["status"] == "ok"
    assert checks["tenants file"]["status"] == "warn"  # tenant one has no API key
    messages = [f["message"] for f in checks["credentials"]["findings"]]  # type: ignore[union-attr]
    assert any("one/local token (${DOCTOR_TOKEN})" in m and "not set" in m for m in messages)
    assert any("two/local token (secret:token)" in m and "not stored" in m for m in messages)
    dns = {f["message"].split(":")[0]: f["status"] for f in checks["upstream DNS"]["findings"]}  # type: ignore[union-attr,index]
    assert dns["api.fastn-doctor.invalid"] == "fail"
    assert dns["127.0.0.1 resolves (one/local, two/local)"] == "ok"
    assert checks["store"]["status"] == "ok"
    assert not (project / "state").exists(), "doctor creates nothing"


def test_a_ready_project_passes_and_names_no_value(project: Path) -> None:
    (project / "tenants.yaml").write_text(tenants(nowhere=False), encoding="utf-8")
    stored = CliRunner().invoke(
        main, ["secrets", "set", "two", "local", "token"], input=TOKEN + "\n"
    )
    assert stored.exit_code == 0, stored.output
    result = doctor(env={"DOCTOR_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert "ready to serve: 0 failed" in result.output
    assert "one/local token (${DOCTOR_TOKEN}): set" in result.output
    assert "two/local token (secret:token): stored" in result.output
    assert TOKEN not in result.output


def test_stale_generated_code_fails(project: Path) -> None:
    spec = project / "connectors.d" / "local.yaml"
    spec.write_text(LOCAL.replace("description: Ping.", "description: Ping it."), "utf-8")
    result = doctor(env={"DOCTOR_TOKEN": TOKEN})
    assert result.exit_code == 1
    assert "stale, run `fastn-gen build`" in result.output
    assert "generated/manifest.json" in result.output


def test_a_broken_tenants_file_fails_with_its_problems(project: Path) -> None:
    broken = tenants(nowhere=False).replace(
        'connector: local\n        credentials: {token: "secret',
        'connector: salesforce\n        credentials: {token: "secret',
    )
    (project / "tenants.yaml").write_text(broken, encoding="utf-8")
    result = doctor("--json")
    assert result.exit_code == 1
    findings = report(result)["tenants file"]["findings"]
    assert any("unknown connector 'salesforce'" in f["message"] for f in findings)  # type: ignore[union-attr,index]


def test_postgresql_store_reachable_and_unreachable(project: Path) -> None:
    env = {"DOCTOR_TOKEN": TOKEN}
    up = doctor("--json", "--store", "postgresql://postgres@127.0.0.1:5432/test", env=env)
    assert report(up)["store"]["findings"] == [
        {"status": "ok", "message": "postgresql://postgres@127.0.0.1:5432/test: PostgreSQL answers"}
    ]
    down = doctor("--json", "--store", "postgresql://postgres:pw@127.0.0.1:1/test", env=env)
    (finding,) = report(down)["store"]["findings"]  # type: ignore[misc]
    assert finding["status"] == "fail" and "cannot connect" in finding["message"]
    assert ":pw@" not in down.output  # the password is never shown
    assert down.exit_code == 1


def test_an_existing_sqlite_store_is_opened_read_only(project: Path) -> None:
    import sqlite3

    (project / "state").mkdir()
    sqlite3.connect(project / "state" / "fastn.db").close()
    result = doctor("--json", env={"DOCTOR_TOKEN": TOKEN})
    (finding,) = report(result)["store"]["findings"]  # type: ignore[misc]
    assert finding == {"status": "ok", "message": f"{project}/state/fastn.db: SQLite file readable"}
