"""FastMCP for the serving benchmark: its environment (from ``bench/peer.py``) and specs.

FastMCP takes a parsed document; Stripe's spec3 is YAML, which takes seconds to parse,
so it is converted to JSON once and cached under ``bench/results/cache`` (the peer is
not charged for our choice of YAML).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from gateway_setup import STRIPE_SPEC  # noqa: E402
from peer import ensure_peer_env, fastmcp_version  # noqa: E402

CACHE = BENCH / "results" / "cache"


def peer_python() -> tuple[str, str]:
    python = ensure_peer_env()
    return str(python), fastmcp_version()


def stripe_json() -> Path:
    stat = STRIPE_SPEC.stat()
    out = CACHE / f"stripe-spec3-{stat.st_size}-{int(stat.st_mtime)}.json"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        document = yaml.load(STRIPE_SPEC.read_text(), Loader=loader)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(document))
        tmp.replace(out)
    return out
