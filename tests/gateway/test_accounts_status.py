"""Integration status and entity search per account, through the real gateway over HTTP.

Slack on loopback answers each token with its own workspace (``acme`` or ``globex``);
tokens listed in ``failing`` get HTTP 500 whatever they ask. Tenants:

- ``multi``: ``slack`` (acme, the default) and ``slack-eu`` (globex);
- ``mixed``: ``slack`` (acme) and ``slack-down`` (a failing upstream);
- ``single``: one ``slack`` connection (acme), which must see the output it always had.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fastn_gen.gateway.tenancy import hash_api_key
from tests.gateway.fixtures.gateway_process import REPO_ROOT, GatewayProcess, retarget
from tests.native.deployment import call_ok, connect
from tests.upstreams.cdm_slack import WorkspaceSlack, acme_workspace, globex_workspace
from tests.upstreams.server import RecordedRequest, Reply

pytestmark = pytest.mark.anyio

TENANTS = """\
version: 1
tenants:
  - id: multi
    api_keys: [{id: multi-key, hash: "%(multi)s"}]
    connections:
      - connector: slack
        credentials: {token: "${MULTI_SLACK}"}
      - connector: slack
        name: slack-eu
        credentials: {token: "${MULTI_SLACK_EU}"}
  - id: mixed
    api_keys: [{id: mixed-key, hash: "%(mixed)s"}]
    connections:
      - connector: slack
        credentials: {token: "${MIXED_SLACK}"}
      - connector: slack
        name: slack-down
        credentials: {token: "${MIXED_SLACK_DOWN}"}
  - id: single
    api_keys: [{id: single-key, hash: "%(single)s"}]
    connections:
      - connector: slack
        credentials: {token: "${SINGLE_SLACK}"}
"""
# The fields fastn_search_entities and the integration tools returned before accounts.
HIT_FIELDS = {"id", "entity_type", "connector", "source_id", "score", "data"}
SUMMARY_FIELDS = {
    "connector",
    "title",
    "connections",
    "default_connection",
    "health",
    "last_success_at",
    "last_error_at",
    "last_error",
    "consecutive_failures",
    "token_expires_at",
    "tools",
    "health_check",
}


class FailingSlack(WorkspaceSlack):
    """A workspace Slack whose ``failing`` tokens get HTTP 500 (an upstream outage)."""

    def __init__(self) -> None:
        super().__init__(page_cap=50)
        self.failing: set[str] = set()

    def handle(self, request: RecordedRequest) -> Reply | None:
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        if token in self.failing:
            return Reply.json({"ok": False, "error": "internal_error"}, status=500)
        return super().handle(request)


class Setup:
    def __init__(self, root: Path) -> None:
        self.slack = FailingSlack()
        self.slack.start()
        names = ("MULTI_SLACK", "MULTI_SLACK_EU", "MIXED_SLACK", "MIXED_SLACK_DOWN")
        self.tokens = {
            n: f"xoxb-{n.lower()}-{secrets.token_hex(8)}" for n in (*names, "SINGLE_SLACK")
        }
        for name, token in self.tokens.items():
            workspace = globex_workspace() if name == "MULTI_SLACK_EU" else acme_workspace()
            self.slack.add_token(token, workspace)
        self.slack.failing.add(self.tokens["MIXED_SLACK_DOWN"])
        self.keys = {t: f"{t}-" + secrets.token_urlsafe(24) for t in ("multi", "mixed", "single")}
        config = root / "tenants.yaml"
        config.write_text(TENANTS % {t: hash_api_key(k) for t, k in self.keys.items()})
        generated = root / "generated"
        shutil.copytree(
            REPO_ROOT / "generated", generated, ignore=shutil.ignore_patterns("__pycache__")
        )
        retarget(generated, slack_base=self.slack.url, shopify_base="http://127.0.0.1:9/{shop}")
        env = {**self.tokens, "FASTN_DATA_DIR": str(root / "data")}
        self.gateway = GatewayProcess(config, generated, root / "gateway.log", env=env)
        try:
            self.gateway.start()
        except BaseException:
            self.slack.stop()
            raise

    def stop(self) -> None:
        self.gateway.stop()
        self.slack.stop()

    def tokens_seen(self, method: str) -> list[str]:
        return [
            (r.header("authorization") or "").removeprefix("Bearer ")
            for r in self.slack.requests
            if r.path.endswith(method)
        ]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    found = Setup(tmp_path_factory.mktemp("accounts-status"))
    try:
        yield found
    finally:
        found.stop()


async def _search(setup: Setup, tenant: str, **arguments: Any) -> dict[str, Any]:
    async with connect(setup.gateway.url, setup.keys[tenant]) as client:
        return await call_ok(client, "fastn_search_entities", arguments)


async def test_status_shows_each_accounts_own_health(setup: Setup) -> None:
    async with connect(setup.gateway.url, setup.keys["mixed"]) as client:
        await call_ok(client, "slack_list_channels", {})
        for _ in range(3):
            failed = await client.call_tool("slack_list_channels", {"account": "slack-down"})
            assert failed.is_error
        await call_ok(client, "slack_list_channels", {"account": "slack"})
        status = await call_ok(client, "fastn_get_integration_status", {"connector": "slack"})
        listed = await call_ok(client, "fastn_list_integrations")
    accounts = {a["name"]: a for a in status["accounts"]}
    assert list(accounts) == ["slack", "slack-down"]
    ok, down = accounts["slack"], accounts["slack-down"]
    assert ok["health"] == "healthy" and ok["consecutive_failures"] == 0
    assert (ok["calls_ok"], ok["calls_failed"]) == (2, 0)
    assert ok["last_success_at"] is not None and ok["last_error"] is None
    assert down["health"] == "failing" and down["consecutive_failures"] == 3
    assert (down["calls_ok"], down["calls_failed"]) == (0, 3)
    assert down["last_success_at"] is None and "500" in down["last_error"]
    # The connector's own counters still cover both accounts.
    assert (status["calls_ok"], status["calls_failed"]) == (2, 3)
    (slack,) = listed["integrations"]
    assert slack["accounts"] == status["accounts"]
    assert setup.tokens["MIXED_SLACK_DOWN"] not in str(status)
    seen = setup.tokens_seen("conversations.list")
    # Each failed call went upstream (retried, as 500s are) with its own account's token.
    assert seen.count(setup.tokens["MIXED_SLACK_DOWN"]) >= 3
    assert seen.count(setup.tokens["MIXED_SLACK"]) == 2


async def test_one_connection_keeps_the_status_it_had(setup: Setup) -> None:
    async with connect(setup.gateway.url, setup.keys["single"]) as client:
        await call_ok(client, "slack_list_channels", {})
        status = await call_ok(client, "fastn_get_integration_status", {"connector": "slack"})
        listed = await call_ok(client, "fastn_list_integrations")
    (slack,) = listed["integrations"]
    assert set(slack) == SUMMARY_FIELDS
    assert "accounts" not in status
    assert status["health"] == "healthy" and status["connections"] == ["slack"]


async def test_search_covers_every_account_with_its_own_token(setup: Setup) -> None:
    setup.slack.clear()
    found = await _search(setup, "multi", entity_type="Contact", query="acme", limit=100)
    assert found["searched"] == ["slack:slack", "slack:slack-eu"] and found["errors"] == []
    by_id = {item["id"]: item for item in found["items"]}
    # acme's members matching "acme" (people only), and globex's liaison.
    assert set(by_id) == {
        "slack:slack:UA1",
        "slack:slack:UA2",
        "slack:slack:UA3",
        "slack:slack:UA7",
        "slack:slack-eu:UG2",
    }
    assert by_id["slack:slack-eu:UG2"]["account"] == "slack-eu"
    assert by_id["slack:slack-eu:UG2"]["source_id"] == "UG2"
    assert {by_id[i]["account"] for i in by_id if i.startswith("slack:slack:")} == {"slack"}
    assert sorted(setup.tokens_seen("users.list")) == sorted(
        [setup.tokens["MULTI_SLACK"], setup.tokens["MULTI_SLACK_EU"]]
    )


async def test_a_failing_account_is_reported_beside_the_others_results(setup: Setup) -> None:
    found = await _search(setup, "mixed", entity_type="Contact", query="acme", limit=100)
    assert found["searched"] == ["slack:slack", "slack:slack-down"]
    (error,) = found["errors"]
    assert (error["connector"], error["account"]) == ("slack", "slack-down")
    assert error["error"] == "http_status"
    assert setup.tokens["MIXED_SLACK_DOWN"] not in error["message"]
    assert {item["account"] for item in found["items"]} == {"slack"}
    assert len(found["items"]) == 4


async def test_one_connection_searches_as_it_always_did(setup: Setup) -> None:
    single = await _search(setup, "single", entity_type="Contact", query="acme", limit=100)
    multi = await _search(setup, "multi", entity_type="Contact", query="acme", limit=100)
    assert single["searched"] == ["slack"] and single["errors"] == []
    assert {item["id"] for item in single["items"]} == {
        "slack:UA1",
        "slack:UA2",
        "slack:UA3",
        "slack:UA7",
    }
    assert all(set(item) == HIT_FIELDS for item in single["items"])
    # The same member through the default account of a tenant with two: same entity.
    same = {i["source_id"]: i["data"] for i in multi["items"] if i["account"] == "slack"}
    assert {i["source_id"]: i["data"] for i in single["items"]} == same


async def test_pages_cover_both_accounts_without_repeats(setup: Setup) -> None:
    everything = await _search(setup, "multi", entity_type="Contact", query="acme", limit=100)
    seen: list[str] = []
    cursor: str | None = None
    async with connect(setup.gateway.url, setup.keys["multi"]) as client:
        for _ in range(10):
            arguments: dict[str, Any] = {"entity_type": "Contact", "query": "acme", "limit": 2}
            if cursor is not None:
                arguments["cursor"] = cursor
            page = await call_ok(client, "fastn_search_entities", arguments)
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert cursor is None
    assert sorted(seen) == sorted(item["id"] for item in everything["items"])
    assert len(seen) == len(set(seen)) == 5
