"""One gateway for the entity-search suites (each test uses its own tenant where counts matter)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cdm.deployment import CdmDeployment


@pytest.fixture(scope="session")
def cdm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CdmDeployment]:
    dep = CdmDeployment.start(tmp_path_factory.mktemp("cdm-gateway"))
    try:
        yield dep
    finally:
        dep.stop()
