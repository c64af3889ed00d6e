"""The portal's rate limit in a real browser: a person who posts too often gets a page saying so,
with when to try again, and the page they posted from is still one Back away.

Real Chromium (Playwright) against uvicorn with Redis counters (handoffs/tests/e2e_support.py);
run last with the other browser tests."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import PASSWORD, Org
from handoffs.tests import e2e_support as e2e

SKIP_REASON = e2e.why_no_browser_run()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]


@pytest.fixture
def low_write_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server process reads its environment: two portal writes a minute."""
    monkeypatch.setenv("BATON_RATE_LIMIT_USER_WRITES_PER_MINUTE", "2")


@pytest.mark.django_db(transaction=True)
def test_a_person_over_the_write_limit_sees_a_clear_page(
    low_write_limit: None, server: e2e.LiveServer, browser: Any, org: Org
) -> None:
    from playwright.sync_api import expect

    e2e.set_server_password([org.users["riley"]], PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/accounts/login/?next=/me/availability/")
        page.fill("#id_username", "riley")
        page.fill("#id_password", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(f"{server.url}/me/availability/")

        for status in ("available", "away"):
            page.select_option("#status-page-select", status)
            page.click(".avail-status-form button[type=submit]")
            page.wait_for_url(f"{server.url}/me/availability/")
        page.select_option("#status-page-select", "offline")
        with page.expect_response(lambda r: r.url.endswith("/me/availability/status/")) as sent:
            page.click(".avail-status-form button[type=submit]")

        response = sent.value
        assert response.status == 429
        assert 1 <= int(response.headers["retry-after"]) <= 60
        expect(page.locator("h1")).to_have_text("429 · Slow down a moment")
        expect(page.locator("main")).to_contain_text("more than 2 changes this minute")
        expect(page.locator("main")).to_contain_text("Nothing was saved")
        e2e.screenshot(page, "ratelimit-429-page")
    finally:
        context.close()
