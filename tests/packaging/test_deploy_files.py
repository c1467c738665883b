"""The Dockerfile and compose.yaml agree with the CLI and with the repository.

The image itself is not built here (its base image comes from a registry this suite
does not reach); these checks catch the drift that breaks it: options renamed, files
moved, the health check or the non-root user dropped.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import click
import pytest
import yaml

from fastn_gen.cli import main

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
INTERPOLATION = re.compile(r"\$\{([A-Z_]+)(?::?[-?]([^}]*))?\}")


def instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(DOCKERFILE)
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def serve_params(args: list[str], env: dict[str, str] | None = None) -> dict[str, object]:
    """Parse ``fastn-gen serve ARGS`` as the CLI would, without running it."""
    serve = main.get_command(click.Context(main), "serve")
    assert serve is not None
    ctx = serve.make_context("serve", list(args), default_map=None)
    return dict(ctx.params)


def test_image_is_multi_stage_and_runs_as_a_user() -> None:
    steps = instructions(DOCKERFILE)
    assert sum(word == "FROM" for word, _ in steps) >= 2
    final = final_stage()
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert not any(word == "RUN" and "pip wheel" in rest for word, rest in final)


def test_health_check_asks_healthz() -> None:
    (check,) = [rest for word, rest in final_stage() if word == "HEALTHCHECK"]
    assert "/healthz" in check and "127.0.0.1:8000" in check


def test_entrypoint_and_command_are_a_valid_serve_invocation() -> None:
    final = dict(final_stage())
    assert json.loads(final["ENTRYPOINT"]) == ["fastn-gen", "serve"]
    params = serve_params(json.loads(final["CMD"]))
    assert params["host"] == "0.0.0.0" and params["port"] == 8000
    assert params["log_format"] == "json"
    assert str(params["generated_dir"]) == "/opt/generated"


def copied_sources() -> list[str]:
    """Every source path of the Dockerfile's COPY steps (the last word is the target)."""
    sources = []
    for word, rest in instructions(DOCKERFILE):
        if word == "COPY" and not rest.startswith("--from"):
            sources.extend(rest.split()[:-1])
    return sources


def test_copied_sources_exist_and_pass_the_dockerignore() -> None:
    sources = copied_sources()
    allowed = {
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    for source in sources:
        assert (REPO / source).exists(), source
        assert source.rstrip("/") in allowed, f"{source} is excluded by .dockerignore"


def test_image_build_copies_the_license_files_the_wheel_declares() -> None:
    # setuptools refuses to build the wheel when a declared license file is missing.
    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    license_files = declared["project"]["license-files"]
    assert license_files and set(license_files) <= set(copied_sources())


def _interpolate(value: str) -> str:
    return INTERPOLATION.sub(lambda m: m.group(2) or "placeholder", value)


def test_compose_runs_replicas_on_postgresql() -> None:
    services = COMPOSE["services"]
    gateway, postgres = services["gateway"], services["postgres"]
    assert gateway["deploy"]["replicas"] >= 2
    assert gateway["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    env = gateway["environment"]
    assert env["FASTN_STORE_URL"].startswith("postgresql://")
    assert {"FASTN_SECRETS_KEY", "FASTN_DIGEST_KEY", "FASTN_ADMIN_KEY_HASH"} <= set(env)
    mounts = [v.split(":")[1] for v in gateway["volumes"]]
    assert "/etc/fastn/tenants.yaml" in mounts and "/var/lib/fastn" in mounts


def test_compose_command_is_a_valid_serve_invocation() -> None:
    command = [_interpolate(str(word)) for word in COMPOSE["services"]["gateway"]["command"]]
    params = serve_params(command)
    assert params["metrics_access"] == "admin"
    assert "localhost" in params["allowed_hosts"]  # type: ignore[operator]


@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_admin_key_hash_variable_means_none(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # compose passes FASTN_ADMIN_KEY_HASH empty when no admin key is configured.
    monkeypatch.setenv("FASTN_ADMIN_KEY_HASH", value)
    assert serve_params([])["admin_key_hashes"] == ()
