"""The wheel, installed in a clean virtual environment, runs outside the repository:
``fastn-gen init && fastn-gen build && fastn-gen serve`` in an empty folder, and the
official client lists the tools.

Building and installing takes a minute or more (dependencies come through pip's
cache), so the suite is marked slow; CI runs it with the slow suites.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "fastn_gen", "templates")
KEY = re.compile(r"^  (fgk_[a-f0-9]{12}_\S+)$", re.M)
LISTENING = re.compile(r"listening on http://(\S+?)/mcp")

pytestmark = pytest.mark.slow


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with only the built wheel (and its dependencies)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    dist = root / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), "."], source)
    (wheel,) = dist.glob("fastn_gen-*.whl")
    env_dir = root / "venv"
    run([sys.executable, "-m", "venv", str(env_dir)], root)
    run([str(env_dir / "bin" / "pip"), "install", "-q", str(wheel)], root)
    return env_dir


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def project(tmp_path: Path) -> Path:
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty


def test_installed_package_is_the_wheel_and_carries_its_templates(venv: Path) -> None:
    python = str(venv / "bin" / "python")
    out = run(
        [python, "-c", "import fastn_gen.codegen.emit as e, fastn_gen.admin.app as a; "
         "print(e.DEFAULT_TEMPLATES); print(a.__file__)"],
        venv.parent,
        clean_env(),
    )  # fmt: skip
    templates, admin = out.split()
    assert templates.startswith(str(venv)) and templates.endswith("fastn_gen/templates")
    assert admin.startswith(str(venv))
    assert sorted(p.name for p in Path(templates).glob("*.jinja")) == sorted(
        p.name for p in (REPO / "templates").glob("*.jinja")
    )


def test_installed_package_carries_the_license(venv: Path) -> None:
    (dist_info,) = venv.glob("lib/python*/site-packages/fastn_gen-*.dist-info")
    metadata = (dist_info / "METADATA").read_text(encoding="utf-8")
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
    shipped = (dist_info / "licenses" / "LICENSE").read_text(encoding="utf-8")
    assert shipped == (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in shipped and "Version 2.0, January 2004" in shipped


def test_init_build_serve_in_an_empty_folder(venv: Path, project: Path) -> None:
    fastn = str(venv / "bin" / "fastn-gen")
    env = clean_env()
    key = KEY.findall(run([fastn, "init"], project, env))[0]
    run([fastn, "build"], project, env)
    run([fastn, "build", "--check", "--quiet"], project, env)
    log_path = project / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [fastn, "serve", "--port", "0"], cwd=project, env=env, stdout=log, stderr=log
        )
    try:
        authority = wait_listening(log_path, proc)
        names = anyio.run(list_tools, f"http://{authority}/mcp", key)
        assert {"github_get_authenticated_user", "github_list_my_repos", "github_get_repo"} <= set(
            names
        )
        assert "fastn_list_integrations" in names
        assert get(f"http://{authority}/metrics")[0] == 200
        # The admin console renders from the installed templates (off: no admin key yet).
        status, body = get(f"http://{authority}/admin/")
        assert status == 404 and "The admin console is off" in body
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def wait_listening(log_path: Path, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        found = LISTENING.search(text)
        if found and get(f"http://{found.group(1)}/healthz")[0] == 200:
            return found.group(1)
        assert proc.poll() is None, text
        time.sleep(0.1)
    raise AssertionError(log_path.read_text(encoding="utf-8"))


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


async def list_tools(url: str, key: str) -> list[str]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            return [tool.name for tool in (await client.list_tools()).tools]
