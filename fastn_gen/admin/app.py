"""The read-only admin console, mounted at ``/admin``.

Authentication is an admin key (:mod:`.keys`), sent as ``Authorization: Bearer`` by
scripts, or entered once in the login form, which stores it in an ``HttpOnly``,
``SameSite=Strict`` cookie scoped to ``/admin`` (``Secure`` over HTTPS). Every page is
a GET that changes nothing; the two POSTs only set or clear that cookie, and
``SameSite=Strict`` keeps the cookie off requests other sites start. Pages are
rendered on the server and run no script; the content security policy allows none.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from fastn_gen import __version__
from fastn_gen.admin import views
from fastn_gen.admin.keys import AdminKeys
from fastn_gen.gateway.auth import bearer_key
from fastn_gen.gateway.services import Services

if TYPE_CHECKING:
    import jinja2

COOKIE = "fastn_admin"
COOKIE_MAX_AGE_S = 8 * 3600
KEY_FIELD_LIMIT = 512
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it, browsers send "Origin: null" on the sign-in POST, which the
    # Origin check refuses.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Page = Callable[[Request], Awaitable[Response]]


def template_environment() -> jinja2.Environment:
    import jinja2  # only when the console is served

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("fastn_gen.admin", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["version"] = __version__
    return env


def _stylesheet() -> bytes:
    return resources.files("fastn_gen.admin").joinpath("static/admin.css").read_bytes()


class AdminConsole:
    def __init__(self, services: Services, keys: AdminKeys) -> None:
        self.services = services
        self.keys = keys
        self.css = _stylesheet()

    @functools.cached_property
    def env(self) -> jinja2.Environment:
        # On the first page served: most gateways never show one.
        return template_environment()

    # -- rendering and access -------------------------------------------------------------

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        html = self.env.get_template(name).render(
            base=request.scope.get("root_path", ""), **context
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    async def _authorized(self, request: Request) -> bool:
        authorization = request.headers.get("authorization")
        key = bearer_key(authorization) if authorization else request.cookies.get(COOKIE)
        if not key or len(key) > KEY_FIELD_LIMIT:
            return False
        # A generated key's first check runs scrypt (~50 ms): off the event loop.
        return await anyio.to_thread.run_sync(self.keys.verify, key)

    def guarded(self, page: Page) -> Page:
        async def run(request: Request) -> Response:
            if not self.keys.configured:
                return self.render(request, "disabled.html", status=404)
            if not await self._authorized(request):
                return self.render(request, "login.html", status=401, error=None)
            return await page(request)

        return run

    # -- login ----------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        if not self.keys.configured:
            return self.render(request, "disabled.html", status=404)
        form = await request.form(max_files=0, max_fields=4)
        key = form.get("key")
        if not isinstance(key, str) or len(key) > KEY_FIELD_LIMIT or not key.strip():
            return self.render(request, "login.html", status=401, error="Enter the admin key.")
        key = key.strip()
        if not await anyio.to_thread.run_sync(self.keys.verify, key):
            return self.render(request, "login.html", status=401, error="Unknown admin key.")
        root = request.scope.get("root_path", "")
        response = RedirectResponse(f"{root}/", status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(
            COOKIE,
            key,
            max_age=COOKIE_MAX_AGE_S,
            path=root or "/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(self, request: Request) -> Response:
        root = request.scope.get("root_path", "")
        response = RedirectResponse(f"{root}/", status_code=303, headers=SECURITY_HEADERS)
        response.delete_cookie(COOKIE, path=root or "/", httponly=True, samesite="strict")
        return response

    async def stylesheet(self, request: Request) -> Response:
        return Response(self.css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    # -- pages ----------------------------------------------------------------------------

    async def tenants(self, request: Request) -> Response:
        overviews = await views.all_overviews(self.services)
        return self.render(request, "tenants.html", overviews=overviews)

    async def tenant(self, request: Request) -> Response:
        tenant = self.services.registry.get(request.path_params["tenant_id"])
        if tenant is None:
            return self.render(request, "not_found.html", status=404, what="tenant")
        overview = await views.tenant_overview(self.services, tenant)
        filters = views.EventFilters(tenant=tenant.id, limit=20)
        events = await views.recent_events(self.services, filters)
        rows = [views.event_row(e) for e in events]
        return self.render(request, "tenant.html", o=overview, events=rows)

    async def events(self, request: Request) -> Response:
        filters = views.EventFilters.parse(dict(request.query_params))
        events = await views.recent_events(self.services, filters)
        return self.render(
            request,
            "events.html",
            filters=filters,
            events=[views.event_row(e) for e in events],
            tenant_ids=sorted(t.id for t in self.services.registry.tenants),
            event_types=views.EVENT_TYPES,
            statuses=views.EVENT_STATUSES,
        )


def admin_app(services: Services, keys: AdminKeys) -> Starlette:
    console = AdminConsole(services, keys)
    return Starlette(
        routes=[
            Route("/", console.guarded(console.tenants), methods=["GET"]),
            Route("/tenants/{tenant_id}", console.guarded(console.tenant), methods=["GET"]),
            Route("/events", console.guarded(console.events), methods=["GET"]),
            Route("/login", console.login, methods=["POST"]),
            Route("/logout", console.logout, methods=["POST"]),
            Route("/static/admin.css", console.stylesheet, methods=["GET"]),
        ]
    )
