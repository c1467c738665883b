"""One gateway with misbehaving upstreams for every security suite (see deployment.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.deployment import SecurityDeployment


@pytest.fixture(scope="session")
def security(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecurityDeployment]:
    dep = SecurityDeployment.start(tmp_path_factory.mktemp("security-gateway"))
    try:
        yield dep
    finally:
        dep.stop()
