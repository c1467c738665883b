"""Pooled upstream HTTP clients, one per origin, shared by every tenant.

Because a client is shared, nothing tenant-specific may live in it: no default
credential headers, and no cookie jar (a ``Set-Cookie`` from one tenant's call would
otherwise ride along on the next tenant's request to the same host). Redirects are not
followed: a 3xx could point a credential-bearing request at another host.
``trust_env`` is off by default so ``.netrc`` and proxy variables cannot add
credentials or reroute traffic behind the operator's back.

With ``public_only`` (the gateway's setting) connections to private, loopback and
link-local addresses are refused unless the request's connector is ``self_hosted``
(:mod:`.egress`). Every request also has an overall deadline: per-read timeouts alone
let an upstream that drips one byte at a time hold a call forever.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import sys
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx2
from httpcore2._backends.auto import AutoBackend

from fastn_gen import __version__
from fastn_gen.gateway.egress import PublicOnlyTransport
from fastn_gen.gateway.redact import RedactingFilter
from fastn_gen.gateway.request_builder import PreparedRequest
from fastn_gen.gateway.upstream_streams import BackendTransport
from fastn_gen.observability.request_id import stamp_upstream_request

USER_AGENT = f"fastn-gen/{__version__}"

# httpx2 (upstream calls; httpx for the OAuth resource server's key fetches) logs each
# request's full URL, query string included; httpcore (at debug level) the upstream's
# response headers, which may echo a credential.
# Filters do not apply to child loggers, so each logger gets its own.
for _name in ("httpx", "httpx2") + tuple(
    f"{core}.{part}"
    for core in ("httpcore", "httpcore2")
    for part in ("connection", "http11", "http2")
):
    logging.getLogger(_name).addFilter(RedactingFilter())

# httpx's httpcore runs ``import sniffio`` several times per request to learn the async library.
# When sniffio is not installed (anyio no longer needs it), each failed import searches
# the whole of sys.path again: about 0.3 ms of CPU per upstream call (measured by
# bench/runtime). Recording the absence once makes those imports fail at once, as they
# would anyway; httpcore then assumes asyncio, which is what the gateway runs on.
# (httpcore2, which the upstream pool uses, imports it once.)
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class UpstreamOptions:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    write_timeout: float = 30.0
    pool_timeout: float = 5.0
    max_connections: int = 100
    max_keepalive_connections: int = 20
    keepalive_expiry: float = 30.0
    max_response_bytes: int = 10 * 1024 * 1024
    trust_env: bool = False
    # Refuse private destinations for connectors that are not self_hosted.
    public_only: bool = False
    # Whole request, connect to last byte; None: connect timeout + twice the read timeout.
    total_timeout: float | None = None

    @property
    def deadline(self) -> float:
        if self.total_timeout is not None:
            return self.total_timeout
        return self.connect_timeout + 2 * self.read_timeout


class TotalTimeout(httpx2.ReadTimeout):
    """The upstream kept the connection busy past the overall deadline."""


class ResponseTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"response larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    reason: str
    headers: httpx2.Headers
    body: bytes

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", ""))


def _no_cookies() -> CookieJar:
    # An empty allow-list: the policy accepts no cookie for any domain.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class ClientPool:
    def __init__(self, options: UpstreamOptions | None = None) -> None:
        self.options = options or UpstreamOptions()
        self._clients: dict[tuple[str, str, int | None, bool], httpx2.AsyncClient] = {}

    def client_for(self, url: httpx2.URL, private_ok: bool = False) -> httpx2.AsyncClient:
        o = self.options
        public_only = o.public_only and not private_ok
        origin = (url.scheme, url.host, url.port, public_only)
        client = self._clients.get(origin)
        if client is None:
            limits = httpx2.Limits(
                max_connections=o.max_connections,
                max_keepalive_connections=o.max_keepalive_connections,
                keepalive_expiry=o.keepalive_expiry,
            )
            client = httpx2.AsyncClient(
                timeout=httpx2.Timeout(
                    connect=o.connect_timeout,
                    read=o.read_timeout,
                    write=o.write_timeout,
                    pool=o.pool_timeout,
                ),
                limits=limits,
                transport=(
                    PublicOnlyTransport(limits=limits, trust_env=o.trust_env)
                    if public_only
                    else BackendTransport(
                        limits=limits, trust_env=o.trust_env, backend=AutoBackend()
                    )
                ),
                follow_redirects=False,
                trust_env=o.trust_env,
                cookies=_no_cookies(),
                headers={"User-Agent": USER_AGENT},
                # The request id (and trace context) of the request being served.
                event_hooks={"request": [stamp_upstream_request]},
            )
            self._clients[origin] = client
        return client

    async def send(self, prepared: PreparedRequest) -> UpstreamResponse:
        """Send ``prepared``; raises httpx2 errors or :class:`ResponseTooLarge`."""
        try:
            async with asyncio.timeout(self.options.deadline):
                return await self._send(prepared)
        except TimeoutError:
            raise TotalTimeout(f"no complete answer within {self.options.deadline:g} s") from None

    async def _send(self, prepared: PreparedRequest) -> UpstreamResponse:
        url = httpx2.URL(prepared.url)
        client = self.client_for(url, prepared.private_ok)
        request = client.build_request(
            prepared.method,
            url,
            params=list(prepared.query) or None,
            headers=list(prepared.headers),
            content=prepared.content,
            files=list(prepared.multipart) if prepared.multipart is not None else None,
        )
        response = await client.send(request, stream=True)
        try:
            body = await self._read(response)
        finally:
            await response.aclose()
        return UpstreamResponse(
            response.status_code, response.reason_phrase, response.headers, body
        )

    async def _read(self, response: httpx2.Response) -> bytes:
        limit = self.options.max_response_bytes
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ResponseTooLarge(limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
