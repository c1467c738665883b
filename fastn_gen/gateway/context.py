"""The tenant a request is served for.

It travels in a context variable, never in a global: the HTTP auth middleware sets it
for the one request it authenticated, and the SDK carries the sender's context along
with each message to the task that runs the handler (``mcp.shared._context_streams``),
the same way its own ``auth_context_var`` travels. The stdio server sets it once for
its single tenant.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from fastn_gen.gateway.tenancy import Tenant

_current_tenant: ContextVar[Tenant | None] = ContextVar("fastn_gen_tenant", default=None)


def current_tenant() -> Tenant | None:
    """The authenticated tenant of the request being served, if any."""
    return _current_tenant.get()


@contextmanager
def serving_tenant(tenant: Tenant) -> Iterator[None]:
    """Serve everything started inside this block as ``tenant``."""
    token = _current_tenant.set(tenant)
    try:
        yield
    finally:
        _current_tenant.reset(token)
