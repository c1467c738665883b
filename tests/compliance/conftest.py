"""The compliance suite's gateway: the security deployment (API keys and OAuth tokens)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.deployment import SecurityDeployment


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecurityDeployment]:
    dep = SecurityDeployment.start(tmp_path_factory.mktemp("compliance-gateway"))
    try:
        yield dep
    finally:
        dep.stop()
