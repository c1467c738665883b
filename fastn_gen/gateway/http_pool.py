"""Pooled upstream HTTP clients, one per origin, shared by every tenant.

Because a client is shared, nothing tenant-specific may live in it: no default
credential headers, and no cookie jar (a ``Set-Cookie`` from one tenant's call would
otherwise ride along on the next tenant's request to the same host). Redirects are not
followed: a 3xx could point a credential-bearing request at another host.
``trust_env`` is off by default so ``.netrc`` and proxy variables cannot add
credentials or reroute traffic behind the operator's back.
"""

from __future__ import annotations

from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from fastn_gen import __version__
from fastn_gen.gateway.request_builder import PreparedRequest

USER_AGENT = f"fastn-gen/{__version__}"


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


class ResponseTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"response larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    reason: str
    headers: httpx.Headers
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
        self._clients: dict[tuple[str, str, int | None], httpx.AsyncClient] = {}

    def client_for(self, url: httpx.URL) -> httpx.AsyncClient:
        origin = (url.scheme, url.host, url.port)
        client = self._clients.get(origin)
        if client is None:
            o = self.options
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(
                    connect=o.connect_timeout,
                    read=o.read_timeout,
                    write=o.write_timeout,
                    pool=o.pool_timeout,
                ),
                limits=httpx.Limits(
                    max_connections=o.max_connections,
                    max_keepalive_connections=o.max_keepalive_connections,
                    keepalive_expiry=o.keepalive_expiry,
                ),
                follow_redirects=False,
                trust_env=o.trust_env,
                cookies=_no_cookies(),
                headers={"User-Agent": USER_AGENT},
            )
            self._clients[origin] = client
        return client

    async def send(self, prepared: PreparedRequest) -> UpstreamResponse:
        """Send ``prepared``; raises httpx errors or :class:`ResponseTooLarge`."""
        url = httpx.URL(prepared.url)
        client = self.client_for(url)
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

    async def _read(self, response: httpx.Response) -> bytes:
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
