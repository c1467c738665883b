"""Plans and per-tenant limit overrides in tenants.yaml: validation and merging."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fastn_gen.gateway.limits import Limits, ScopedLimits
from fastn_gen.gateway.tenancy import ConnectorRequirements, TenantConfigError, TenantRegistry

REPO = Path(__file__).resolve().parents[2]


def _registry(text: str, tmp_path: Path, tools: set[str] | None = None) -> TenantRegistry:
    path = tmp_path / "tenants.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return TenantRegistry.load(path, environ={}, tools=tools)


def _issues(text: str, tmp_path: Path, tools: set[str] | None = None) -> list[str]:
    with pytest.raises(TenantConfigError) as caught:
        _registry(text, tmp_path, tools)
    return [str(issue) for issue in caught.value.issues]


PLANS = """\
version: 1
plans:
  free:
    tool_calls_per_month: 100
    requests_per_minute: 10
    per_connector:
      slack: {tool_calls_per_month: 50, requests_per_minute: 5}
    per_tool:
      slack_send_message: {tool_calls_per_month: 20}
  unlimited:
tenants:
  - id: plain
    plan: free
  - id: raised
    plan: free
    limits:
      tool_calls_per_month: 500
      requests_per_minute: null
      per_connector:
        slack: {requests_per_minute: 8}
        shopify: {tool_calls_per_month: 7}
  - id: open
    plan: unlimited
"""


def test_a_tenant_gets_its_plans_limits(tmp_path: Path) -> None:
    plain = _registry(PLANS, tmp_path).get("plain")
    assert plain is not None
    assert plain.limits == Limits(
        tool_calls_per_month=100,
        requests_per_minute=10,
        per_connector={"slack": ScopedLimits(50, 5)},
        per_tool={"slack_send_message": ScopedLimits(20, None)},
    )


def test_overrides_replace_field_by_field_and_null_lifts_a_limit(tmp_path: Path) -> None:
    raised = _registry(PLANS, tmp_path).get("raised")
    assert raised is not None
    assert raised.limits == Limits(
        tool_calls_per_month=500,
        requests_per_minute=None,
        # slack keeps the plan's monthly limit; only its rate is overridden.
        per_connector={"shopify": ScopedLimits(7, None), "slack": ScopedLimits(50, 8)},
        per_tool={"slack_send_message": ScopedLimits(20, None)},
    )


def test_an_empty_plan_limits_nothing(tmp_path: Path) -> None:
    registry = _registry(PLANS, tmp_path)
    tenant = registry.get("open")
    assert tenant is not None and tenant.limits == Limits()
    assert sorted(registry.plans) == ["free", "unlimited"]


def test_limit_mistakes_are_reported_with_their_lines(tmp_path: Path) -> None:
    issues = _issues(
        """\
        version: 1
        plans:
          free:
            tool_calls_per_month: -1
            requests_per_minute: 0
            calls_per_day: 5
            per_connector:
              slak: {tool_calls_per_month: 3}
        tenants:
          - id: acme
            plan: free
            limits:
              per_tool:
                slack_sendmessage: {requests_per_minute: 2}
        """,
        tmp_path,
        tools={"slack_send_message"},
    )
    text = "\n".join(issues)
    assert (
        "line 4: /plans/free/tool_calls_per_month: Input should be greater than or equal to 0"
        in text
    )
    assert (
        "line 5: /plans/free/requests_per_minute: Input should be greater than or equal to 1"
        in text
    )
    assert "line 6: /plans/free/calls_per_day: unknown field" in text
    assert (
        "line 14: /tenants/0/limits/per_tool/slack_sendmessage: unknown tool 'slack_sendmessage'"
        in text
    )


def test_per_connector_limits_must_name_a_known_connector(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(
        "version: 1\nplans:\n  free:\n    per_connector:\n      slak: {requests_per_minute: 3}\n"
        "tenants:\n  - id: acme\n    plan: free\n",
        encoding="utf-8",
    )
    with pytest.raises(TenantConfigError) as caught:
        TenantRegistry.load(path, catalog={"slack": _slack_requirements()}, environ={})
    assert [str(i) for i in caught.value.issues] == [
        "line 5: /plans/free/per_connector/slak: unknown connector 'slak'"
    ]


def _slack_requirements() -> ConnectorRequirements:
    return ConnectorRequirements(credential_fields=("token",), required_fields=("token",))


def test_max_connections_of_the_plan_is_enforced(tmp_path: Path) -> None:
    issues = _issues(
        """\
        version: 1
        plans:
          free: {max_connections: 1}
        tenants:
          - id: acme
            plan: free
            connections:
              - connector: slack
                credentials: {token: "${T1}"}
              - connector: shopify
                credentials: {api_key: "${T2}"}
        """,
        tmp_path,
    )
    assert issues == [
        "line 8: /tenants/0/connections: plan 'free' allows 1 connection(s); tenant acme has 2"
    ]


def test_the_example_file_declares_plans_and_an_override() -> None:
    registry = TenantRegistry.load(REPO / "tenants.example.yaml", environ={})
    acme, globex = registry.get("acme"), registry.get("globex")
    assert acme is not None and globex is not None
    assert acme.limits.tool_calls_per_month == 100000
    assert acme.limits.connector("shopify").tool_calls_per_month == 50000
    assert globex.limits.requests_per_minute == 30
    assert globex.limits.connector("slack").requests_per_minute == 10
