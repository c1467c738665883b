"""Vendor documents served three ways: Prism validating each, a recording proxy in
front of each Prism, and one real gateway (a subprocess) built from wrappers around
them, with one tenant connected to every connector."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fastn_gen.codegen.build import build
from fastn_gen.gateway.apikeys import hash_api_key
from tests.gateway.fixtures.gateway_process import GatewayProcess
from tests.prism.prism_process import PrismProcess
from tests.prism.recorder import RecordingProxy
from tests.prism.strict_document import write_strict_copy

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "specs"
READ_METHODS = ("get", "head", "options")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class VendorSpec:
    name: str  # connector name
    path: str  # under shared/specs
    # Credential field -> dummy value for the connection (passed as env references).
    credentials: dict[str, str] = field(default_factory=dict)
    wrapper: str = ""  # extra wrapper lines (security mapping, default_auth)

    @property
    def file(self) -> Path:
        return SPECS / self.path


@dataclass
class Upstream:
    prism: PrismProcess
    proxy: RecordingProxy


@dataclass
class Deployment:
    upstreams: dict[str, Upstream]
    gateway: GatewayProcess
    api_key: str

    def stop(self) -> None:
        self.gateway.stop()
        for upstream in self.upstreams.values():
            upstream.proxy.stop()
            upstream.prism.stop()


def operation_ids(spec: VendorSpec) -> tuple[list[str], list[str]]:
    """The document's operationIds: (read operations, the others), in document order."""
    text = spec.file.read_text(encoding="utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    doc: Any = json.loads(text) if spec.file.suffix == ".json" else yaml.load(text, loader)
    reads: list[str] = []
    writes: list[str] = []
    for item in (doc.get("paths") or {}).values():
        for method in METHODS:
            op = item.get(method) if isinstance(item, dict) else None
            if isinstance(op, dict) and isinstance(op.get("operationId"), str):
                (reads if method in READ_METHODS else writes).append(op["operationId"])
    return reads, writes


def _env_name(spec: VendorSpec, field_name: str) -> str:
    return f"PRISM_{spec.name.upper()}_{field_name.upper()}"


def write_wrapper(
    spec: VendorSpec, base_url: str, connectors: Path, include: Sequence[str] | None
) -> None:
    """A wrapper naming the document by a relative path (a link to the shared copy)."""
    documents = connectors / "openapi"
    documents.mkdir(parents=True, exist_ok=True)
    (documents / spec.file.name).symlink_to(spec.file)
    lines = [f"name: {spec.name}", f"openapi: openapi/{spec.file.name}", f"base_url: {base_url}"]
    lines.append("self_hosted: true")  # Prism listens on loopback
    if include is not None:
        lines.append(f"include:\n  - operation_id: {json.dumps(sorted(include))}")
    (connectors / f"{spec.name}.yaml").write_text(
        "\n".join(lines) + "\n" + spec.wrapper, encoding="utf-8"
    )


def write_tenants(specs: Sequence[VendorSpec], path: Path) -> str:
    """One tenant with a connection to each connector; returns its gateway key."""
    key = "prism-" + secrets.token_urlsafe(24)
    connections = ""
    for spec in specs:
        fields = ", ".join(f'{f}: "${{{_env_name(spec, f)}}}"' for f in spec.credentials)
        connections += f"      - connector: {spec.name}\n        credentials: {{{fields}}}\n"
    path.write_text(
        f"""version: 1
tenants:
  - id: prism
    api_keys: [{{id: prism-key, hash: "{hash_api_key(key)}"}}]
    connections:
{connections}""",
        encoding="utf-8",
    )
    return key


def deploy(
    specs: Sequence[VendorSpec], root: Path, include: Mapping[str, Sequence[str]] | None = None
) -> Deployment:
    """Every Prism starts first (loading a document takes seconds); the build runs meanwhile.

    ``include`` limits a connector to the given operationIds.
    """
    upstreams: dict[str, Upstream] = {}
    gateway: GatewayProcess | None = None
    try:
        for spec in specs:
            strict, _ = write_strict_copy(spec.file, root / f"{spec.name}.strict.json")
            prism = PrismProcess(strict, root / f"prism-{spec.name}.log").launch()
            upstreams[spec.name] = Upstream(prism, RecordingProxy(prism.origin))
            upstreams[spec.name].proxy.start()
            chosen = include.get(spec.name) if include is not None else None
            write_wrapper(spec, upstreams[spec.name].proxy.origin, root / "connectors.d", chosen)
        report = build(root / "connectors.d", root / "generated")
        assert not report.issues, report.issues
        key = write_tenants(specs, root / "tenants.yaml")
        env = {_env_name(s, f): v for s in specs for f, v in s.credentials.items()}
        gateway = GatewayProcess(
            root / "tenants.yaml", root / "generated", root / "gateway.log", env=env
        )
        gateway.start(timeout=120)
        for upstream in upstreams.values():
            upstream.prism.wait_ready()
        return Deployment(upstreams, gateway, key)
    except BaseException:
        if gateway is not None:
            gateway.stop()
        for upstream in upstreams.values():
            upstream.proxy.stop()
            upstream.prism.stop()
        raise
