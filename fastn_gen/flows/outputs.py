"""What of a step's output and a run's trigger is stored: redacted, and bounded.

Connector results are already scrubbed of the call's own credentials by the executor.
Before anything is stored, fields named like credentials lose their values and every
string goes through the gateway's redactor (token formats, ``Authorization`` echoes,
long random strings). An output too large to keep whole is replaced by a marker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from fastn_gen.gateway.redact import REDACTED, Redactor

MAX_STORED_CHARS = 64 * 1024
_SECRET_KEY = re.compile(
    r"(?i)^(?:.*[_-])?(?:token|secret|password|passwd|authorization|api[_-]?key|apikey|"
    r"credentials?|client[_-]?secret|access[_-]?token|refresh[_-]?token|private[_-]?key)$"
)
_REDACTOR = Redactor()


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return _REDACTOR(value)
    if isinstance(value, Mapping):
        return {
            str(key): REDACTED if _SECRET_KEY.match(str(key)) else redact_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    return value


def stored_output(value: Any) -> tuple[Any, bool]:
    """The redacted value to store, and whether it had to be left out as too large."""
    cleaned = redact_value(value)
    size = len(json.dumps(cleaned, separators=(",", ":"), ensure_ascii=False, default=str))
    if size > MAX_STORED_CHARS:
        return {"truncated": True, "chars": size}, True
    return cleaned, False
