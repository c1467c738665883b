"""The admin console in headless Chromium: sign-in, tenants, integrations, usage
charts and filtered events of a gateway that served real calls.

Screenshots of every page land in tests/artifacts/admin/.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from playwright.sync_api import Page, expect

from tests.admin.browser import chromium, screenshot_path
from tests.observability.deployment import Deployment, deployment, mcp_client


@pytest.fixture(scope="module")
def dep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployment(tmp_path_factory.mktemp("admin")) as d:

        async def calls() -> None:
            async with mcp_client(d.gateway.url, d.acme_key) as acme:
                await acme.call_tool("slack_send_message", {"channel": "C001", "text": "hi"})
                await acme.call_tool("slack_list_channels", {})
                refused = await acme.call_tool("slack_list_channels", {})
                assert refused.is_error
            async with mcp_client(d.gateway.url, d.globex_key) as globex:
                failed = await globex.call_tool(
                    "slack_send_message", {"channel": "C1", "text": "x"}
                )
                assert failed.is_error

        anyio.run(calls)
        yield d


@pytest.fixture(scope="module")
def page(dep: Deployment) -> Iterator[Page]:
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()
        context.close()


def test_sign_in_is_required_and_a_wrong_key_refused(dep: Deployment, page: Page) -> None:
    response = page.goto(f"{dep.gateway.base}/admin")
    assert response is not None and response.status == 401
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.screenshot(path=screenshot_path("01-sign-in"))
    page.fill("#key", "fgk_000000000000_not-the-admin-key-at-all")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_have_text("Unknown admin key.")
    assert page.context.cookies() == []


def test_tenants_page_shows_integrations_and_usage_charts(dep: Deployment, page: Page) -> None:
    page.goto(f"{dep.gateway.base}/admin/")
    page.fill("#key", dep.admin_key)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Tenants")).to_be_visible()
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/admin"

    acme = page.locator("#tenant-acme")
    expect(acme).to_contain_text("Acme Corp")
    expect(acme.locator(".health.healthy")).to_have_text("healthy")  # Slack answered
    expect(acme.locator(".health.unknown")).to_have_text("unknown")  # Shopify not called yet
    # The plan allows slack_list_channels once a month: that bar is full.
    full = acme.locator("svg g.bar.full")
    expect(full).to_have_count(1)
    expect(full).to_contain_text("tool slack_list_channels: calls/month")
    expect(full).to_contain_text("1 / 1")
    globex = page.locator("#tenant-globex")
    # Slack refused the token (invalid_auth): the credential, not the call, is the problem.
    expect(globex.locator(".health.credentials_expired")).to_have_text("credentials expired")
    expect(globex.locator("svg g.bar")).to_have_count(2)  # calls and Slack calls, no limits
    assert page.locator("script").count() == 0
    page.screenshot(path=screenshot_path("02-tenants"), full_page=True)


def test_tenant_page_lists_integrations_usage_and_events(dep: Deployment, page: Page) -> None:
    page.goto(f"{dep.gateway.base}/admin/")
    page.click("a[href='/admin/tenants/acme']")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Acme Corp")
    rows = page.locator("table.integrations tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Slack")).to_contain_text("healthy")
    expect(page.locator("#usage-chart svg g.bar.full")).to_have_count(1)
    events = page.locator("table.events tbody tr")
    expect(events.filter(has_text="quota_refusal")).to_have_count(1)
    expect(events.filter(has_text="slack_send_message")).to_have_count(1)
    page.screenshot(path=screenshot_path("03-tenant-acme"), full_page=True)


def test_events_filter_by_status_and_tenant(dep: Deployment, page: Page) -> None:
    page.goto(f"{dep.gateway.base}/admin/events")
    page.select_option("select[name=status]", "failure")
    page.click("form.filters button[type=submit]")
    rows = page.locator("table.events tbody tr")
    expect(rows).to_have_count(2)  # acme's quota refusal, globex's refused token
    for row in rows.all():
        expect(row).to_have_class("failure")
    expect(rows.filter(has_text="globex")).to_contain_text("invalid_auth")
    page.screenshot(path=screenshot_path("04-events-failures"), full_page=True)

    page.select_option("select[name=tenant]", "acme")
    page.select_option("select[name=status]", "")
    page.select_option("select[name=type]", "tool_call")
    page.click("form.filters button[type=submit]")
    assert "tenant=acme" in page.url and "type=tool_call" in page.url
    expect(rows).to_have_count(2)  # the message and the first channel list
    expect(rows.filter(has_text="globex")).to_have_count(0)


def test_sign_out_clears_the_cookie(dep: Deployment, page: Page) -> None:
    page.goto(f"{dep.gateway.base}/admin/")
    page.click("header .logout button")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.context.cookies() == []
