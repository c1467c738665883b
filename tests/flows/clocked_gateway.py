"""The HTTP gateway with a clock the test controls, for scheduler tests in real processes.

``python -m tests.flows.clocked_gateway CLOCK_FILE --config ... --generated ... [--store URL]``

The gateway's clock (the scheduler's, the quotas', the events') is the real time plus an
offset in seconds read from CLOCK_FILE at every reading (a missing or empty file: no
offset), so a test can move several gateway processes to just before a due time at
once. Everything else is built as ``python -m fastn_gen.gateway.serve http`` builds it.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn

from fastn_gen.gateway.app import HttpOptions, create_app
from fastn_gen.gateway.catalog import Catalog
from fastn_gen.gateway.serve_options import Reliability
from fastn_gen.gateway.services import Services
from fastn_gen.gateway.tenancy import TenantRegistry
from fastn_gen.native.registry import NATIVE_NAMES


class OffsetClock:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> datetime:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            text = ""
        offset = float(text) if text else 0.0
        return datetime.now(UTC) + timedelta(seconds=offset)


def set_offset(path: Path, seconds: float) -> None:
    """Move every gateway reading ``path`` to real time + ``seconds`` (atomically)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(repr(seconds), encoding="utf-8")
    temporary.replace(path)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("clock_file", type=Path)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--generated", type=Path, required=True)
    parser.add_argument("--store", default=None)
    parser.add_argument("--upstream-timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    catalog = Catalog.load(args.generated)
    registry = TenantRegistry.load(
        args.config, catalog=catalog.connector_specs(), tools={*catalog.tools, *NATIVE_NAMES}
    )
    executor = Reliability().executor(args.upstream_timeout)
    services = Services.create(
        catalog, registry, executor, store_url=args.store, clock=OffsetClock(args.clock_file)
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    app = create_app(catalog, registry, executor, HttpOptions(port=port), services)
    logging.getLogger("tests.flows").info("listening on http://127.0.0.1:%d/mcp", port)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1:])
