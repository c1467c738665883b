"""Fixtures shared by every suite: the loopback upstreams and the async backend."""

import pytest

pytest_plugins = ("tests.upstreams.fixtures",)


# The gateway runs on asyncio, so the async tests do too. Module scope, like anyio's own
# fixture, so module-scoped async fixtures may use it.
@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"
