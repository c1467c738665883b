"""An upstream that answers with what it received, unless told otherwise per path."""

from __future__ import annotations

from collections.abc import Callable

from tests.upstreams.server import LoopbackServer, RecordedRequest, Reply

Responder = Callable[[RecordedRequest], Reply | None]


class EchoUpstream(LoopbackServer):
    """Echoes each request as JSON; :meth:`on` installs a responder for one path."""

    def __init__(self) -> None:
        super().__init__()
        self._routes: dict[str, Responder] = {}

    @property
    def url(self) -> str:
        return self.origin

    def on(self, path: str, responder: Responder | Reply | None) -> None:
        """Answer requests for ``path`` (raw, without query) with ``responder``.

        A :class:`Reply` is sent as is; ``None`` drops the connection unanswered.
        """
        if responder is None or isinstance(responder, Reply):
            fixed = responder
            self._routes[path] = lambda _request: fixed
        else:
            self._routes[path] = responder

    def handle(self, request: RecordedRequest) -> Reply | None:
        route = self._routes.get(request.path)
        if route is not None:
            return route(request)
        return Reply.json(
            {
                "method": request.method,
                "raw_path": request.raw_path,
                "path": request.path,
                "query": request.query,
                "headers": request.headers,
                "body": request.body.decode("utf-8", "replace"),
            }
        )
