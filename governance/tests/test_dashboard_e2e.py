"""The governance dashboard in a real browser: lee logs in and lands on it, changes the team
filter (the body and the address change, not the page), reads a definition on hover and on
keyboard focus, and drills down from a number to the handoffs behind it.

Real Chromium (Playwright) against uvicorn on the pytest PostgreSQL database with Redis (see
handoffs/tests/e2e_support.py); run last with the other browser tests."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import PASSWORD, Org
from governance.dashboard.demo import seed_history
from handoffs.tests import e2e_support as e2e

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

WAIT_MS = 15_000


@pytest.mark.django_db(transaction=True)
def test_lee_lands_on_the_dashboard_filters_reads_a_definition_and_drills_down(
    server: e2e.LiveServer, browser: Any, org: Org
) -> None:
    from playwright.sync_api import expect

    assert seed_history(days=42)
    e2e.set_server_password([org.users["lee"]], PASSWORD)
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    watch = e2e.ConsoleWatch("lee")
    watch.attach(page, server.url)
    try:
        with server.log_on_failure(watch):
            page.goto(f"{server.url}/accounts/login/")
            page.fill("#id_username", "lee")
            page.fill("#id_password", PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_url(f"{server.url}/governance/")
            expect(page.locator("h1")).to_have_text("Governance dashboard")
            expect(page.locator("nav.nav a[aria-current=page]")).to_have_text("Dashboard")
            expect(page.locator("#dash-fresh")).to_contain_text(re.compile(r"updated \d+ s ago"))
            raised = page.locator("#kpi-handoff_volume ~ .kpi-value a")
            all_teams = int(raised.inner_text())
            assert all_teams > 20
            expect(page.locator(".capability")).to_have_count(6)
            e2e.screenshot(page, "dashboard-1-lee-lands")

            # A filter change swaps the body in place and keeps the address shareable.
            page.select_option("#filter-team", "success")
            page.wait_for_url(re.compile(r"/governance/\?.*team=success"))
            expect(page.locator(".dash-meta")).to_contain_text("Success")
            success = int(page.locator("#kpi-handoff_volume ~ .kpi-value a").inner_text())
            assert 0 < success < all_teams
            page.locator(".seg-item", has_text="7 days").click()
            page.wait_for_url(re.compile(r"period=7d.*team=success|team=success.*period=7d"))
            expect(page.locator(".dash-meta")).to_contain_text("Last 7 days")

            # The definition is one hover away, and one Tab away for keyboard users.
            tip = page.locator("#def-first_response")
            expect(tip).to_be_hidden()
            page.hover("#kpi-first_response + .def-wrap button.def")
            expect(tip).to_be_visible()
            expect(tip).to_contain_text("first human reply, in business time")
            e2e.screenshot(page, "dashboard-2-definition-on-hover")
            page.mouse.move(5, 5)
            expect(tip).to_be_hidden()
            page.focus("#kpi-sla_adherence + .def-wrap button.def")
            expect(page.locator("#def-sla_adherence")).to_be_visible()
            page.keyboard.press("Escape")  # dismissable without moving focus (WCAG 1.4.13)
            expect(page.locator("#def-sla_adherence")).to_be_hidden()

            # Drill down: the number links to the handoffs behind it, each to its page.
            page.select_option("#filter-team", "")
            page.wait_for_url(re.compile(r"/governance/\?period=7d(&journey=)?$|team=&"))
            page.locator(".seg-item", has_text="30 days").click()
            page.wait_for_url(re.compile(r"period=30d"))
            missed = page.locator("a", has_text=re.compile(r"^\d+ missed$"))
            count = int(missed.inner_text().split()[0])
            assert count > 0
            missed.click()
            page.wait_for_url(re.compile(r"/governance/handoffs/\?.*metric=sla_missed"))
            expect(page.locator("h1")).to_contain_text(f"Missed the SLA: {count} handoff")
            rows = page.locator("table.drill tbody tr")
            expect(rows).to_have_count(min(count, 50))
            e2e.screenshot(page, "dashboard-3-drilldown")
            rows.first.locator("a").click()
            page.wait_for_url(re.compile(r"/handoffs/\d+/$"))
        assert e2e.csp_violations([watch]) == []
        assert watch.problems() == []
    finally:
        context.close()
