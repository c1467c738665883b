"""The tenants, upstreams and generated connectors every flows test runs against.

Tenants:

- ``acme``: Slack and Shopify, plan ``pro``;
- ``globex``: Slack only, plan ``pro`` (no Shopify tools: scoping tests);
- ``metered``: Slack and Shopify, plan ``metered`` (one Shopify call a month).

Credentials are ``${ENV}`` references; the values live in :attr:`World.tokens` and
are given to the gateway's environment (or the in-process executor's).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from fastn_gen.gateway.tenancy import hash_api_key
from tests.flows.upstream import GatedSlack, RevocableShopify
from tests.gateway.fixtures.gateway_process import generated_dir

CONNECTORS = {"acme": ("slack", "shopify"), "globex": ("slack",), "metered": ("slack", "shopify")}
PLAN_OF = {"acme": "pro", "globex": "pro", "metered": "metered"}
PLANS = """\
plans:
  pro: {tool_calls_per_month: 1000, requests_per_minute: 600}
  metered:
    tool_calls_per_month: 100
    per_connector:
      shopify: {tool_calls_per_month: 1}
"""


@dataclass
class World:
    root: Path
    slack: GatedSlack
    shopify: RevocableShopify
    config: Path
    generated: Path
    tokens: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, root: Path) -> World:
        root.mkdir(parents=True, exist_ok=True)
        slack, shopify = GatedSlack(), RevocableShopify()
        slack.start()
        shopify.start()
        world = cls(root, slack, shopify, root / "tenants.yaml", root / "generated")
        generated_dir(world.generated, slack_base=slack.url, shopify_base=shopify.shop_url_template)
        world._write_tenants()
        return world

    def _write_tenants(self) -> None:
        blocks = []
        for tenant, connectors in CONNECTORS.items():
            key = f"{tenant}-" + secrets.token_urlsafe(24)
            self.keys[tenant] = key
            lines = [
                f"  - id: {tenant}",
                f"    plan: {PLAN_OF[tenant]}",
                "    api_keys:",
                f'      - {{id: {tenant}-key, hash: "{hash_api_key(key)}"}}',
                "    connections:",
            ]
            slack_env = f"{tenant.upper()}_SLACK_TOKEN"
            self.tokens[slack_env] = f"xoxb-{tenant}-{secrets.token_hex(8)}"
            self.slack.allow_token(self.tokens[slack_env])
            lines += [
                "      - connector: slack",
                f'        credentials: {{token: "${{{slack_env}}}"}}',
            ]
            if "shopify" in connectors:
                shop_env = f"{tenant.upper()}_SHOPIFY_TOKEN"
                self.tokens[shop_env] = f"shpat_{secrets.token_hex(16)}"
                self.shopify.allow_token(self.tokens[shop_env], f"{tenant}-store")
                lines += [
                    "      - connector: shopify",
                    f'        credentials: {{api_key: "${{{shop_env}}}"}}',
                    f"        variables: {{shop: {tenant}-store}}",
                ]
            blocks.append("\n".join(lines) + "\n")
        text = "version: 1\ndata_dir: data\n" + PLANS + "tenants:\n" + "".join(blocks)
        self.config.write_text(text, encoding="utf-8")

    def revoke_slack(self, tenant: str) -> None:
        """Make Slack refuse the tenant's token from now on (its calls fail)."""
        self.slack.revoke_token(self.tokens[f"{tenant.upper()}_SLACK_TOKEN"])

    def revoke_shopify(self, tenant: str) -> None:
        self.shopify.revoke_token(self.tokens[f"{tenant.upper()}_SHOPIFY_TOKEN"])

    def restore_shopify(self, tenant: str) -> None:
        self.shopify.allow_token(self.tokens[f"{tenant.upper()}_SHOPIFY_TOKEN"], f"{tenant}-store")

    def stop(self) -> None:
        self.slack.stop()
        self.shopify.stop()
