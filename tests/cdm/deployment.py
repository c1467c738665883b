"""A gateway serving the shipped connectors' generated code, with Slack and Shopify on loopback.

The repository's own ``generated/`` (what ``fastn-gen build`` made from ``connectors.d``,
entity mappings included) is copied and pointed at the loopback upstreams. Tenants:

| tenant | Slack workspace | Shopify shop |
| --- | --- | --- |
| ``acme`` | acme | ``acme-store`` |
| ``globex`` | globex | (none) |
| ``brokenco`` | acme | ``broken-store`` (HTTP 500) |
| ``slowco`` | acme | ``slow-store`` (answers after the per-source timeout) |
| ``counted`` | acme | ``count-store``, for usage and event counts |
| ``pager`` | acme | ``acme-store``, for pagination |
| ``capped`` | acme | ``acme-store``, one Shopify call a month |
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from fastn_gen.gateway.tenancy import hash_api_key
from tests.gateway.fixtures.gateway_process import REPO_ROOT, GatewayProcess, retarget
from tests.upstreams.cdm_shopify import CatalogueShopify
from tests.upstreams.cdm_slack import WorkspaceSlack, acme_workspace, globex_workspace

SOURCE_TIMEOUT_S = 1.0
SLOW_S = 2.5
TENANTS: dict[str, tuple[str, str | None]] = {
    "acme": ("acme", "acme-store"),
    "globex": ("globex", None),
    "brokenco": ("acme", "broken-store"),
    "slowco": ("acme", "slow-store"),
    "counted": ("acme", "count-store"),
    "pager": ("acme", "acme-store"),
    "capped": ("acme", "acme-store"),
}
PLANS = """\
plans:
  pro: {tool_calls_per_month: 1000, requests_per_minute: 600}
  capped:
    tool_calls_per_month: 1000
    per_connector:
      shopify: {tool_calls_per_month: 1}
"""


@dataclass
class CdmDeployment:
    slack: WorkspaceSlack
    shopify: CatalogueShopify
    keys: dict[str, str]
    gateway: GatewayProcess

    @classmethod
    def start(cls, root: Path) -> CdmDeployment:
        slack = WorkspaceSlack(page_cap=2)
        shopify = CatalogueShopify(slow_s=SLOW_S)
        slack.start()
        shopify.start()
        env: dict[str, str] = {}
        blocks, keys = [], {}
        for tenant, (workspace, shop) in TENANTS.items():
            token = f"xoxb-{tenant}-{secrets.token_hex(8)}"
            slack.add_token(token, acme_workspace() if workspace == "acme" else globex_workspace())
            env[f"{tenant.upper()}_SLACK_TOKEN"] = token
            lines = [
                "      - connector: slack",
                f'        credentials: {{token: "${{{tenant.upper()}_SLACK_TOKEN}}"}}',
            ]
            if shop is not None:
                shop_token = f"shpat_{secrets.token_hex(16)}"
                shopify.allow_token(shop_token, shop)
                env[f"{tenant.upper()}_SHOPIFY_TOKEN"] = shop_token
                lines += [
                    "      - connector: shopify",
                    f'        credentials: {{api_key: "${{{tenant.upper()}_SHOPIFY_TOKEN}}"}}',
                    f"        variables: {{shop: {shop}}}",
                ]
            keys[tenant] = f"{tenant}-" + secrets.token_urlsafe(24)
            plan = "capped" if tenant == "capped" else "pro"
            key_hash = hash_api_key(keys[tenant])
            blocks.append(
                f"  - id: {tenant}\n    plan: {plan}\n"
                f'    api_keys:\n      - {{id: {tenant}-key, hash: "{key_hash}"}}\n'
                "    connections:\n" + "\n".join(lines) + "\n"
            )
        config = root / "tenants.yaml"
        config.write_text("version: 1\n" + PLANS + "tenants:\n" + "".join(blocks), "utf-8")
        generated = root / "generated"
        shutil.copytree(
            REPO_ROOT / "generated", generated, ignore=shutil.ignore_patterns("__pycache__")
        )
        retarget(generated, slack_base=slack.url, shopify_base=shopify.shop_url_template)
        env["FASTN_DATA_DIR"] = str(root / "data")
        env["FASTN_ENTITY_SOURCE_TIMEOUT_S"] = str(SOURCE_TIMEOUT_S)
        gateway = GatewayProcess(config, generated, root / "gateway.log", env=env)
        try:
            gateway.start()
        except BaseException:
            slack.stop()
            shopify.stop()
            raise
        return cls(slack, shopify, keys, gateway)

    def stop(self) -> None:
        self.gateway.stop()
        self.slack.stop()
        self.shopify.stop()
