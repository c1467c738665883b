"""The result of one tool call against an upstream, and how responses become one."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from fastn_gen.gateway.http_pool import UpstreamResponse
from fastn_gen.gateway.redact import MIN_VALUE_IN_DATA, Redactor

MESSAGE_LIMIT = 500

# ``ToolOutcome.error`` values: a short, stable category for logs and metrics.
ERR_ARGUMENTS = "invalid_arguments"
ERR_CREDENTIALS = "credentials"
ERR_OAUTH = "oauth_refresh"
ERR_TIMEOUT = "timeout"
ERR_CONNECT = "connect"
ERR_TRANSPORT = "transport"
ERR_TOO_LARGE = "response_too_large"
ERR_REDIRECT = "redirect"
ERR_HTTP = "http_status"
ERR_EGRESS = "egress_refused"  # a destination the connector may not reach
ERR_UPSTREAM = "upstream_error"  # HTTP 200 with the API's own failure flag (Slack ok=false)


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    is_error: bool
    text: str
    structured: dict[str, Any] | None
    upstream_status: int | None
    latency_ms: float
    error: str | None = None
    # Seconds the upstream asked us to wait (``Retry-After`` of a 429 or 503).
    retry_after: float | None = None


def parse_json(body: bytes) -> tuple[bool, Any]:
    """(True, value) when ``body`` is JSON, else (False, None)."""
    if not body.strip():
        return False, None
    try:
        return True, json.loads(body)
    except ValueError:
        return False, None


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        nested = message_from_json(value)
        if nested:
            return nested
        return "; ".join(f"{k}: {_render(v)}" for k, v in value.items() if _render(v))
    if isinstance(value, list):
        return "; ".join(r for r in (_render(v) for v in value) if r)
    if value is None:
        return ""
    return json.dumps(value)


def message_from_json(doc: Any) -> str:
    """The error message an API put in its JSON error body, if any.

    Looks at ``message``, ``error`` (a string, or an object holding a message as
    Stripe sends), ``error_description`` (OAuth), ``errors`` (Shopify's string or
    field → messages object, GitHub's list) and ``detail`` (RFC 9457 problem details).
    """
    if not isinstance(doc, dict):
        return ""
    parts: list[str] = []
    for key in ("error", "message", "error_description", "errors", "detail"):
        if key not in doc:
            continue
        text = _render(doc[key])
        if text and text not in parts:
            parts.append(text)
    return ": ".join(parts)


def upstream_message(response: UpstreamResponse) -> str:
    """The upstream's own explanation: from its JSON error fields, else the body text."""
    ok, doc = parse_json(response.body)
    text = message_from_json(doc) if ok else ""
    if not text:
        text = " ".join(response.body.decode("utf-8", "replace").split())
    if len(text) > MESSAGE_LIMIT:
        text = text[:MESSAGE_LIMIT] + "…"
    return text


def success_outcome(
    response: UpstreamResponse,
    latency_ms: float,
    *,
    ok_field: str | None,
    error_field: str | None,
    describe: str,
    redact: Callable[[str], str],
) -> ToolOutcome:
    """A 2xx response: the body as text, parsed JSON as structured content."""
    is_json, doc = parse_json(response.body)
    if is_json:
        if ok_field is not None and isinstance(doc, dict) and doc.get(ok_field) is False:
            detail = doc.get(error_field or "error")
            message = _render(detail) if detail is not None else "no error given"
            return ToolOutcome(
                is_error=True,
                text=redact(f"Upstream error from {describe}: {ok_field}=false: {message}"),
                structured=None,
                upstream_status=response.status,
                latency_ms=latency_ms,
                error=ERR_UPSTREAM,
            )
        structured = doc if isinstance(doc, dict) else {"result": doc}
        return ToolOutcome(
            is_error=False,
            text=json.dumps(doc, ensure_ascii=False),
            structured=structured,
            upstream_status=response.status,
            latency_ms=latency_ms,
        )
    if not response.body:
        text = f"HTTP {response.status} {response.reason} (no content)".strip()
    else:
        text = response.body.decode("utf-8", "replace")
    return ToolOutcome(False, text, None, response.status, latency_ms)


def error_outcome(
    text: str, kind: str, latency_ms: float, status: int | None = None
) -> ToolOutcome:
    return ToolOutcome(
        is_error=True,
        text=text,
        structured=None,
        upstream_status=status,
        latency_ms=latency_ms,
        error=kind,
    )


def scrub_outcome(outcome: ToolOutcome, redact: Redactor) -> ToolOutcome:
    """A successful outcome without the call's own credential values: an upstream that
    echoes the request (debug endpoints, some error-free 200 answers) must not hand the
    tenant's credential to the client."""
    if not any(len(s) >= MIN_VALUE_IN_DATA and s in outcome.text for s in redact.secrets):
        return outcome
    structured = redact.scrub(outcome.structured) if outcome.structured is not None else None
    return replace(outcome, text=redact.values_only(outcome.text), structured=structured)
