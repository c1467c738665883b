"""One gateway for the native-tool suites (each test uses its own tenant's data)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.native.deployment import Deployment


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    dep = Deployment.start(tmp_path_factory.mktemp("native-gateway"))
    try:
        yield dep
    finally:
        dep.stop()
