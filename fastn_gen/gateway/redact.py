"""Remove secrets from text before it leaves the gateway (tool results, logs).

Two layers: the exact credential values of the call being served (in the raw,
percent-encoded and JSON-escaped forms an upstream may echo them in), and patterns
that look like credentials whatever their origin (bearer tokens, ``Authorization:``
echoes, vendor token formats, key-like query parameters, long random strings).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"

# Values shorter than this are not replaced verbatim: replacing every "ab" in a
# message would destroy it, and a credential that short protects nothing anyway.
MIN_SECRET_LENGTH = 4
# In successful results only longer values are replaced: a short value may be data.
MIN_VALUE_IN_DATA = 8

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "Authorization: Basic abc", "authorization=Bearer abc", "Proxy-Authorization: x"
    (
        re.compile(r"(?i)\b((?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,}]+"),
        r"\1" + REDACTED,
    ),
    # A scheme followed by something credential-shaped (a digit or token punctuation),
    # so prose such as "Basic authentication failed" survives.
    (
        re.compile(r"(?i)\b(bearer|basic)\s+(?=[A-Za-z]*[0-9\-._~+/=])[A-Za-z0-9\-._~+/]{6,}=*"),
        r"\1 " + REDACTED,
    ),
    # Credential-named JSON fields echoed back (token endpoint answers, debug dumps).
    (
        re.compile(
            r"(?i)(\"(?:access_token|refresh_token|id_token|client_secret|password|api_key|"
            r"apikey|token|secret)\"\s*:\s*\")(?:[^\"\\]|\\.)*\""
        ),
        r"\1" + REDACTED + '"',
    ),
    # Vendor formats: Slack, Stripe, GitHub, Shopify, this gateway's own API keys.
    (re.compile(r"\bxox[abeoprs]-[A-Za-z0-9-]{6,}"), REDACTED),
    (re.compile(r"\bxapp-[A-Za-z0-9-]{6,}"), REDACTED),
    (re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{6,}"), REDACTED),
    (re.compile(r"\bwhsec_[A-Za-z0-9]{6,}"), REDACTED),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{16,}"), REDACTED),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{16,}"), REDACTED),
    (re.compile(r"\bshp(?:at|ca|pa|ss)_[A-Fa-f0-9]{16,}"), REDACTED),
    (re.compile(r"\bfgk_[a-z0-9]+_[A-Za-z0-9_-]{8,}"), REDACTED),
    # JWTs (OAuth access tokens, ID tokens).
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), REDACTED),
    # Credentials carried in query strings or form bodies echoed back.
    (
        re.compile(
            r"(?i)([?&;\s\"'](?:api[_-]?key|apikey|key|token|access_token|refresh_token|"
            r"client_secret|secret|password|passwd|auth|signature|sig)=)[^&\s\"'#]+"
        ),
        r"\1" + REDACTED,
    ),
)

# Long runs of token alphabet mixing letters and digits: a credential in all likelihood
# (identifiers in error messages are far shorter).
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_\-+/]{40,}={0,2}")


def _looks_random(s: str) -> bool:
    return any(c.isdigit() for c in s) and any(c.isalpha() for c in s)


def _variants(value: str) -> set[str]:
    forms = {value, quote(value, safe=""), quote_plus(value, safe=""), json.dumps(value)[1:-1]}
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


@functools.lru_cache(maxsize=1024)
def _forms(secrets: tuple[str, ...]) -> tuple[str, ...]:
    """Every form of ``secrets`` to replace, longest first (so a secret containing
    another is removed whole).

    Cached: every call of a connection redacts with the same credentials, and deriving
    the forms (percent- and JSON-encoding each value, twice with ``with_secrets``) was
    a measurable share of a call's CPU. The values are held in this process's memory
    only, as the credentials themselves already are.
    """
    forms: set[str] = set()
    for value in secrets:
        if value:
            forms |= _variants(value)
    return tuple(sorted(forms, key=len, reverse=True))


class Redactor:
    """Redacts a fixed set of secret values plus credential-looking patterns."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = _forms(tuple(secrets))

    def with_secrets(self, secrets: Iterable[str]) -> Redactor:
        return Redactor((*self._secrets, *secrets))

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def values_only(self, text: str) -> str:
        """``text`` without the exact secret values (no pattern layer), for successful
        results: patterns would also match data such as commit hashes."""
        for value in self._secrets:
            if len(value) >= MIN_VALUE_IN_DATA and value in text:
                text = text.replace(value, REDACTED)
        return text

    def scrub(self, value: Any) -> Any:
        """A JSON value with the exact secret values removed from every string in it."""
        if isinstance(value, str):
            return self.values_only(value)
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        if isinstance(value, dict):
            return {self.values_only(str(k)): self.scrub(v) for k, v in value.items()}
        return value

    def __call__(self, text: str) -> str:
        for value in self._secrets:
            if value in text:
                text = text.replace(value, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return _LONG_TOKEN.sub(
            lambda m: REDACTED if _looks_random(m.group(0)) else m.group(0), text
        )


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without ``secrets`` and without anything that looks like a credential."""
    return Redactor(secrets)(text)


class RedactingFilter(logging.Filter):
    """Redacts credential-looking text from the records of a library's logger.

    httpx logs every request URL at INFO; a connector that sends its key as a query
    parameter would otherwise have the key written to the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = Redactor()(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
