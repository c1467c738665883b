"""The reloader in process: what it refuses, and which connector modules it keeps.

The end-to-end behaviour (a real gateway, clients, notifications) is in test_watch.py;
these are the cases that need a look inside: the anonymous tenant, a switch of
``tenants_from``, and the modules of superseded catalogs.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
from starlette.types import Receive, Scope, Send

from fastn_gen.gateway.auth import TenantAuth
from fastn_gen.gateway.catalog import MODULE_PREFIX, Catalog
from fastn_gen.gateway.executor import Executor
from fastn_gen.gateway.handlers import GatewayHandlers
from fastn_gen.gateway.reload import Reloader, ReloadOptions, changed_connectors
from fastn_gen.gateway.serving import Serving
from fastn_gen.gateway.tenancy import TenantRegistry
from tests.gateway.fixtures.gateway_process import generated_dir
from tests.gateway.fixtures.tenants_setup import write_tenants

pytestmark = pytest.mark.anyio


async def unreachable(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("no request is served here")


def serving(
    tmp_path: Path, anonymous: str | None = None, output_schemas: bool = False
) -> tuple[Reloader, TenantAuth]:
    generated = generated_dir(
        tmp_path / "generated", slack_base="http://127.0.0.1:9/api", shopify_base="http://x"
    )
    config = tmp_path / "tenants.yaml"
    write_tenants(config)
    catalog = Catalog.load(
        generated, module_suffix="__test" + tmp_path.name, output_schemas=output_schemas
    )
    registry = TenantRegistry.load(config, catalog=catalog.connector_specs())
    handlers = GatewayHandlers(catalog, Executor(), output_schemas=output_schemas)
    auth = TenantAuth(unreachable, registry, registry.get(anonymous or ""))
    live = Serving(catalog, registry, handlers, auth=auth, anonymous_tenant=anonymous)
    return Reloader(live, ReloadOptions(config, generated, sighup=False)), auth


def modules(suffix: str) -> list[str]:
    return sorted(n for n in sys.modules if n.startswith(MODULE_PREFIX) and n.endswith(suffix))


async def test_removing_the_anonymous_tenant_is_refused(tmp_path: Path) -> None:
    reloader, auth = serving(tmp_path, anonymous="beta")
    before = auth.anonymous
    assert before is not None and before.id == "beta"
    config = reloader.options.config_path
    text = config.read_text(encoding="utf-8")
    config.write_text(text[: text.index("  - id: beta")], encoding="utf-8")
    outcome = await reloader.reload("test")
    assert outcome.outcome == "refused"
    assert outcome.error is not None and "anonymous tenant 'beta'" in outcome.error
    assert auth.anonymous is before and len(reloader.serving.registry) == 3
    assert reloader.generation == 0 and reloader.counts == {"refused": 1}


async def test_switching_to_store_tenants_takes_a_restart(tmp_path: Path) -> None:
    reloader, auth = serving(tmp_path)
    config = reloader.options.config_path
    text = config.read_text(encoding="utf-8")
    # The switch alone (the file's tenants would be refused with it anyway).
    config.write_text(text.replace("version: 1\n", "version: 1\ntenants_from: store\n"))
    outcome = await reloader.reload("test")
    assert outcome.outcome == "refused"
    assert outcome.error is not None
    assert "tenants_from" in outcome.error or "tenants come from the store" in outcome.error
    assert auth.registry is reloader.serving.registry and len(auth.registry) == 3


async def test_only_the_last_two_catalogs_keep_their_modules(tmp_path: Path) -> None:
    reloader, _ = serving(tmp_path)
    first = [e.module.__name__ for e in reloader.serving.catalog.connectors.values()]
    manifest = reloader.options.generated_dir / "manifest.json"
    good = manifest.read_text(encoding="utf-8")
    module = reloader.options.generated_dir / "connectors" / "slack.py"
    source = module.read_text(encoding="utf-8")
    # A module that fails to import: what was imported before it is unregistered.
    module.write_text(source + "\nraise RuntimeError('half-built')\n", encoding="utf-8")
    refused = await reloader.reload("test")
    assert refused.outcome == "refused" and refused.error is not None
    assert "half-built" in refused.error
    assert modules("__reload1") == []
    module.write_text(source + "\n", encoding="utf-8")
    assert (await reloader.reload("test")).outcome == "applied"
    assert len(modules("__reload2")) == 2 and all(n in sys.modules for n in first)
    manifest.write_text(good + "\n", encoding="utf-8")
    assert (await reloader.reload("test")).outcome == "applied"
    # The first catalog's modules are gone; the previous and current ones stay.
    assert not any(n in sys.modules for n in first)
    assert len(modules("__reload2")) == 2 and len(modules("__reload3")) == 2


def listed_send_schema(reloader: Reloader) -> object:
    """slack_send_message's outputSchema as tenant acme's tools/list gives it."""
    handlers = reloader.serving.handlers
    tenant = reloader.serving.registry.get("acme")
    assert tenant is not None
    tools = handlers.lists.tools(handlers.views.for_tenant(tenant))
    return next(t for t in tools if t.name == "slack_send_message").output_schema


def rewrite_output_schemas(generated: Path, edit: dict[str, object]) -> None:
    """A rebuild that changed output schemas only: the file and the manifest's digest."""
    path = generated / "output_schemas.json"
    schemas = json.loads(path.read_bytes())
    schemas.update(edit)
    text = json.dumps(schemas).encode()
    path.write_bytes(text)
    manifest_path = generated / "manifest.json"
    manifest = json.loads(manifest_path.read_bytes())
    manifest["output_schemas"]["sha256"] = hashlib.sha256(text).hexdigest()
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")


async def test_a_reload_keeps_listing_output_schemas(tmp_path: Path) -> None:
    reloader, _ = serving(tmp_path, output_schemas=True)
    old = reloader.serving.catalog
    before = listed_send_schema(reloader)
    assert isinstance(before, dict) and before["required"] == ["ok"]
    changed = {**before, "required": ["ok", "ts"]}
    rewrite_output_schemas(reloader.options.generated_dir, {"slack_send_message": changed})
    assert (await reloader.reload("test")).outcome == "applied"
    catalog = reloader.serving.catalog
    assert catalog.tools_carry_output_schemas
    assert listed_send_schema(reloader) == changed
    # Subscribed Slack tenants are told: the list they are served changed.
    assert changed_connectors(old, catalog) == {"slack"}


async def test_a_damaged_output_schemas_file_is_refused_only_when_listed(
    tmp_path: Path,
) -> None:
    listing, _ = serving(tmp_path / "listing", output_schemas=True)
    lean, _ = serving(tmp_path / "lean")
    for reloader in (listing, lean):
        path = reloader.options.generated_dir / "output_schemas.json"
        path.write_bytes(path.read_bytes()[:-10])
    refused = await listing.reload("test")
    assert refused.outcome == "refused" and refused.error is not None
    assert "output_schemas.json does not match manifest.json" in refused.error
    assert listed_send_schema(listing) is not None  # the previous catalog keeps serving
    # Without output schemas in the list the file is not read.
    assert (await lean.reload("test")).outcome == "applied"
    assert listed_send_schema(lean) is None


async def test_a_catalog_loaded_without_output_schemas_still_lists_them_when_asked(
    tmp_path: Path,
) -> None:
    reloader, _ = serving(tmp_path)
    catalog = reloader.serving.catalog
    assert not catalog.output_schemas.loaded
    handlers = GatewayHandlers(catalog, Executor(), output_schemas=True)
    reloader.serving.handlers = handlers
    schema = listed_send_schema(reloader)
    assert isinstance(schema, dict) and schema["properties"]["ts"] == {"type": "string"}
    assert catalog.output_schemas.loaded
    assert catalog.tools["slack_send_message"].tool.output_schema is None
