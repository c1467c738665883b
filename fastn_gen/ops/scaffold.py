"""``fastn-gen init``: a new gateway project in a folder.

Writes a sample connector in ``connectors.d/``, a ``tenants.yaml`` with one tenant
whose API key is generated here and shown once (the file holds only its hash), a
``Makefile`` with the everyday targets and a ``.gitignore`` for the state folder.
Existing files are never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastn_gen.gateway.apikeys import generate_api_key

SAMPLE_CONNECTOR = """\
# A sample connector in the native format (docs: connector-format.md of fastn-gen).
# Tenants connect with a GitHub token; every tool call uses the tenant's own token.
name: github
title: GitHub
description: Look up the signed-in GitHub user and their repositories.
base_url: https://api.github.com
auth:
  type: bearer
health_check: get_authenticated_user

tools:
  - name: get_authenticated_user
    title: Get the signed-in user
    description: The user the token belongs to (GET /user).
    method: GET
    path: /user

  - name: list_my_repos
    title: List my repositories
    description: Repositories the signed-in user can access, most recently updated first.
    method: GET
    path: /user/repos
    parameters:
      - name: per_page
        in: query
        type: integer
        description: Results per page (at most 100).
      - name: page
        in: query
        type: integer
        description: Page number, from 1.
      - name: sort
        in: query
        enum: [created, updated, pushed, full_name]
        description: Sort order.

  - name: get_repo
    title: Get a repository
    description: One repository by owner and name.
    method: GET
    path: /repos/{owner}/{repo}
    parameters:
      - name: owner
        in: path
        description: The account that owns the repository.
      - name: repo
        in: path
        description: The repository name, without .git.
"""

TENANTS = """\
# Tenants of this gateway (docs: tenants.md of fastn-gen). API keys are stored only as
# salted hashes: `fastn-gen keys new --tenant ID` makes another one.
version: 1
data_dir: .fastn
plans:
  default:
    tool_calls_per_month: 10000
    requests_per_minute: 120
tenants:
  - id: {tenant}
    display_name: {tenant}
    api_keys:
      {key_line}
    connections:
      - connector: github
        credentials:
          token: ${{GITHUB_TOKEN}}
"""

MAKEFILE = """\
# Everyday commands of this gateway project.
FASTN ?= fastn-gen

.PHONY: build check serve doctor

## Turn connectors.d into generated/ (typed tool modules and manifest.json)
build:
\t$(FASTN) build

## Fail naming stale files when generated/ does not match connectors.d
check:
\t$(FASTN) build --check --quiet

## Serve the tenants on http://127.0.0.1:8000/mcp
serve: build
\t$(FASTN) serve --config tenants.yaml

## Check the configuration, credentials, upstream DNS and the store
doctor:
\t$(FASTN) doctor --config tenants.yaml
"""

GITIGNORE = """\
# Gateway state: the embedded store, the secrets file and its key.
.fastn/
"""


class ScaffoldError(Exception):
    """The folder already holds files ``init`` would write."""


@dataclass(frozen=True, slots=True)
class Scaffold:
    root: Path
    files: tuple[Path, ...]
    tenant: str
    api_key: str  # shown once, stored nowhere


def planned_files(root: Path) -> dict[Path, str]:
    return {
        root / "connectors.d" / "github.yaml": SAMPLE_CONNECTOR,
        root / "tenants.yaml": "",  # rendered with the key
        root / "Makefile": MAKEFILE,
        root / ".gitignore": GITIGNORE,
    }


def scaffold(root: Path, tenant: str = "demo") -> Scaffold:
    files = planned_files(root)
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise ScaffoldError(f"not overwriting existing files: {', '.join(existing)}")
    key, line = generate_api_key(tenant)
    files[root / "tenants.yaml"] = TENANTS.format(tenant=tenant, key_line=line)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Scaffold(root, tuple(files), tenant, key)
