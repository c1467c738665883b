"""Log set-up for the gateway: plain text, or one JSON object per line.

Every record gets the request id and tenant of the request being served (``-`` when
there is none), whatever the format, so a JSON line can be joined with the
``X-Request-Id`` a client saw and the one an upstream received.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Literal

from fastn_gen.observability.request_id import current_request_id

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _current_tenant_id() -> str | None:
    # Imported late: the gateway package imports this module's siblings.
    from fastn_gen.gateway.context import current_tenant

    tenant = current_tenant()
    return tenant.id if tenant is not None else None


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` and ``tenant`` to every record passing the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        record.tenant = _current_tenant_id() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "request_id", "tenant"[, "exc"]}``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _present(getattr(record, "request_id", None)),
            "tenant": _present(getattr(record, "tenant", None)),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _present(value: object) -> object:
    return None if value in (None, "-") else value


def configure_logging(
    level: str, log_format: LogFormat = "text", stream: IO[str] | None = None
) -> None:
    """Replace the root handlers with one writing ``log_format`` to ``stream`` (stderr:
    on stdio, stdout is the protocol channel)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
