"""How tenants files are read: libyaml events, lines on demand, shared parts, the
forked check of large files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import yaml

from fastn_gen.gateway import forked, tenants_validation, tenants_yaml
from fastn_gen.gateway.apikeys import hash_api_key
from fastn_gen.gateway.tenancy import TenantConfigError, TenantRegistry

REPO = Path(__file__).resolve().parents[2]

DOCUMENT = """\
version: 1
plans:
  free: {tool_calls_per_month: 100}
  pro:
    requests_per_minute: 60
tenants:
  - id: acme
    plan: pro
    api_keys: [{id: k1, hash: '%(acme)s'}]
    connections:
      - connector: slack
        credentials: {token: '${SLACK_TOKEN}'}
  - id: globex
    plan: pro
    api_keys:
      - id: k2
        hash: '%(globex)s'
    connections:
      - {connector: slack, credentials: {token: '${SLACK_TOKEN}'}}
  - id: initech
    plan: free
    limits: {requests_per_minute: 5}
    connections: []
"""


def document() -> str:
    return DOCUMENT % {"acme": hash_api_key("acme-key"), "globex": hash_api_key("globex-key")}


@pytest.mark.parametrize(
    "text",
    [
        "base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  b: 3\ny:\n  <<: [*b, {a: 9, c: 4}]\n  d: 5\n",
        "a: 1\nb: 1.5\nc: true\nd: null\ne: ~\nf: 2024-01-01\ng: '1'\nh: 0x1F\ni: [yes, on]\n",
        "a: &x foo\nb: *x\nc: [*x, {k: *x}]\n",
        "s: !!set {a, b}\n",  # handed to safe_load
        "",
        "just text\n",
    ],
)
def test_values_are_what_safe_load_returns(text: str) -> None:
    assert tenants_yaml.load(text) == (yaml.safe_load(text), False)


def test_every_yaml_file_of_the_repository_reads_the_same() -> None:
    files = [p for p in REPO.glob("**/*.yaml") if ".venv" not in p.parts]
    assert len(files) > 5
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert tenants_yaml.load(text)[0] == yaml.safe_load(text), path


def test_duplicate_keys_are_noticed() -> None:
    assert tenants_yaml.load("a: 1\nb: {c: 1, c: 2}\n") == ({"a": 1, "b": {"c": 2}}, True)


def test_syntax_errors_keep_their_line() -> None:
    with pytest.raises(yaml.YAMLError) as caught:
        tenants_yaml.load("version: 1\ntenants:\n  - {id: a\n")
    mark = getattr(caught.value, "problem_mark", None)
    assert mark is not None and mark.line + 1 == 4


def mistakes(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "tenants.yaml"
    path.write_text(text)
    with pytest.raises(TenantConfigError) as caught:
        TenantRegistry.load(path, environ={})
    return [str(issue) for issue in caught.value.issues]


BROKEN = """\
version: 1
plans:
  pro: {}
tenants:
  - id: acme
    plan: pro
    api_keys:
      - id: k1
        hash: nonsense
  - id: globex
    plan: gold
    connections:
      - connector: slack
        credentials:
          token: plain-value
"""


def expected_broken() -> list[str]:
    return [
        "line 9: /tenants/0/api_keys/0/hash: " + mistakes_of_hash(),
        "line 11: /tenants/1/plan: plan 'gold' is not defined (plans: pro)",
        "line 15: /tenants/1/connections/0/credentials/token: plaintext credential refused: "
        "use ${ENV_VAR} or secret:<name>, or set allow_plaintext: true on the connection or "
        "tenant (not for production)",
    ]


def mistakes_of_hash() -> str:
    from fastn_gen.gateway.apikeys import KeyHashError, parse_key_hash

    with pytest.raises(KeyHashError) as caught:
        parse_key_hash("nonsense")
    return str(caught.value)


def test_validation_errors_carry_the_lines_of_the_fields(tmp_path: Path) -> None:
    assert mistakes(BROKEN, tmp_path) == expected_broken()


def test_large_files_are_checked_in_a_child_process_with_the_same_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tenants_validation, "FORK_ABOVE_BYTES", 0)
    # Idle worker threads left by earlier tests would keep the check in process.
    monkeypatch.setattr(forked.threading, "active_count", lambda: 1)
    children: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            children.append(pid)
        return pid

    monkeypatch.setattr(forked.os, "fork", fork)
    assert mistakes(BROKEN, tmp_path) == expected_broken()
    registry = TenantRegistry.from_text(document(), environ={"SLACK_TOKEN": "x"})
    acme = registry.authenticate("acme-key")
    assert acme is not None and acme.id == "acme"
    assert registry.get("initech") is not None
    # Shared parts stay shared through the child's pickle.
    globex = registry.get("globex")
    assert globex is not None and globex.limits is acme.limits
    assert len(children) == 2  # both loads were checked in a child


def test_no_child_is_forked_while_other_threads_run() -> None:
    """A live reload loads in a worker thread: forking then could leave the child
    waiting for good on a lock another thread held, so the work stays in process."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert forked.run_forked(os.getpid) == os.getpid()
    finally:
        stop.set()
        other.join()
    alone = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os; from fastn_gen.gateway.forked import run_forked; "
            "print(run_forked(os.getpid) != os.getpid())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert alone.stdout.strip() == "True"


def test_tenants_with_the_same_plan_share_limits_and_connections() -> None:
    registry = TenantRegistry.from_text(document(), environ={"SLACK_TOKEN": "x"})
    acme, globex, initech = (registry.get(t) for t in ("acme", "globex", "initech"))
    assert acme is not None and globex is not None and initech is not None
    assert acme.limits is globex.limits
    assert acme.limits.requests_per_minute == 60
    # A tenant's own overrides make its own limits.
    assert initech.limits is not acme.limits
    assert (initech.limits.tool_calls_per_month, initech.limits.requests_per_minute) == (100, 5)
    # The same connection (connector, credential references) is one object.
    assert acme.connections["slack"] is globex.connections["slack"]
    ref = acme.connections["slack"].credentials["token"]
    assert (ref.kind, ref.target) == ("env", "SLACK_TOKEN")


def test_a_file_with_many_tenants_loads(tmp_path: Path) -> None:
    lines = ["version: 1", "tenants:"]
    for i in range(2000):
        lines.append(
            f"  - {{id: t{i}, api_keys: [{{id: k{i}, hash: '{hash_api_key(f'key-{i}')}'}}], "
            "connections: [{connector: slack, credentials: {token: '${SLACK_TOKEN}'}}]}"
        )
    registry = TenantRegistry.from_text(
        textwrap.dedent("\n".join(lines)) + "\n", environ={"SLACK_TOKEN": "x"}
    )
    assert len(registry) == 2000
    first, last = registry.get("t0"), registry.get("t1999")
    assert first is not None and last is not None
    assert first.connections is last.connections
    found = registry.authenticate("key-1999")
    assert found is not None and found.id == "t1999"


def test_one_block_is_read_without_building_the_others() -> None:
    text = "version: 1\ntenants:\n  - {id: a, x: [1, {b: 2}]}\n  - id: b\nadmin:\n  api_keys: []\n"
    assert tenants_yaml.load_block(text, "admin") == {"api_keys": []}
    assert tenants_yaml.load_block(text, "oauth") is None
    assert tenants_yaml.load_block(text, "tenants") == yaml.safe_load(text)["tenants"]
    assert tenants_yaml.load_block("- a\n", "admin") is None


def test_settings_blocks_are_read_once_per_version_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text("version: 1\ntenants:\n  - {id: a}\nadmin: {api_keys: []}\noauth: null\n")
    assert tenants_yaml.settings_block(path, "admin") == {"api_keys": []}
    assert tenants_yaml.settings_block(path, "tenants") is None  # never built
    assert tenants_yaml.settings_block(path, "oauth") is None
    path.write_text("version: 1\ntenants: []\nadmin: {api_keys: [{id: x}]}\n")
    assert tenants_yaml.settings_block(path, "admin") == {"api_keys": [{"id": "x"}]}
