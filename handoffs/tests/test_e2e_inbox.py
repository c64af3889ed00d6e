"""The inbox in a real browser: an urgent handoff offered to the Sales Director raises a browser
notification and counts down to its due time; filters apply as soon as they change; ? lists the
shortcuts.

Real Chromium (Playwright) against uvicorn on the pytest PostgreSQL database with Redis (see
handoffs/tests/e2e_support.py); run last with the other browser tests."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import PASSWORD, Org, signal_body
from handoffs.tests import e2e_support as e2e

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

WAIT_MS = 15_000
# The page's own Notification calls are recorded: what the browser then shows is its business.
RECORD_NOTIFICATIONS = """
window.__notes = [];
window.Notification = class {
  constructor(title, options) { window.__notes.push({ title: title, body: (options || {}).body }); }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
"""


@pytest.mark.django_db(transaction=True)
def test_an_urgent_offer_notifies_counts_down_and_filters_apply_on_change(
    server: e2e.LiveServer, browser: Any, org: Org, api_key: str
) -> None:
    from playwright.sync_api import expect

    e2e.set_server_password([org.users["sam"]], PASSWORD)
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(WAIT_MS)
    context.add_init_script(RECORD_NOTIFICATIONS)
    page = context.new_page()
    watch = e2e.ConsoleWatch("sam")
    watch.attach(page, server.url)
    try:
        with server.log_on_failure(watch):
            page.goto(f"{server.url}/accounts/login/?next=/inbox/")
            page.fill("#id_username", "sam")
            page.fill("#id_password", PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_url(f"{server.url}/inbox/")
            page.wait_for_selector("#live-status.on")
            expect(page.locator("#enable-notifications")).to_be_hidden()  # already allowed

            body = signal_body(budget=90000, key="e2e-urgent")
            status, answer = e2e.post_json(f"{server.url}/api/v1/signals/", body, api_key=api_key)
            assert status == 202, answer

            row = page.locator("#inbox-rows .row", has_text="Ada Lovelace")
            expect(row.locator(".badge")).to_have_text("Urgent")
            assert "{#" not in row.inner_text()  # template comments stay in the template
            expect(page.locator("#toasts .toast-urgent")).to_contain_text("offered to you")
            page.wait_for_function("window.__notes.length === 1")
            note = page.evaluate("window.__notes[0]")
            assert note["title"] == "Urgent handoff offered to you"
            assert "Ada Lovelace" in note["body"]
            expect(row.locator("time.due")).to_have_text(re.compile(r"^in \d+ (h \d+ )?min$"))
            e2e.screenshot(page, "e2e-inbox-urgent")

            page.select_option("select[name=trigger]", "sentiment")
            page.wait_for_url(f"{server.url}/inbox/?view=all&trigger=sentiment")
            expect(page.locator("#inbox-rows .row")).to_have_count(0)
            expect(page.locator("#inbox-tabs .count").first).to_have_text("0")
            page.select_option("select[name=trigger]", "high_value")
            page.wait_for_url(f"{server.url}/inbox/?view=all&trigger=high_value")
            expect(page.locator("#inbox-rows .row")).to_have_count(1)

            page.keyboard.press("?")
            dialog = page.locator("dialog#shortcuts")
            expect(dialog).to_be_visible()
            expect(dialog).to_contain_text("Claim the handoff")
            e2e.screenshot(page, "e2e-inbox-shortcuts")
            page.keyboard.press("Escape")
            expect(dialog).to_be_hidden()
        assert e2e.csp_violations([watch]) == []
        assert watch.problems() == []
    finally:
        context.close()
